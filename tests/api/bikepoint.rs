//! `bikepoint` against a local TfL replaying recorded responses: both URL forms, both host
//! modes, the old and new occupancy shapes, broken docks, unknown ids and bad ids.

use crate::common::{
    tfl::{self, app_for, fixture, fixture_json, json, serve, upstream_calls},
    Mode, BOTH_MODES,
};
use reqwest::{Method, StatusCode};
use wiremock::MockServer;

const ONE_87: &str = "/Occupancy/BikePoints/BikePoints_187";

#[tokio::test]
async fn occupancy_by_query_and_by_path_in_both_modes_from_one_upstream_call() {
    let server = MockServer::start().await;
    serve(&server, ONE_87, json(200, fixture(tfl::OCCUPANCY_187)), 1).await;
    let app = app_for(&server, &[]).await;

    for mode in BOTH_MODES {
        for url in [
            "/api/bikepoint?id=187",
            "/api/bikepoint?id=BikePoints_187",
            "/api/bikepoint/187",
            "/api/bikepoint/bikepoints_187",
        ] {
            let reply = app
                .call(mode, "bikepoint", Method::GET, url, None, b"")
                .await;
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{mode:?} {url}: {}",
                reply.text()
            );
            assert!(reply.content_type.starts_with("application/json"));
            // The older shape: no standard/e-bike split, so neither key appears.
            assert_eq!(
                reply.json(),
                serde_json::json!([{
                    "id": "BikePoints_187",
                    "name": "Queen's Gate (South), South Kensington",
                    "bikesCount": 3,
                    "emptyDocks": 21,
                    "totalDocks": 25,
                    "brokenDocks": 1,
                }]),
                "{mode:?} {url}"
            );
            assert!(reply.header("cache-control").is_some());
        }
    }
    server.verify().await;
}

#[tokio::test]
async fn the_newer_shape_keeps_the_bike_split_and_omits_zero_broken_docks() {
    let server = MockServer::start().await;
    // Derived from the recorded one with the fields TfL's schema (swagger) now documents.
    let mut newer = fixture_json(tfl::OCCUPANCY_187);
    newer[0]["bikesCount"] = 4.into();
    newer[0]["standardBikesCount"] = 3.into();
    newer[0]["eBikesCount"] = 1.into();
    let mut second = newer[0].clone();
    second["id"] = "BikePoints_1".into();
    second["name"] = "River Street , Clerkenwell".into();
    newer.as_array_mut().unwrap().push(second);
    serve(
        &server,
        "/Occupancy/BikePoints/BikePoints_187,BikePoints_1",
        json(200, newer.to_string().into_bytes()),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;

    let reply = app
        .call(
            Mode::Proxied,
            "bikepoint",
            Method::GET,
            "/api/bikepoint?id=187,BikePoints_1,187",
            None,
            b"",
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(body[0]["standardBikesCount"], 3);
    assert_eq!(body[0]["eBikesCount"], 1);
    assert!(
        body[0].get("brokenDocks").is_none(),
        "25 - 4 - 21 = 0: {body}"
    );
    assert_eq!(body[1]["id"], "BikePoints_1");
    server.verify().await;
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let server = MockServer::start().await;
    serve(
        &server,
        "/Occupancy/BikePoints/BikePoints_99999",
        json(404, fixture(tfl::NOT_FOUND_WITH_BOM)),
        2, // TfL's errors are not cached: once per host mode
    )
    .await;
    // An id TfL leaves out of its answer is as unknown as one it refuses.
    serve(
        &server,
        "/Occupancy/BikePoints/BikePoints_187,BikePoints_424242",
        json(200, fixture(tfl::OCCUPANCY_187)),
        1,
    )
    .await;
    serve(
        &server,
        "/Occupancy/BikePoints/BikePoints_5",
        json(200, b"[]".to_vec()),
        1,
    )
    .await;
    let app = app_for(&server, &[]).await;

    for (url, named) in [
        ("/api/bikepoint/99999", "not recognised"),
        ("/api/bikepoint?id=187,424242", "BikePoints_424242"),
        ("/api/bikepoint?id=5", "BikePoints_5"),
    ] {
        for mode in BOTH_MODES {
            let reply = app
                .call(mode, "bikepoint", Method::GET, url, None, b"")
                .await;
            assert_eq!(
                reply.status,
                StatusCode::NOT_FOUND,
                "{mode:?} {url}: {}",
                reply.text()
            );
            assert_eq!(reply.error_code(), "not_found");
            let message = reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.contains(named), "{url}: {message}");
        }
    }
    server.verify().await;
}

#[tokio::test]
async fn bad_ids_are_refused_before_tfl_is_called() {
    let server = MockServer::start().await;
    let app = app_for(&server, &[]).await;
    let many = ["1"; 21].join(",");
    let cases = [
        ("/api/bikepoint".to_owned(), "id"),
        ("/api/bikepoint?id=".to_owned(), "empty"),
        ("/api/bikepoint?id=Bike_1".to_owned(), "Bike_1"),
        ("/api/bikepoint/BikePoints_1a".to_owned(), "BikePoints_1a"),
        (format!("/api/bikepoint?id={many}"), "at most 20"),
    ];
    for mode in BOTH_MODES {
        for (url, named) in &cases {
            let reply = app
                .call(mode, "bikepoint", Method::GET, url, None, b"")
                .await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{mode:?} {url}: {}",
                reply.text()
            );
            let message = reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.contains(named), "{url}: {message}");
        }
    }
    assert_eq!(upstream_calls(&server).await, 0);
}
