//! Bounded resources under abuse: slow and idle clients are cut off, connections over the cap
//! wait without disturbing established ones, and a flood of password checks is refused at
//! once rather than queued without end. Time limits here are set to a second so the tests
//! are quick; what they assert is what happens, never how fast.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::common::{spawn_app_with, TestApp};

/// Long enough for any of these connections to have been closed by the server.
const PATIENCE: Duration = Duration::from_secs(20);

async fn app_with(settings: &[(&'static str, &str)]) -> TestApp {
    let settings: Vec<(&str, String)> = settings
        .iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect();
    spawn_app_with(&settings).await
}

/// Reads until the server closes the connection; what it sent on the way.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(closed.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&received).into_owned()
}

const HELLO: &[u8] = b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n";

async fn read_response(stream: &mut TcpStream) -> String {
    let mut buffer = vec![0; 4096];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
        .await
        .expect("an answer")
        .expect("read");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

#[tokio::test]
async fn a_half_sent_header_is_cut_off() {
    let app = app_with(&[("HEADER_TIMEOUT", "1")]).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /api/hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    read_until_closed(&mut stream).await;
    // The server is as good as before for everyone else.
    let response = reqwest::get(format!("{}/api/hello", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = app_with(&[("HEADER_TIMEOUT", "1")]).await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream.write_all(HELLO).await.unwrap();
    assert!(read_response(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Nothing more is sent: the connection is not kept for ever.
    read_until_closed(&mut stream).await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_fails_and_a_slow_one_that_keeps_coming_does_not() {
    let app = app_with(&[("BODY_TIMEOUT", "1")]).await.signed_in().await;
    let token = app.token.clone().unwrap();
    let head = |length: usize| {
        format!(
            "PUT /api/upload/slow.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: text/plain\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        )
    };

    let mut stalled = TcpStream::connect(app.address).await.unwrap();
    stalled.write_all(head(100).as_bytes()).await.unwrap();
    stalled.write_all(b"only ten b").await.unwrap();
    let answer = read_until_closed(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    let listed = app
        .client
        .get(format!("{}/api/upload/slow.txt", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::NOT_FOUND, "nothing was stored");

    // Ten bytes, one every half second: slower in total than the limit, never silent for it.
    let mut trickle = TcpStream::connect(app.address).await.unwrap();
    trickle.write_all(head(10).as_bytes()).await.unwrap();
    for byte in b"0123456789" {
        tokio::time::sleep(Duration::from_millis(500)).await;
        trickle.write_all(&[*byte]).await.unwrap();
    }
    let answer = read_until_closed(&mut trickle).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    // A JSON body that stops is a 408.
    let mut record = TcpStream::connect(app.address).await.unwrap();
    record
        .write_all(
            format!(
                "POST /api/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{{\"name\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let answer = read_response(&mut record).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_over_the_cap_wait_and_established_ones_are_undisturbed() {
    let app = app_with(&[("MAX_CONNECTIONS", "2")]).await;
    let mut first = TcpStream::connect(app.address).await.unwrap();
    let mut second = TcpStream::connect(app.address).await.unwrap();
    for stream in [&mut first, &mut second] {
        stream.write_all(HELLO).await.unwrap();
        assert!(read_response(stream).await.starts_with("HTTP/1.1 200"));
    }
    // A third connects (the kernel's backlog takes it) but is not served yet.
    let mut third = TcpStream::connect(app.address).await.unwrap();
    third.write_all(HELLO).await.unwrap();
    let mut buffer = [0; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection over the cap was served");
    // The established ones carry on.
    for stream in [&mut first, &mut second] {
        stream.write_all(HELLO).await.unwrap();
        assert!(read_response(stream).await.starts_with("HTTP/1.1 200"));
    }
    // One leaves; the waiting one is served.
    drop(first);
    assert!(read_response(&mut third).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_stops_reading_loses_its_connection() {
    let app = app_with(&[("BODY_TIMEOUT", "1"), ("MAX_CONNECTIONS", "1")])
        .await
        .signed_in()
        .await;
    app.client
        .put(format!("{}/api/upload/big.bin", app.base))
        .body(vec![b'x'; 16 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    let token = app.token.clone().unwrap();
    // Asks for 16 MiB, more than the socket buffers hold, and reads none of it.
    let mut greedy = TcpStream::connect(app.address).await.unwrap();
    greedy
        .write_all(
            format!(
                "GET /api/upload/big.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // The only place under the cap is taken until the server gives up on that client.
    let mut next = TcpStream::connect(app.address).await.unwrap();
    next.write_all(HELLO).await.unwrap();
    assert!(read_response(&mut next).await.starts_with("HTTP/1.1 200"));
    drop(greedy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_password_checks_is_refused_at_once_not_queued() {
    let app = app_with(&[]).await;
    app.register_and_login("flooded").await;
    let base = app.base.clone();
    // Each name is new, so no lockout intervenes: every one would be a hash. Meanwhile the
    // owner of a real account logs in with the right password.
    let owner = join_all((0..8).map(|_| {
        let base = base.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{base}/api/users/login"))
                .json(&json!({"username": "flooded", "password": crate::common::PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }
    }));
    let flood = join_all((0..200).map(|i| {
        let base = base.clone();
        async move {
            let response = reqwest::Client::new()
                .post(format!("{base}/api/users/login"))
                .json(&json!({"username": format!("flood-{i}"), "password": "not the password"}))
                .send()
                .await
                .unwrap();
            let retry_after = response.headers().contains_key("retry-after");
            (response.status(), retry_after)
        }
    }));
    let (owner, statuses) = tokio::join!(owner, flood);
    assert!(
        owner
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "{owner:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|(status, _)| *status == StatusCode::UNAUTHORIZED
                || *status == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    let refused: Vec<_> = statuses
        .iter()
        .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!refused.is_empty(), "the queue never filled");
    assert!(refused.iter().all(|(_, retry_after)| *retry_after));
    // Once the flood is over, a login works as usual, and a check refused with 503 (never
    // run) spent none of the owner's allowance.
    app.register_and_login("after-the-flood").await;
    app.login("flooded").await;
}
