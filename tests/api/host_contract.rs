//! The contract with the Functions host, read from the files it reads: `host.json` and every
//! `functions/*/function.json` must agree with what the router serves, in both request modes,
//! and with the OpenAPI document. A function without its definition, or a definition without
//! its function, fails here.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use crate::common::{spawn_app, Mode, BOTH_MODES};
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

/// One segment of a host route template.
enum Segment {
    Literal(String),
    /// `{id}`, `{id:int}`: exactly one segment.
    Param,
    /// `{id?}`: one segment or none (only last).
    Optional,
    /// `{*rest}`: any number of segments, including none (only last).
    CatchAll,
}

fn template(route: &str) -> Vec<Segment> {
    route
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) if inner.starts_with('*') => Segment::CatchAll,
                Some(inner) if inner.ends_with('?') => Segment::Optional,
                Some(_) => Segment::Param,
                None => Segment::Literal(segment.to_owned()),
            },
        )
        .collect()
}

/// Whether the host would route `path` (an OpenAPI path, `/api/...`) to this template.
fn matches(route: &str, path: &str) -> bool {
    let Some(rest) = path.strip_prefix(&format!("/{}/", handler::host::ROUTE_PREFIX)) else {
        return false;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let pattern = template(route);
    let mut i = 0;
    for (position, part) in pattern.iter().enumerate() {
        let last = position == pattern.len() - 1;
        match part {
            Segment::Literal(literal) => {
                if segments.get(i) != Some(&literal.as_str()) {
                    return false;
                }
                i += 1;
            }
            Segment::Param => {
                if segments.get(i).is_none_or(|s| s.is_empty()) {
                    return false;
                }
                i += 1;
            }
            Segment::Optional if last => return segments.len() <= i + 1,
            Segment::CatchAll if last => return true,
            Segment::Optional | Segment::CatchAll => return false,
        }
    }
    i == segments.len()
}

/// A request path for an OpenAPI path: parameters get a sample value.
fn sample(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "sample"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// OpenAPI paths and their methods.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let document = serde_json::to_value(handler::openapi_document()).unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.to_ascii_uppercase())
                .filter(|k| DOCUMENTED_METHODS.contains(&k.as_str()))
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The documented paths a definition's route covers.
fn covered(definition: &Definition) -> Vec<String> {
    documented()
        .into_keys()
        .filter(|path| matches(&definition.route, path))
        .collect()
}

#[test]
fn route_templates_match_like_the_host() {
    assert!(matches("records/{id?}", "/api/records"));
    assert!(matches("records/{id?}", "/api/records/{id}"));
    assert!(!matches("records/{id?}", "/api/records/{id}/x"));
    assert!(matches("upload/{*name}", "/api/upload"));
    assert!(matches("upload/{*name}", "/api/upload/{name}"));
    assert!(matches("hello", "/api/hello"));
    assert!(!matches("hello", "/api/hello/x"));
    assert!(!matches("hello", "/api/hellox"));
    assert!(matches("users/{action?}", "/api/users/login"));
    assert!(matches("openapi.json", "/api/openapi.json"));
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
    // DefaultHttpWorkerService.InvokeAsync (Azure/azure-functions-host) checks
    // EnableProxyingHttpRequest first, then EnableForwardingHttpRequest, then falls back to
    // the JSON payload. Hosts from before the proxying change (e.g. 4.1037) do not know the
    // first key: with the second they still forward plain HTTP instead of sending payloads.
    assert_eq!(
        custom["enableProxyingHttpRequest"], true,
        "the streaming proxy, on hosts that have it"
    );
    assert_eq!(
        custom["enableForwardingHttpRequest"], true,
        "plain HTTP on hosts from before the proxy, rather than payloads"
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
    let document = serde_json::to_value(handler::openapi_document()).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let documented = documented();
    let mut claimed = BTreeSet::new();
    for definition in definitions() {
        let paths = covered(&definition);
        assert!(
            !paths.is_empty(),
            "{}: route {:?} covers no documented path",
            definition.name,
            definition.route
        );
        let mut methods = BTreeSet::new();
        for path in &paths {
            methods.extend(documented[path].iter().cloned());
            assert!(
                claimed.insert(path.clone()),
                "{path} is covered by two function.json routes"
            );
        }
        assert_eq!(
            methods, definition.methods,
            "{}: OpenAPI methods on {paths:?} must equal function.json methods",
            definition.name
        );
    }
    let all: BTreeSet<String> = documented.into_keys().collect();
    assert_eq!(
        all, claimed,
        "every OpenAPI path must belong to a function.json route (else the host never forwards it)"
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
                for path in covered(&definition).iter().map(|path| sample(path)) {
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
