//! `status` against a local TfL replaying recorded responses: the short map, text and detail
//! forms, validation before any upstream call, every upstream failure mapped to its status,
//! and the cache (hits, single flight under 200 concurrent requests, stale on error).

use std::time::Duration;

use crate::common::{
    self,
    tfl::{self, app_for, fixture, fixture_json, json, serve, upstream_calls},
    Mode, BOTH_MODES,
};
use reqwest::{Method, StatusCode};
use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

const BY_MODE: &str = "/Line/Mode/tube,overground/Status";

#[tokio::test]
async fn the_default_is_tube_and_overground_as_a_short_map_in_both_modes() {
    let server = MockServer::start().await;
    // Recorded for tube,overground,dlr,elizabeth-line; the shape is what matters here.
    serve(&server, BY_MODE, json(200, fixture(tfl::LINES_BY_MODE)), 1).await;
    let app = app_for(&server, &[]).await;

    for mode in BOTH_MODES {
        let reply = app
            .call(mode, "status", Method::GET, "/api/status", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}: {}", reply.text());
        assert!(reply.content_type.starts_with("application/json"));
        let body = reply.json();
        assert_eq!(body["Bakerloo"], "Good Service");
        assert_eq!(body["District"], "Part Suspended");
        // TfL lists Severe Delays (6) before Part Suspended (3): worst first means 3 first.
        assert_eq!(body["Piccadilly"], "Part Suspended, Severe Delays");
        assert_eq!(body.as_object().unwrap().len(), 14);
        let cache_control = reply.header("cache-control").expect("Cache-Control");
        assert!(
            cache_control.starts_with("public, max-age="),
            "{cache_control}"
        );
        assert!(reply.header("age").is_some());
    }
    // The second call (payload mode) was a cache hit: one upstream call in all.
    server.verify().await;
}

#[tokio::test]
async fn format_text_prints_name_status_lines_in_tfl_order() {
    let server = MockServer::start().await;
    serve(&server, BY_MODE, json(200, fixture(tfl::LINES_BY_MODE)), 1).await;
    let app = app_for(&server, &[]).await;

    let reply = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status?format=text",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.content_type, "text/plain; charset=utf-8");
    let text = reply.text();
    let names: Vec<String> = fixture_json(tfl::LINES_BY_MODE)
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["name"].as_str().unwrap().to_owned())
        .collect();
    let printed: Vec<&str> = text
        .lines()
        .map(|line| line.split_once(": ").expect("Name: Status").0)
        .collect();
    assert_eq!(printed, names, "TfL's order");
    assert!(text.starts_with("Bakerloo: Good Service\n"), "{text}");
    assert!(
        text.contains("\nPiccadilly: Part Suspended, Severe Delays\n"),
        "{text}"
    );
}

#[tokio::test]
async fn lines_are_case_insensitive_and_detail_shows_a_planned_closure() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/Line/circle/Status",
        json(200, fixture(tfl::CIRCLE_PART_CLOSURE)),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;

    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "status",
                Method::GET,
                "/api/status?lines=Circle,circle&detail=true",
                None,
                b"",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}: {}", reply.text());
        let body = reply.json();
        let lines = body.as_array().expect("detail is an array");
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["id"], "circle");
        assert_eq!(lines[0]["name"], "Circle");
        assert_eq!(lines[0]["mode"], "tube");
        let status = &lines[0]["statuses"][0];
        assert_eq!(status["severity"], 5);
        assert_eq!(status["description"], "Part Closure");
        assert!(status["reason"]
            .as_str()
            .unwrap()
            .starts_with("CIRCLE LINE: Saturday 19"));
        assert_eq!(status["validFrom"], "2019-10-19T04:30:00Z");
        assert_eq!(status["validTo"], "2019-10-21T01:29:00Z");
        assert_eq!(status["isNow"], false);
    }
    // Short and detail forms share the cached upstream answer.
    let reply = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status?lines=circle",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.json()["Circle"], "Part Closure");
    assert_eq!(reply.header("x-cache"), Some("HIT"));
    server.verify().await;
}

