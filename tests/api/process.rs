//! The real `handler` binary, as the host runs it: the port it is given, the readiness probe,
//! graceful shutdown on SIGTERM with a request in flight, log lines, and bad configuration.

use std::{
    io::{Read, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

fn start(envs: &[(&str, String)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_handler"));
    command
        .env_remove("FUNCTIONS_CUSTOMHANDLER_PORT")
        .env_remove("PORT")
        .env_remove("LOG_FORMAT")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.spawn().expect("start handler")
}

/// Polls `GET /` like the host does (every 25 ms) until any HTTP response arrives.
fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(response) = http(
            port,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ) {
            if response.starts_with("HTTP/1.1 ") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("handler did not answer GET / on port {port}");
}

fn http(port: u16, request: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("handler did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output(child: Child) -> (String, String) {
    let output = child.wait_with_output().expect("output");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn listens_on_the_hosts_port_and_finishes_in_flight_requests_on_sigterm() {
    let port = free_port();
    let decoy = free_port();
    let mut child = start(&[
        ("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string()),
        ("PORT", decoy.to_string()),
    ]);
    wait_ready(port);
    assert!(
        TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], decoy))).is_err(),
        "PORT must be ignored when the host sets FUNCTIONS_CUSTOMHANDLER_PORT"
    );

    // A request whose body is still arriving when SIGTERM comes.
    let mut in_flight = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    in_flight
        .write_all(b"POST /api/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 8\r\n\r\nname=A")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    terminate(&child);
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    in_flight.write_all(b"da").unwrap();
    let mut response = String::new();
    in_flight.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("<b>Hello</b> Ada!"), "{response}");

    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");
}

#[test]
fn logs_one_json_line_per_request_with_the_invocation_id_and_no_secrets() {
    let port = free_port();
    let mut child = start(&[
        ("PORT", port.to_string()),
        ("LOG_FORMAT", "json".to_owned()),
    ]);
    wait_ready(port);
    let response = http(
        port,
        "GET /api/hello?name=Ada&code=SECRET-KEY&app_key=ALSO-SECRET HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Azure-Functions-InvocationId: inv-1234\r\n\r\n",
    )
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    terminate(&child);
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0));
    let (stdout, _stderr) = output(child);

    assert!(
        !stdout.contains("SECRET"),
        "a secret reached the log:\n{stdout}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let request_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["invocation_id"] == "inv-1234")
        .collect();
    assert_eq!(request_lines.len(), 1, "one line per request:\n{stdout}");
    let line = request_lines[0];
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].is_number());
    assert_eq!(
        line["path"],
        "/api/hello?name=Ada&code=REDACTED&app_key=REDACTED"
    );
}

#[test]
fn bad_configuration_exits_2_naming_the_setting() {
    let child = start(&[("FUNCTIONS_CUSTOMHANDLER_PORT", "not-a-port".to_owned())]);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("FUNCTIONS_CUSTOMHANDLER_PORT"), "{stderr}");
}

#[test]
fn a_busy_port_is_a_clear_failure() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let child = start(&[("PORT", port.to_string())]);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("cannot listen"), "{stdout}");
}

/// One request over a fresh connection; returns the status code and body.
fn call(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = http(port, &request).expect("response");
    let status = response[9..12].parse().expect("status");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn token_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).expect("login JSON");
    json["token"].as_str().expect("token").to_owned()
}

#[test]
fn no_password_hash_or_token_reaches_the_logs() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = start(&[
        ("PORT", port.to_string()),
        ("LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "trace".to_owned()),
        ("DATA_DIR", data.path().display().to_string()),
    ]);
    wait_ready(port);
    let password = "a very secret passphrase 1";
    let new_password = "another secret passphrase 2";
    let credentials = format!(r#"{{"username":"ada","password":"{password}"}}"#);
    assert_eq!(call(port, "POST", "/api/users", None, &credentials).0, 201);
    let wrong = r#"{"username":"ada","password":"the wrong passphrase 3"}"#;
    assert_eq!(call(port, "POST", "/api/users/login", None, wrong).0, 401);
    let (status, body) = call(
        port,
        "POST",
        "/api/users/login?password=in-the-query-4",
        None,
        &credentials,
    );
    assert_eq!(status, 200);
    let token = token_of(&body);
    let (_, second) = call(port, "POST", "/api/users/login", None, &credentials);
    let other_token = token_of(&second);
    assert_eq!(
        call(
            port,
            "POST",
            "/api/records",
            Some(&token),
            r#"{"name":"apple","price":1}"#
        )
        .0,
        201
    );
    assert_eq!(
        call(port, "PUT", "/api/upload/a.txt", Some(&token), "hello").0,
        201
    );
    assert_eq!(call(port, "GET", "/api/users/me", Some(&token), "").0, 200);
    let change = format!(r#"{{"password":"{new_password}","currentPassword":"{password}"}}"#);
    assert_eq!(
        call(port, "PATCH", "/api/users/me", Some(&token), &change).0,
        200
    );
    assert_eq!(
        call(
            port,
            "GET",
            "/api/users/me?token=query-token-5",
            Some(&other_token),
            ""
        )
        .0,
        401
    );
    let erase = format!(r#"{{"password":"{new_password}"}}"#);
    assert_eq!(
        call(port, "DELETE", "/api/users/me", Some(&token), &erase).0,
        204
    );

    terminate(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    let (stdout, stderr) = output(child);
    let logs = format!("{stdout}\n{stderr}");
    assert!(
        logs.lines().count() > 10,
        "the walkthrough was logged:\n{logs}"
    );
    for secret in [
        password,
        new_password,
        "the wrong passphrase 3",
        "in-the-query-4",
        "query-token-5",
        &token,
        &other_token,
        "$argon2id",
    ] {
        assert!(
            !logs.contains(secret),
            "{secret:?} reached the logs:\n{logs}"
        );
    }
}

#[test]
fn lines_dropped_under_backlog_are_counted_and_reported() {
    let port = free_port();
    // stdout is piped and not read: once the pipe is full the log writer blocks, and with
    // enough requests its buffer (16 Ki lines) fills and lines are dropped.
    let mut child = start(&[
        ("PORT", port.to_string()),
        ("LOG_FORMAT", "json".to_owned()),
    ]);
    wait_ready(port);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream =
                    TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut buffer = [0; 4096];
                for _ in 0..5_000 {
                    stream
                        .write_all(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
                        .unwrap();
                    let read = stream.read(&mut buffer).unwrap();
                    assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("requests");
    }
    // Start draining stdout, then one more request: its line comes after the report.
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(stdout).read_to_string(&mut text);
        text
    });
    std::thread::sleep(Duration::from_millis(500));
    let response = http(
        port,
        "GET /api/hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"));
    terminate(&child);
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    let stdout = reader.join().unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let dropped = lines
        .iter()
        .filter_map(|line| line["dropped_lines_total"].as_u64())
        .max()
        .expect("a line says that lines were dropped");
    let hello_lines = lines
        .iter()
        .filter(|line| line["path"] == "/api/hello")
        .count() as u64;
    assert!(hello_lines < 20_001, "nothing was dropped");
    assert!(
        hello_lines + dropped >= 20_001,
        "{hello_lines} lines written, {dropped} counted as dropped: some were lost uncounted"
    );
}

#[test]
fn an_unusable_data_dir_exits_2_naming_it() {
    // A file where the directory should be: nothing can be created under it.
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let child = start(&[
        ("PORT", free_port().to_string()),
        ("DATA_DIR", file.join("data").display().to_string()),
    ]);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATA_DIR="), "{stderr}");
}
