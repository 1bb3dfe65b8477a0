//! The upper bound for HTTP on this machine, for `bench/run`: a bare hyper 1 server that
//! answers `<b>Hello</b> World!` (text/html) to every request, on 127.0.0.1:PORT, with tokio's
//! multi-thread runtime, HTTP/1.1 and keep-alive. No router, no middleware, no logging.
//!
//! ```sh
//! cargo run --release --example bare_hyper -- 8080
//! ```

use std::{convert::Infallible, net::SocketAddr};

use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    header::{HeaderValue, CONTENT_TYPE},
    server::conn::http1,
    service::service_fn,
    Request, Response,
};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const BODY: &[u8] = b"<b>Hello</b> World!";
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");

async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(BODY)));
    response.headers_mut().insert(CONTENT_TYPE, HTML);
    Ok(response)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1).map(|arg| arg.parse::<u16>()) {
        None => 8080,
        Some(Ok(port)) => port,
        Some(Err(error)) => {
            eprintln!("usage: bare_hyper [PORT]: {error}");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    eprintln!("bare_hyper listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        // Same as the handler: small request/response pairs, so no Nagle delay.
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}