#[tokio::test]
async fn good_service_service_closed_and_no_status_at_all() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/Line/bakerloo/Status",
        json(200, fixture(tfl::BAKERLOO_GOOD)),
        1,
    )
    .await;
    serve(
        &server,
        "/Line/waterloo-city/Status",
        json(200, fixture(tfl::WATERLOO_CITY_CLOSED)),
        1,
    )
    .await;
    // Derived from the Bakerloo recording: TfL sends `lineStatuses: []` for a line with none.
    let mut no_status = fixture_json(tfl::BAKERLOO_GOOD);
    no_status[0]["lineStatuses"] = serde_json::json!([]);
    serve(
        &server,
        "/Line/bakerloo,73/Status",
        json(200, no_status.to_string().into_bytes()),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;

    let get = |query: &'static str| {
        let app = &app;
        async move {
            app.call(Mode::Proxied, "status", Method::GET, query, None, b"")
                .await
        }
    };
    assert_eq!(
        get("/api/status?lines=bakerloo").await.json()["Bakerloo"],
        "Good Service"
    );
    assert_eq!(
        get("/api/status?lines=waterloo-city").await.json()["Waterloo & City"],
        "Service Closed"
    );
    let reply = get("/api/status?lines=bakerloo,73&format=text").await;
    assert_eq!(reply.text(), "Bakerloo: Unknown\n");
    server.verify().await;
}

#[tokio::test]
async fn bad_parameters_are_refused_before_tfl_is_called() {
    let server = MockServer::start().await;
    let app = app_for(&server, &[]).await;
    let long = ["tube"; 21].join(",");
    let cases = [
        ("/api/status?mode=tube;dlr".to_owned(), "tube;dlr"),
        ("/api/status?lines=circle,ci%2Frcle".to_owned(), "ci/rcle"),
        ("/api/status?lines=circle,,jubilee".to_owned(), "empty"),
        (
            format!("/api/status?mode={}", "a".repeat(41)),
            "longer than 40",
        ),
        (format!("/api/status?mode={long}"), "at most 20"),
        ("/api/status?mode=tube&lines=circle".to_owned(), "not both"),
        ("/api/status?detail=true&format=text".to_owned(), "detail"),
        ("/api/status?format=xml".to_owned(), "xml"),
        ("/api/status?detail=maybe".to_owned(), "maybe"),
    ];
    for mode in BOTH_MODES {
        for (query, named) in &cases {
            let reply = app
                .call(mode, "status", Method::GET, query, None, b"")
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{mode:?} {query}: {}",
                reply.text()
            );
            assert_eq!(reply.error_code(), "invalid_input");
            let message = reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.contains(named), "{query}: {message}");
        }
    }
    // Unknown parameters are ignored, not refused.
    assert_eq!(
        upstream_calls(&server).await,
        0,
        "nothing invalid reached TfL"
    );
}

