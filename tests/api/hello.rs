//! `hello` in both of the host's request modes: default, escaping, limits and body forms.

use crate::common::{multipart_field, spawn_app, Mode, BOTH_MODES};
use reqwest::{Method, StatusCode};

const HTML: &str = "text/html; charset=utf-8";

#[tokio::test]
async fn greets_by_name() {
    let app = spawn_app().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(mode, "hello", Method::GET, "/api/hello?name=Ada", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}");
        assert_eq!(reply.content_type, HTML, "{mode:?}");
        assert_eq!(reply.text(), "<b>Hello</b> Ada!", "{mode:?}");
    }
}

#[tokio::test]
async fn defaults_to_world_when_absent_or_empty() {
    let app = spawn_app().await;
    for mode in BOTH_MODES {
        for path in ["/api/hello", "/api/hello?name=", "/api/hello?other=1"] {
            let reply = app.call(mode, "hello", Method::GET, path, None, b"").await;
            assert_eq!(reply.status, StatusCode::OK, "{mode:?} {path}");
            assert_eq!(reply.text(), "<b>Hello</b> World!", "{mode:?} {path}");
        }
    }
}

#[tokio::test]
async fn markup_in_the_name_comes_back_inert() {
    let app = spawn_app().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "hello",
                Method::GET,
                "/api/hello?name=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E%26",
                None,
                b"",
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}");
        let html = reply.text();
        assert!(!html.contains("<script>"), "{mode:?}: {html}");
        assert!(!html.contains('"'), "{mode:?}: {html}");
        assert!(
            html.starts_with("<b>Hello</b> &lt;script&gt;alert("),
            "{mode:?}: {html}"
        );
        assert!(html.ends_with("&amp;!"), "{mode:?}: {html}");
    }
}

#[tokio::test]
async fn names_over_100_characters_are_refused() {
    let app = spawn_app().await;
    let hundred_multibyte = "%C3%A9".repeat(100);
    for mode in BOTH_MODES {
        let ok = app
            .call(
                mode,
                "hello",
                Method::GET,
                &format!("/api/hello?name={hundred_multibyte}"),
                None,
                b"",
            )
            .await;
        assert_eq!(
            ok.status,
            StatusCode::OK,
            "{mode:?}: 100 characters are fine"
        );

        let too_long = app
            .call(
                mode,
                "hello",
                Method::GET,
                &format!("/api/hello?name={}", "a".repeat(101)),
                None,
                b"",
            )
            .await;
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{mode:?}");
        assert_eq!(too_long.error_code(), "invalid_input");
        assert!(
            too_long.text().contains("100 characters"),
            "{}",
            too_long.text()
        );
    }
}

#[tokio::test]
async fn post_takes_the_name_from_a_form_json_or_multipart_body() {
    let app = spawn_app().await;
    let (multipart_type, multipart_body) = multipart_field("name", "Grace");
    let cases: [(&str, &[u8], &str); 4] = [
        ("application/x-www-form-urlencoded", b"name=Ada+L", "Ada L"),
        ("application/json", br#"{"name": "Linus"}"#, "Linus"),
        (
            "application/json; charset=utf-8",
            br#"{"name": "<i>"}"#,
            "&lt;i&gt;",
        ),
        (&multipart_type, &multipart_body, "Grace"),
    ];
    for mode in BOTH_MODES {
        for (content_type, body, expected) in cases {
            let reply = app
                .call(
                    mode,
                    "hello",
                    Method::POST,
                    "/api/hello",
                    Some(content_type),
                    body,
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{mode:?} {content_type}: {}",
                reply.text()
            );
            assert_eq!(
                reply.text(),
                format!("<b>Hello</b> {expected}!"),
                "{mode:?} {content_type}"
            );
        }
    }
}

#[tokio::test]
async fn the_query_wins_over_the_body_and_an_empty_post_greets_the_world() {
    let app = spawn_app().await;
    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "hello",
                Method::POST,
                "/api/hello?name=Query",
                Some("application/json"),
                br#"{"name":"Body"}"#,
            )
            .await;
        assert_eq!(reply.text(), "<b>Hello</b> Query!", "{mode:?}");

        let reply = app
            .call(mode, "hello", Method::POST, "/api/hello", None, b"")
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{mode:?}");
        assert_eq!(reply.text(), "<b>Hello</b> World!", "{mode:?}");
    }
}

#[tokio::test]
async fn bad_bodies_are_client_errors() {
    let app = spawn_app().await;
    let cases: [(&str, &[u8], StatusCode, &str); 4] = [
        (
            "application/json",
            b"{not json",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "application/json",
            br#"{"name": 42}"#,
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
        (
            "text/plain",
            b"Ada",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "multipart/form-data; boundary=nope",
            b"garbage",
            StatusCode::BAD_REQUEST,
            "malformed_body",
        ),
    ];
    for mode in BOTH_MODES {
        for (content_type, body, status, code) in cases {
            let reply = app
                .call(
                    mode,
                    "hello",
                    Method::POST,
                    "/api/hello",
                    Some(content_type),
                    body,
                )
                .await;
            assert_eq!(
                reply.status,
                status,
                "{mode:?} {content_type}: {}",
                reply.text()
            );
            assert_eq!(reply.error_code(), code, "{mode:?} {content_type}");
        }
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_refused_without_buffering_it() {
    let app = spawn_app().await;
    let big = format!("name={}", "a".repeat(64 * 1024));
    for mode in BOTH_MODES {
        let reply = app
            .call(
                mode,
                "hello",
                Method::POST,
                "/api/hello",
                Some("application/x-www-form-urlencoded"),
                big.as_bytes(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{mode:?}");
        assert_eq!(reply.error_code(), "payload_too_large");
    }
}

#[tokio::test]
async fn head_answers_like_get_without_a_body() {
    let app = spawn_app().await;
    let reply = app
        .call(
            Mode::Proxied,
            "hello",
            Method::HEAD,
            "/api/hello?name=Ada",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.content_type, HTML);
    assert!(reply.body.is_empty());
}
