//! The TfL app key, end to end through the real binary: it is sent to TfL as `app_key`, and it
//! never appears in a log line (at debug level, through every failure path) or a response.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::common::{
    self,
    tfl::{self, fixture, fixture_json, json},
};
use wiremock::{
    matchers::{method, path, query_param},
    Mock, MockServer, ResponseTemplate,
};

const KEY: &str = "k3y-SHOULD-NEVER-BE-LOGGED-5f2a";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn start(port: u16, tfl_base: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_handler"))
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        // Everything our code logs, and reqwest's and hyper's debug lines too.
        .env("RUST_LOG", "debug")
        .env("TFL_API_BASE", tfl_base)
        .env("TFL_APP_KEY", KEY)
        .env("TFL_TIMEOUT_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start handler")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..800 {
        if client.get(format!("{base}/")).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("handler did not answer GET /");
}

/// SIGTERM, then everything the process wrote.
async fn stop(child: Child) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn the_app_key_is_sent_to_tfl_and_never_logged_or_returned() {
    let server = MockServer::start().await;
    let ok = "/Line/Mode/tube,overground/Status";
    Mock::given(method("GET"))
        .and(path(ok))
        .and(query_param("app_key", KEY))
        .respond_with(json(200, fixture(tfl::LINES_BY_MODE)))
        .expect(1)
        .mount(&server)
        .await;
    let failures = [
        (
            "/Line/Mode/dlr/Status",
            ResponseTemplate::new(500).set_body_string(format!("upstream saw app_key={KEY}")),
        ),
        (
            "/Line/Mode/bus/Status",
            ResponseTemplate::new(429).set_body_string("Invalid app_key is provided."),
        ),
        (
            "/Line/Mode/tram/Status",
            ResponseTemplate::new(200).set_body_string("<html>oops</html>"),
        ),
        (
            "/Line/Mode/river-bus/Status",
            json(200, fixture(tfl::LINES_BY_MODE)).set_delay(Duration::from_secs(6)),
        ),
    ];
    for (failing, response) in failures {
        Mock::given(method("GET"))
            .and(path(failing))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    // TfL's 400 may echo the request; the key must be scrubbed from the message we pass on.
    let mut echo = fixture_json(tfl::NOT_FOUND_STOP_POINT);
    echo["httpStatusCode"] = 400.into();
    echo["exceptionType"] = "ApiArgumentException".into();
    echo["message"] = format!("Bad request: /Line/Mode/x/Status?app_key={KEY}").into();
    Mock::given(method("GET"))
        .and(path("/Line/Mode/cable-car/Status"))
        .respond_with(json(400, echo.to_string().into_bytes()))
        .mount(&server)
        .await;

    let port = free_port();
    let child = start(port, &server.uri());
    let client = common::http_client();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &base).await;

    let mut bodies = String::new();
    for (query, status) in [
        ("", 200),
        ("?mode=dlr", 502),
        ("?mode=bus", 503),
        ("?mode=tram", 502),
        ("?mode=river-bus", 504),
        ("?mode=cable-car", 400),
    ] {
        let reply = client
            .get(format!("{base}/api/status{query}"))
            .send()
            .await
            .expect("reply");
        assert_eq!(reply.status().as_u16(), status, "{query}");
        bodies.push_str(&reply.text().await.expect("body"));
    }
    let logs = stop(child).await;
    server.verify().await;

    assert!(
        !bodies.contains(KEY),
        "the key reached a response:\n{bodies}"
    );
    assert!(!logs.contains(KEY), "the key reached the log:\n{logs}");
    // The failures were logged (with their causes), so the check above had something to read.
    assert!(logs.contains("request failed upstream"), "{logs}");
    assert!(logs.contains("Invalid app_key is provided."), "{logs}");
}

#[tokio::test]
async fn connect_errors_do_not_log_the_key_either() {
    let closed = free_port(); // bound then released: nothing listens there
    let port = free_port();
    let child = start(port, &format!("http://127.0.0.1:{closed}"));
    let client = common::http_client();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&client, &base).await;
    let reply = client
        .get(format!("{base}/api/bikepoint/187"))
        .send()
        .await
        .expect("reply");
    assert_eq!(reply.status(), reqwest::StatusCode::BAD_GATEWAY);
    let body = reply.text().await.expect("body");
    let logs = stop(child).await;
    assert!(!body.contains(KEY) && !logs.contains(KEY), "{body}\n{logs}");
    assert!(
        logs.contains("retrying once"),
        "a connect error is retried once:\n{logs}"
    );
    assert!(logs.contains("cannot reach TfL"), "{logs}");
}
