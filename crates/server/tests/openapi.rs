//! The OpenAPI document (`/openapi.json`) against the server itself, so that neither can
//! drift from the other: every route the app serves is in the document and every path of
//! the document is served; each export endpoint documents exactly the query parameters
//! its decoder reads (`quarry_core::decode::parameters`); every status the flow can answer
//! with is documented. schemathesis (scripts/schemathesis.sh) then checks the responses
//! themselves against the document.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::*;

fn document() -> Value {
    serde_json::from_str(&quarry_server::assets::OPENAPI.text()).unwrap()
}

/// `v`, or what its `$ref` points at.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r.strip_prefix('#').unwrap();
            resolve(
                doc,
                doc.pointer(pointer)
                    .unwrap_or_else(|| panic!("{r} resolves")),
            )
        }
        None => v,
    }
}

#[test]
fn the_document_is_openapi_3_1_and_lists_exactly_the_served_routes() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let served: BTreeSet<&str> = quarry_server::metrics::ROUTES
        .iter()
        .copied()
        .filter(|r| *r != "other")
        .collect();
    assert_eq!(documented, served);
}

#[tokio::test]
async fn every_documented_path_is_served() {
    let app = spawn().await;
    let doc = document();
    for path in doc["paths"].as_object().unwrap().keys() {
        let url = path.replace("{file}", "explorer.js");
        let r = app.get(&url, READ).await;
        let not_found = r.status == 404 && r.body.contains("\"code\":\"not_found\"");
        assert!(!not_found, "{path} is documented but not served");
        assert!(r.status < 500, "{path}: {} {}", r.status, r.body);
    }
}

#[test]
fn each_endpoint_documents_exactly_the_parameters_it_reads() {
    let doc = document();
    for endpoint in ["events", "charts", "funnel"] {
        let op = &doc["paths"][format!("/export/{endpoint}")]["get"];
        let documented: BTreeSet<String> = op["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("/export/{endpoint} has parameters"))
            .iter()
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        let read: BTreeSet<String> = quarry_core::decode::parameters(endpoint)
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(documented, read, "/export/{endpoint}");
    }
}

#[test]
fn every_status_the_export_flow_answers_is_documented() {
    let doc = document();
    for endpoint in ["events", "charts", "funnel"] {
        let responses = &doc["paths"][format!("/export/{endpoint}")]["get"]["responses"];
        for status in [
            "200", "400", "401", "403", "404", "429", "500", "503", "504",
        ] {
            assert!(
                responses.get(status).is_some(),
                "/export/{endpoint} does not document {status}"
            );
        }
    }
}
