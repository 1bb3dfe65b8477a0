//! Shared test helpers: the real app on an ephemeral loopback port, and both of the host's
//! request modes (proxied HTTP and the JSON invocation payload) behind one call.
#![allow(dead_code)]

pub mod tfl;

use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine as _};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

pub struct TestApp {
    pub address: std::net::SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// The embedded backend's directory, removed when the test ends.
    pub data_dir: tempfile::TempDir,
    /// The bearer token every request carries after [`TestApp::signed_in`].
    pub token: Option<String>,
    /// The app's state, to read what it counts (e.g. password checks run).
    pub state: handler::state::AppState,
}

/// A password the policy accepts.
pub const PASSWORD: &str = "correct horse battery staple";

/// Where TfL is when a test does not stand one in: a closed loopback port, so a stray TfL call
/// fails at once (502) and nothing reaches the internet.
pub const NO_TFL: &str = "http://127.0.0.1:9";

/// A plain test client.
pub fn http_client() -> reqwest::Client {
    client(None)
}

fn client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

/// The Azurite that `scripts/test` started. Missing Azurite is a failure, never a skip.
pub fn azurite_connection_string() -> String {
    std::env::var("AZURITE_CONNECTION_STRING").unwrap_or_else(|_| {
        panic!("AZURITE_CONNECTION_STRING is not set: run the tests with scripts/test, which starts Azurite")
    })
}

/// A table name no other test uses, so tests can share one Azurite.
pub fn unique_table(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Settings for the app under test on Azurite, in a table of its own.
pub fn azurite_settings() -> Vec<(&'static str, String)> {
    vec![
        ("STORAGE_CONNECTION_STRING", azurite_connection_string()),
        ("RECORDS_TABLE", unique_table("records")),
    ]
}

/// Azurite settings with every table and the container of their own.
pub fn azurite_settings_for_users() -> Vec<(&'static str, String)> {
    let mut settings = azurite_settings();
    settings.push(("USERS_TABLE", unique_table("users")));
    settings.push(("SESSIONS_TABLE", unique_table("sessions")));
    settings.push(("UPLOADS_CONTAINER", unique_table("uploads")));
    settings
}

/// Serves the app as `main` does, on 127.0.0.1:0, with the embedded backend in a fresh
/// directory, for the rest of the test.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with these settings on top of the defaults.
pub async fn spawn_app_with(settings: &[(&str, String)]) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let data_path = data_dir.path().to_string_lossy().into_owned();
    let config = handler::config::Config::from_lookup(None, |name| {
        settings
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
            .or_else(|| (name == "DATA_DIR").then(|| data_path.clone()))
            .or_else(|| (name == "TFL_API_BASE").then(|| NO_TFL.to_owned()))
    })
    .expect("test configuration");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let state = handler::state::AppState::new(&config).expect("app state");
    let app = handler::app(state.clone());
    tokio::spawn(handler::server::serve(
        listener,
        app,
        config.server,
        std::future::pending(),
        Duration::from_secs(1),
    ));
    TestApp {
        address,
        base: format!("http://{address}"),
        client: client(None),
        data_dir,
        token: None,
        state,
    }
}

/// How the host delivers a request to the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `enableProxyingHttpRequest`: the original request, path with `/api`.
    Proxied,
    /// `enableForwardingHttpRequest` (hosts from before the proxy): the request rebuilt by
    /// `HttpRequestExtensions.ToHttpRequestMessage`, path with `/api`, headers copied, the body
    /// with its Content-Length, plus the host's headers (`DefaultHttpWorkerService.AddHeaders`).
    Forwarded,
    /// `POST /<function>` with the request in `Data.req`.
    Payload,
}

pub const BOTH_MODES: [Mode; 2] = [Mode::Proxied, Mode::Payload];
/// Every mode some supported host version uses for an HTTP function.
pub const ALL_MODES: [Mode; 3] = [Mode::Proxied, Mode::Forwarded, Mode::Payload];

/// What a caller of the public URL would get back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Asserts the documented error shape and returns the code.
    pub fn error_code(&self) -> String {
        let body = self.json();
        let code = body["error"]["code"].as_str().expect("error.code");
        assert!(
            body["error"]["message"].is_string(),
            "error.message: {body}"
        );
        assert!(
            self.content_type.starts_with("application/json"),
            "{}",
            self.content_type
        );
        code.to_owned()
    }
}

impl TestApp {
    /// Registers `username` with [`PASSWORD`] and returns a fresh login token.
    pub async fn register_and_login(&self, username: &str) -> String {
        let anonymous = client(None);
        let credentials = serde_json::json!({"username": username, "password": PASSWORD});
        let created = anonymous
            .post(format!("{}/api/users", self.base))
            .json(&credentials)
            .send()
            .await
            .expect("register");
        assert_eq!(created.status(), StatusCode::CREATED, "register {username}");
        self.login(username).await
    }

