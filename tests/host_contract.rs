//! The contract with the Functions host, read from the files it reads: `host.json` and every
//! `functions/*/function.json` must agree with what the router serves, in both request modes,
//! and with the OpenAPI document. A function without its definition, or a definition without
//! its function, fails here.

mod common;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use common::{spawn_app, Mode, BOTH_MODES};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const ALL_METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

struct Definition {
    name: String,
    route: String,
    methods: BTreeSet<String>,
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn definitions() -> Vec<Definition> {
    handler::package::function_definitions(root())
        .expect("functions/*/function.json")
        .into_iter()
        .map(|(name, path)| {
            let json = read_json(&path);
            let bindings = json["bindings"].as_array().expect("bindings array");
            let triggers: Vec<&Value> = bindings
                .iter()
                .filter(|b| b["type"] == "httpTrigger")
                .collect();
            let outputs: Vec<&Value> = bindings
                .iter()
                .filter(|b| b["direction"] == "out")
                .collect();
            // Anything else would make the host fall back to the payload mode for this
            // function, and the payload adapter reads the trigger under the name `req`.
            assert_eq!(
                bindings.len(),
                2,
                "{name}: exactly one trigger and one output"
            );
            assert_eq!(triggers.len(), 1, "{name}: one httpTrigger");
            assert_eq!(triggers[0]["direction"], "in", "{name}");
            assert_eq!(
                triggers[0]["name"], "req",
                "{name}: the trigger must be named req"
            );
            assert_eq!(outputs.len(), 1, "{name}: one output");
            assert_eq!(outputs[0]["type"], "http", "{name}: the output is http");
            assert_eq!(outputs[0]["name"], "res", "{name}: the output is named res");
            let auth = triggers[0]["authLevel"].as_str().expect("authLevel");
            assert!(
                ["anonymous", "function", "admin"].contains(&auth),
                "{name}: authLevel {auth}"
            );
            let route = triggers[0]["route"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: set route explicitly"))
                .to_owned();
            let methods = triggers[0]["methods"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: list methods explicitly"))
                .iter()
                .map(|m| m.as_str().expect("method string").to_ascii_uppercase())
                .collect();
            Definition {
                name,
                route,
                methods,
            }
        })
        .collect()
}

/// Every path a route template stands for: an optional segment (`{id?}`, host syntax) may be
/// present or absent, so `bikepoint/{id?}` is both `bikepoint` and `bikepoint/{id}`. Each
/// segment goes through `segment`.
fn expand(route: &str, segment: impl Fn(&str) -> String) -> Vec<String> {
    let mut paths: Vec<Vec<String>> = vec![Vec::new()];
    for part in route.split('/') {
        let optional = part.starts_with('{') && part.ends_with("?}");
        let with: Vec<Vec<String>> = paths
            .iter()
            .map(|path| {
                let mut path = path.clone();
                path.push(segment(part));
                path
            })
            .collect();
        if optional {
            paths.extend(with);
        } else {
            paths = with;
        }
    }
    let mut paths: Vec<String> = paths
        .into_iter()
        .map(|segments| format!("/{}/{}", handler::host::ROUTE_PREFIX, segments.join("/")))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Concrete paths for a route template: `{id}`, `{id?}` and `{*rest}` become sample values.
fn sample_paths(route: &str) -> Vec<String> {
    expand(route, |segment| {
        if segment.starts_with('{') && segment.ends_with('}') {
            "sample".to_owned()
        } else {
            segment.to_owned()
        }
    })
}

/// `{id:int?}` and friends are host syntax; the router and OpenAPI write `{id}`.
fn openapi_paths(route: &str) -> Vec<String> {
    expand(route, |segment| match segment.strip_prefix('{') {
        Some(inner) => {
            let name = inner
                .trim_end_matches('}')
                .trim_start_matches('*')
                .split(':')
                .next()
                .unwrap_or_default()
                .trim_end_matches('?');
            format!("{{{name}}}")
        }
        None => segment.to_owned(),
    })
}

#[test]
fn optional_segments_stand_for_both_paths() {
    assert_eq!(openapi_paths("hello"), ["/api/hello"]);
    assert_eq!(
        openapi_paths("bikepoint/{id?}"),
        ["/api/bikepoint", "/api/bikepoint/{id}"]
    );
    assert_eq!(
        openapi_paths("records/{id:int}"),
        ["/api/records/{id}"],
        "a required parameter is never dropped"
    );
    assert_eq!(
        sample_paths("bikepoint/{id?}"),
        ["/api/bikepoint", "/api/bikepoint/sample"]
    );
}

#[test]
fn host_json_configures_the_custom_handler() {
    let host = read_json(&root().join("host.json"));
    assert_eq!(host["version"], "2.0");
    let custom = &host["customHandler"];
    assert_eq!(
        custom["description"]["defaultExecutablePath"],
        handler::package::EXECUTABLE
    );
    assert_eq!(
        custom["enableProxyingHttpRequest"], true,
        "the streaming proxy; forwarding drops chunked bodies"
    );
    assert!(
        custom.get("enableForwardingHttpRequest").is_none(),
        "do not mix the legacy forwarding flag in"
    );
    assert_eq!(
        host["extensions"]["http"]["routePrefix"],
        handler::host::ROUTE_PREFIX
    );
}

#[test]
fn every_function_has_a_definition_and_every_definition_a_function() {
    let defined: BTreeSet<String> = definitions().into_iter().map(|d| d.name).collect();
    let served: BTreeSet<String> = handler::functions::NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    assert_eq!(
        defined, served,
        "functions/<name>/function.json folders must match handler::functions::NAMES"
    );
}

#[test]
fn the_openapi_document_matches_the_definitions() {
    let document = serde_json::to_value(handler::functions::openapi::document()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented: BTreeMap<String, BTreeSet<String>> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| ALL_METHODS.contains(&k.to_ascii_uppercase().as_str()))
                .map(|k| k.to_ascii_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let mut declared: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for definition in definitions() {
        for path in openapi_paths(&definition.route) {
            declared
                .entry(path)
                .or_default()
                .extend(definition.methods.iter().cloned());
        }
    }
    assert_eq!(
        documented, declared,
        "OpenAPI paths and methods must equal the function.json routes and methods"
    );
}

#[tokio::test]
async fn the_router_serves_exactly_the_declared_methods_in_both_modes() {
    let app = spawn_app().await;
    for (definition, path) in definitions().iter().flat_map(|definition| {
        sample_paths(&definition.route)
            .into_iter()
            .map(move |path| (definition, path))
    }) {
        for mode in BOTH_MODES {
            for method in ALL_METHODS {
                let reply = app
                    .call(
                        mode,
                        &definition.name,
                        Method::from_bytes(method.as_bytes()).unwrap(),
                        &path,
                        None,
                        b"",
                    )
                    .await;
                let routed = reply.status != StatusCode::NOT_FOUND
                    && reply.status != StatusCode::METHOD_NOT_ALLOWED;
                let declared = definition.methods.contains(method);
                assert_eq!(
                    routed,
                    declared,
                    "{} {method} {path} ({mode:?}): status {} but function.json {} it",
                    definition.name,
                    reply.status,
                    if declared {
                        "declares"
                    } else {
                        "does not declare"
                    }
                );
                if mode == Mode::Proxied && !declared {
                    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
                }
            }
        }
    }
}
