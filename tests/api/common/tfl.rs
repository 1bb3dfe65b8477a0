//! A local TfL: a `wiremock` replay server serving the recorded responses in
//! `tests/fixtures/tfl/`, and the app configured to call it.

use std::path::Path;

use wiremock::{
    matchers::{method, path},
    Mock, MockServer, ResponseTemplate,
};

use super::{spawn_app_with, TestApp};

pub const LINES_BY_MODE: &str = "line_mode_status_homeassistant_fixture_2023-09-18.json";
pub const BAKERLOO_GOOD: &str = "line_bakerloo_status_good_2019-10.json";
pub const CIRCLE_PART_CLOSURE: &str = "line_circle_status_partclosure_2019-10.json";
pub const WATERLOO_CITY_CLOSED: &str = "line_waterloo-city_status_serviceclosed_2019-10.json";
pub const OCCUPANCY_187: &str = "occupancy_bikepoints_187_jrper-notes.json";
pub const NOT_FOUND_WITH_BOM: &str = "error_404_road_unknown_id_2019-10-13_gabysys.json";
pub const NOT_FOUND_STOP_POINT: &str = "error_404_stoppoint_arrivals_2017-12-08.json";

/// The recorded bytes of a fixture, unchanged.
pub fn fixture(name: &str) -> Vec<u8> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tfl")
        .join(name);
    std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A fixture parsed, for tests that derive a variant from it.
pub fn fixture_json(name: &str) -> serde_json::Value {
    let bytes = fixture(name);
    let text = String::from_utf8(bytes).expect("UTF-8");
    serde_json::from_str(text.trim_start_matches('\u{feff}')).expect("JSON")
}

/// What TfL sends: the body as JSON, as TfL labels it.
pub fn json(status: u16, body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body, "application/json; charset=utf-8")
}

/// Serves `body` on `GET upstream_path`, expecting exactly `times` calls (checked when the
/// server is dropped or verified).
pub async fn serve(
    server: &MockServer,
    upstream_path: &str,
    response: ResponseTemplate,
    times: u64,
) {
    Mock::given(method("GET"))
        .and(path(upstream_path))
        .respond_with(response)
        .expect(times)
        .mount(server)
        .await;
}

/// The app with TFL_API_BASE at `server`, plus `env`.
pub async fn app_for(server: &MockServer, env: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("TFL_API_BASE", server.uri())];
    all.extend(env.iter().map(|(name, value)| (*name, (*value).to_owned())));
    spawn_app_with(&all).await
}

/// How many requests the replay server has seen.
pub async fn upstream_calls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map_or(0, |requests| requests.len())
}