    pub async fn login(&self, username: &str) -> String {
        let response = client(None)
            .post(format!("{}/api/users/login", self.base))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(response.status(), StatusCode::OK, "login {username}");
        let body: Value = response.json().await.expect("login body");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Signs a fresh user in; every later request (in both modes) carries their token.
    pub async fn signed_in(mut self) -> Self {
        let username = format!("user-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let token = self.register_and_login(&username).await;
        self.client = client(Some(&token));
        self.token = Some(token);
        self
    }

    /// A client carrying `token`, for acting as another user.
    pub fn client_for(token: &str) -> reqwest::Client {
        client(Some(token))
    }

    /// Sends one request to `function` the way the host would in `mode`.
    pub async fn call(
        &self,
        mode: Mode,
        function: &str,
        method: Method,
        path_and_query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Reply {
        match mode {
            Mode::Proxied | Mode::Forwarded => {
                let mut request = self
                    .client
                    .request(method, format!("{}{path_and_query}", self.base))
                    .header("x-azure-functions-invocationid", "test-invocation");
                if mode == Mode::Forwarded {
                    request = request
                        .header("x-azure-functions-hostversion", "4.1037.0.0")
                        .header("user-agent", "curl/8.0 Azure-Functions-Host/4.1037.0.0");
                }
                if let Some(content_type) = content_type {
                    request = request.header("content-type", content_type);
                }
                if !body.is_empty() {
                    request = request.body(body.to_vec());
                }
                let response = request.send().await.expect("send");
                let status = response.status();
                let headers = response
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect::<Vec<_>>();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
                    .unwrap_or_default();
                let body = response.bytes().await.expect("body").to_vec();
                Reply {
                    status,
                    content_type,
                    headers,
                    body,
                }
            }
            Mode::Payload => {
                let mut payload = invocation(method.as_str(), path_and_query, content_type, body);
                if let Some(token) = &self.token {
                    payload["Data"]["req"]["Headers"]["Authorization"] =
                        serde_json::json!([format!("Bearer {token}")]);
                }
                let response = self
                    .client
                    .post(format!("{}/{function}", self.base))
                    .json(&payload)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(
                    response.status(),
                    StatusCode::OK,
                    "the host fails any invocation that is not a 2xx"
                );
                let envelope: Value = response.json().await.expect("invocation result");
                assert!(envelope["ReturnValue"].is_null(), "{envelope}");
                assert!(envelope["Logs"].is_array(), "{envelope}");
                let res = &envelope["Outputs"]["res"];
                let headers = res["headers"]
                    .as_object()
                    .expect("Outputs.res.headers is an object")
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().expect("header values are strings").to_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                let content_type = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                Reply {
                    status: StatusCode::from_u16(
                        res["statusCode"].as_u64().expect("statusCode") as u16
                    )
                    .expect("status"),
                    content_type,
                    headers,
                    body: res["body"].as_str().expect("body").as_bytes().to_vec(),
                }
            }
        }
    }

    /// Sends raw bytes and returns the raw response head and body (for what HTTP clients refuse
    /// to send, such as a Content-Length with no body behind it).
    pub async fn raw(&self, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(self.address).await.expect("connect");
        stream.write_all(request).await.expect("write");
        let mut response = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0u8; 4096];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        response.extend_from_slice(&buffer[..n]);
                        if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}")
                        {
                            break;
                        }
                    }
                }
            }
        })
        .await;
        String::from_utf8_lossy(&response).into_owned()
    }
}

/// The JSON the host POSTs for an invocation, shaped as the host's serializer writes it.
pub fn invocation(
    method: &str,
    path_and_query: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> Value {
    let query: serde_json::Map<String, Value> = path_and_query
        .split_once('?')
        .map(|(_, q)| {
            url_pairs(q)
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        })
        .unwrap_or_default();
    // As HttpRequestExtensions.GetRequestAsJObject builds it: every request header as an
    // array of strings (Content-Length included), `Body` only when Content-Length > 0.
    let mut headers = serde_json::Map::new();
    headers.insert("Host".into(), json!(["localhost:7071"]));
    headers.insert("User-Agent".into(), json!(["test"]));
    if let Some(content_type) = content_type {
        headers.insert("Content-Type".into(), json!([content_type]));
    }
    if !body.is_empty() {
        headers.insert("Content-Length".into(), json!([body.len().to_string()]));
    }
    let binary = content_type.is_some_and(|ct| {
        ct.starts_with("application/octet-stream") || ct.starts_with("multipart/")
    });
    let body = if body.is_empty() {
        Value::Null
    } else if binary {
        Value::String(BASE64.encode(body))
    } else {
        Value::String(String::from_utf8(body.to_vec()).expect("text body"))
    };
    json!({
        "Data": {
            "req": {
                "Url": format!("http://localhost:7071{path_and_query}"),
                "Method": method,
                "Query": query,
                "Headers": headers,
                "Params": {},
                "Identities": [{"AuthenticationType": "WebJobsAuthLevel", "IsAuthenticated": true, "Claims": []}],
                "Body": body,
            }
        },
        "Metadata": {"sys": {"MethodName": "test", "UtcNow": "2026-11-29T00:00:00Z", "RandGuid": "0"}}
    })
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// A multipart/form-data body with one text field.
pub fn multipart_field(name: &str, value: &str) -> (String, Vec<u8>) {
    let boundary = "XtestBoundary42";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n--{boundary}--\r\n"
    );
    (
        format!("multipart/form-data; boundary={boundary}"),
        body.into_bytes(),
    )
}
