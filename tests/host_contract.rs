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

/// Methods the router is probed with. HEAD is left out: the router answers it wherever it
/// answers GET (as HTTP says), so a definition may declare it only together with GET.
const ALL_METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Methods compared between the definitions and the OpenAPI document.
const DOCUMENTED_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

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

/// The paths a route template matches: an optional trailing parameter (`{id?}`) gives two,
/// with and without it. `sample` fills parameters for requests; `{name}` for OpenAPI.
fn expand(route: &str, sample: bool) -> Vec<String> {
    let mut required = Vec::new();
    let mut optional = None;
    for segment in route.split('/') {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(inner) => {
                let name = inner
                    .trim_start_matches('*')
                    .split(':')
                    .next()
                    .unwrap_or_default();
                // `{id?}` is optional; a catch-all `{*rest}` also matches nothing at all.
                let is_optional =
                    name.ends_with('?') || inner.ends_with('?') || inner.starts_with('*');
                let name = name.trim_end_matches('?');
                let filled = if sample {
                    "sample".to_owned()
                } else {
                    format!("{{{name}}}")
                };
                if is_optional {
                    optional = Some(filled);
                } else {
                    required.push(filled);
                }
            }
            None => required.push(segment.to_owned()),
        }
    }
    let prefix = handler::host::ROUTE_PREFIX;
    let base = format!("/{prefix}/{}", required.join("/"));
    match optional {
        Some(last) => vec![base.clone(), format!("{base}/{last}")],
        None => vec![base],
    }
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
                .filter(|k| DOCUMENTED_METHODS.contains(&k.to_ascii_uppercase().as_str()))
                .map(|k| k.to_ascii_uppercase())
                .collect();
            (path.clone(), methods)
        })
        .collect();
    let mut expected_paths = BTreeSet::new();
    for definition in definitions() {
        let paths = expand(&definition.route, false);
        let mut methods = BTreeSet::new();
        for path in &paths {
            let documented_methods = documented.get(path).unwrap_or_else(|| {
                panic!(
                    "{}: {path} is declared but not in the OpenAPI document",
                    definition.name
                )
            });
            methods.extend(documented_methods.iter().cloned());
            expected_paths.insert(path.clone());
        }
        assert_eq!(
            methods, definition.methods,
            "{}: OpenAPI methods must equal function.json methods",
            definition.name
        );
    }
    let documented_paths: BTreeSet<String> = documented.keys().cloned().collect();
    assert_eq!(
        documented_paths, expected_paths,
        "every OpenAPI path must belong to a function.json route"
    );
}

#[tokio::test]
async fn the_router_serves_exactly_the_declared_methods_in_both_modes() {
    let app = spawn_app().await;
    for definition in definitions() {
        assert!(
            !definition.methods.contains("HEAD") || definition.methods.contains("GET"),
            "{}: HEAD is served only where GET is",
            definition.name
        );
        for mode in BOTH_MODES {
            for method in ALL_METHODS {
                let declared = definition.methods.contains(method);
                let mut routed_somewhere = false;
                for path in expand(&definition.route, true) {
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
                    routed_somewhere |= routed;
                    if !declared {
                        assert!(
                            !routed,
                            "{} {method} {path} ({mode:?}): status {} for a method function.json does not declare",
                            definition.name, reply.status
                        );
                        if mode == Mode::Proxied {
                            assert_eq!(
                                reply.status,
                                StatusCode::METHOD_NOT_ALLOWED,
                                "{method} {path}"
                            );
                        }
                    }
                }
                assert_eq!(
                    routed_somewhere,
                    declared,
                    "{} {method} ({mode:?}): function.json {} it but the router {}",
                    definition.name,
                    if declared {
                        "declares"
                    } else {
                        "does not declare"
                    },
                    if routed_somewhere {
                        "serves it"
                    } else {
                        "does not"
                    }
                );
            }
        }
    }
}