/// Each upstream failure, and what our caller sees.
#[tokio::test]
async fn upstream_failures_map_to_documented_statuses() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/Line/nope/Status",
        json(404, fixture(tfl::NOT_FOUND_WITH_BOM)),
        1,
    )
    .await;
    serve(
        &server,
        "/Line/gone/Status",
        json(200, fixture(tfl::NOT_FOUND_STOP_POINT)),
        1,
    )
    .await;
    // TfL's 400 shape (derived from the recorded ApiError): the message passes through.
    let mut bad_request = fixture_json(tfl::NOT_FOUND_STOP_POINT);
    bad_request["httpStatusCode"] = 400.into();
    bad_request["httpStatus"] = "BadRequest".into();
    bad_request["exceptionType"] = "ApiArgumentException".into();
    bad_request["message"] = "The following mode id is not recognised: spaceship".into();
    serve(
        &server,
        "/Line/Mode/spaceship/Status",
        json(400, bad_request.to_string().into_bytes()),
        1,
    )
    .await;
    serve(
        &server,
        "/Line/Mode/bus/Status",
        ResponseTemplate::new(429)
            .set_body_raw("Invalid app_key is provided.", "text/plain")
            .insert_header("retry-after", "45"),
        1,
    )
    .await;
    serve(
        &server,
        "/Line/Mode/river-bus/Status",
        ResponseTemplate::new(429).set_body_string("Too many"),
        1,
    )
    .await;
    // 5xx is retried once, then 502.
    serve(
        &server,
        "/Line/Mode/dlr/Status",
        ResponseTemplate::new(503),
        2,
    )
    .await;
    serve(
        &server,
        "/Line/Mode/tram/Status",
        ResponseTemplate::new(200).set_body_raw("<html>Service Unavailable</html>", "text/html"),
        1,
    )
    .await;
    serve(
        &server,
        "/Line/Mode/cable-car/Status",
        json(200, br#"{"unexpected": true}"#.to_vec()),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;

    let cases: [(&str, u16, &str); 8] = [
        ("lines=nope", 404, "not recognised: a"),
        ("lines=gone", 404, "not recognised"),
        ("mode=spaceship", 400, "not recognised: spaceship"),
        ("mode=bus", 503, ""),
        ("mode=river-bus", 503, ""),
        ("mode=dlr", 502, ""),
        ("mode=tram", 502, ""),
        ("mode=cable-car", 502, ""),
    ];
    for (query, status, message) in cases {
        let reply = app
            .call(
                Mode::Proxied,
                "status",
                Method::GET,
                &format!("/api/status?{query}"),
                None,
                b"",
            )
            .await;
        assert_eq!(reply.status.as_u16(), status, "{query}: {}", reply.text());
        reply.error_code();
        let text = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(text.contains(message), "{query}: {text}");
        assert!(
            !text.contains("127.0.0.1") && !text.contains("/Line/"),
            "{query}: {text}"
        );
        if status == 503 {
            let retry_after = reply.header("retry-after").expect("Retry-After");
            let expected = if query == "mode=bus" { "45" } else { "30" };
            assert_eq!(retry_after, expected, "{query}");
        }
    }
    server.verify().await;
}

#[tokio::test]
async fn a_slow_tfl_is_a_504_within_the_budget() {
    let server = MockServer::start().await;
    serve(
        &server,
        BY_MODE,
        json(200, fixture(tfl::LINES_BY_MODE)).set_delay(Duration::from_secs(5)),
        2, // one per request: a timeout is not retried, and a failure is not cached
    )
    .await;
    let app = app_for(&server, &[("TFL_TIMEOUT_MS", "300")]).await;
    for mode in BOTH_MODES {
        let started = std::time::Instant::now();
        let reply = app
            .call(mode, "status", Method::GET, "/api/status", None, b"")
            .await;
        assert_eq!(
            reply.status,
            StatusCode::GATEWAY_TIMEOUT,
            "{}",
            reply.text()
        );
        assert_eq!(reply.error_code(), "timeout");
        // Not a timing test: only "well before the 5 s TfL would take".
        assert!(started.elapsed() < Duration::from_secs(4));
    }
}

#[tokio::test]
async fn an_unreachable_tfl_is_a_502() {
    let app = common::spawn_app().await; // TFL_API_BASE is a closed port
    let reply = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());
    assert_eq!(reply.error_code(), "bad_gateway");
}

#[tokio::test]
async fn two_hundred_concurrent_requests_on_a_cold_cache_make_one_upstream_call() {
    let server = MockServer::start().await;
    // The delay keeps the first call in flight while the other 199 arrive.
    serve(
        &server,
        BY_MODE,
        json(200, fixture(tfl::LINES_BY_MODE)).set_delay(Duration::from_millis(500)),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;
    let requests = (0..200).map(|_| app.client.get(format!("{}/api/status", app.base)).send());
    let replies = futures_join_all(requests).await;
    for reply in replies {
        let reply = reply.expect("reply");
        assert_eq!(reply.status(), StatusCode::OK);
        let body: serde_json::Value = reply.json().await.unwrap();
        assert_eq!(body["Piccadilly"], "Part Suspended, Severe Delays");
    }
    assert_eq!(upstream_calls(&server).await, 1);
    server.verify().await;
}

/// Joins futures without pulling in the `futures` crate: spawn each, await in order.
async fn futures_join_all<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_stale_answer_is_served_when_tfl_fails() {
    let server = MockServer::start().await;
    // First answer: fresh for 0 s (TfL's max-age), so the next call goes upstream again.
    Mock::given(method("GET"))
        .and(path(BY_MODE))
        .respond_with(
            json(200, fixture(tfl::LINES_BY_MODE))
                .insert_header("cache-control", "public, max-age=0"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    for failing in [BY_MODE, "/Line/Mode/dlr/Status"] {
        Mock::given(method("GET"))
            .and(path(failing))
            .respond_with(ResponseTemplate::new(500))
            .mount(&server)
            .await;
    }
    let app = app_for(&server, &[]).await;

    let first = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status",
            None,
            b"",
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.header("x-cache"), Some("MISS"));
    assert_eq!(first.header("cache-control"), Some("public, max-age=0"));

    for mode in BOTH_MODES {
        let reply = app
            .call(mode, "status", Method::GET, "/api/status", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}: {}", reply.text());
        assert_eq!(reply.header("x-cache"), Some("STALE"));
        assert_eq!(reply.header("cache-control"), Some("public, max-age=0"));
        assert_eq!(reply.json()["Piccadilly"], "Part Suspended, Severe Delays");
    }
    // Without a stale entry the same failure is an error.
    let reply = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status?mode=dlr",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());
}

#[tokio::test]
async fn tfl_max_age_and_age_carry_through_to_our_headers() {
    let server = MockServer::start().await;
    serve(
        &server,
        BY_MODE,
        json(200, fixture(tfl::LINES_BY_MODE))
            .insert_header(
                "cache-control",
                "public, must-revalidate, max-age=30, s-maxage=60",
            )
            .insert_header("age", "10"),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;
    for (mode, source) in [(Mode::Proxied, "MISS"), (Mode::Payload, "HIT")] {
        let reply = app
            .call(mode, "status", Method::GET, "/api/status", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("x-cache"), Some(source));
        assert_eq!(reply.header("age"), Some("10"), "{mode:?}");
        // 30 s minus 10 s minus the moments since, in whole seconds.
        let cache_control = reply.header("cache-control").unwrap();
        assert!(
            ["public, max-age=19", "public, max-age=20"].contains(&cache_control),
            "{mode:?}: {cache_control}"
        );
    }
    server.verify().await;
}

#[tokio::test]
async fn the_retry_never_runs_past_the_budget() {
    let server = MockServer::start().await;
    // The first attempt uses 850 of the 1000 ms; a retry needs a pause of at least 100 ms plus
    // 100 ms to work in, so it must not start.
    serve(
        &server,
        BY_MODE,
        ResponseTemplate::new(500).set_delay(Duration::from_millis(850)),
        1,
    )
    .await;
    let app = app_for(&server, &[("TFL_TIMEOUT_MS", "1000")]).await;
    let reply = app
        .call(
            Mode::Proxied,
            "status",
            Method::GET,
            "/api/status",
            None,
            b"",
        )
        .await;
    // 502 as a rule; 504 only if a loaded machine stretched the first attempt past the budget.
    // Either way there was exactly one upstream call.
    assert!(
        [StatusCode::BAD_GATEWAY, StatusCode::GATEWAY_TIMEOUT].contains(&reply.status),
        "{}",
        reply.text()
    );
    server.verify().await;
}

#[tokio::test]
async fn a_rate_limit_says_retry_after_in_the_payload_mode_too() {
    let server = MockServer::start().await;
    serve(
        &server,
        BY_MODE,
        ResponseTemplate::new(429).set_body_raw("Invalid app_key is provided.", "text/plain"),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;
    let reply = app
        .call(
            Mode::Payload,
            "status",
            Method::GET,
            "/api/status",
            None,
            b"",
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text()
    );
    assert_eq!(reply.error_code(), "service_unavailable");
    assert_eq!(reply.header("retry-after"), Some("30"));
    assert!(!reply.text().contains("app_key"), "{}", reply.text());
    server.verify().await;
}

/// `scripts/tfl-replay` on a free port, stopped when dropped.
struct Replay(std::process::Child, String);

impl Drop for Replay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_replay() -> Replay {
    use std::io::BufRead;
    let mut child = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tfl-replay"))
        .args(["--port", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 scripts/tfl-replay");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let base = first
        .trim()
        .strip_prefix("TFL_API_BASE=")
        .unwrap_or_else(|| panic!("the replay printed {first:?}"))
        .to_owned();
    Replay(child, base)
}

#[tokio::test]
async fn the_offline_replay_serves_status_and_bikepoint_by_tfls_paths() {
    let replay = start_replay();
    let app = crate::common::spawn_app_with(&[("TFL_API_BASE", replay.1.clone())]).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();
    let status = get("/api/status").await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let body: serde_json::Value = status.json().await.unwrap();
    assert!(body["Bakerloo"].is_string(), "{body}");
    let one = get("/api/status?lines=circle&detail=true").await.unwrap();
    assert_eq!(one.status(), StatusCode::OK);
    assert_eq!(
        get("/api/status?lines=nope").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let dock = get("/api/bikepoint/187").await.unwrap();
    assert_eq!(dock.status(), StatusCode::OK);
    assert_eq!(
        get("/api/bikepoint/99999").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
}
