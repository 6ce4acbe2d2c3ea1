//! The OpenAPI documents: every service serves one at `/__admin/openapi.json` and a browsable page at
//! `/__admin/docs` (assets from the binary); each document is well formed (every reference resolves, every
//! path parameter is declared, operation ids are unique), has exactly the routes its service registers
//! (method and path), covers every path in `protocol::paths`, and every operation it lists is served.
//! (`.ci/run` also validates each document with openapi-spec-validator.)

use protocol::paths;
use std::collections::{BTreeMap, BTreeSet};

use e2e::TestSuite;
use reqwest::StatusCode;
use serde_json::Value;

const SERVICES: [&str; 5] = ["forticare", "ftm", "push", "phone", "appliance"];

async fn documents(suite: &TestSuite) -> BTreeMap<&'static str, Value> {
    let mut documents = BTreeMap::new();
    for service in SERVICES {
        let response = suite
            .client
            .get(format!("{}{}", suite.url(service), paths::ADMIN_OPENAPI))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{service}");
        documents.insert(service, response.json::<Value>().await.unwrap());
    }
    documents
}

/// Every `{"$ref": "..."}` in `value`.
fn references<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target);
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// `(method, path, operation)` for every operation of a document.
fn operations(document: &Value) -> Vec<(&'static str, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method, path.clone(), operation));
            }
        }
    }
    found
}

#[tokio::test]
async fn every_document_is_well_formed() {
    let suite = TestSuite::start().await;
    for (service, document) in documents(&suite).await {
        assert!(
            document["openapi"].as_str().unwrap().starts_with("3."),
            "{service}"
        );
        assert_eq!(document["info"]["title"], format!("fortimock {service}"));
        let schemes = document["components"]["securitySchemes"]
            .as_object()
            .unwrap();
        let schemas = document["components"]["schemas"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut refs = Vec::new();
        references(&document, &mut refs);
        for target in refs {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{service}: reference {target} outside the components"));
            assert!(
                schemas.contains_key(name),
                "{service}: {target} is not defined"
            );
        }
        let mut ids = BTreeSet::new();
        for (method, path, operation) in operations(&document) {
            let at = format!("{service}: {} {path}", method.to_uppercase());
            assert!(
                operation["responses"]
                    .as_object()
                    .is_some_and(|r| !r.is_empty()),
                "{at} has no responses"
            );
            if let Some(id) = operation["operationId"].as_str() {
                assert!(ids.insert(id.to_owned()), "{at}: operationId {id} twice");
            }
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let in_template: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .collect();
            assert_eq!(declared, in_template, "{at}: path parameters");
            for requirement in operation["security"].as_array().into_iter().flatten() {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{at}: scheme {scheme}");
                }
            }
        }
    }
    suite.stop().await;
}

#[tokio::test]
async fn the_answers_every_listener_may_give_are_documented() {
    let suite = TestSuite::start().await;
    for (service, document) in documents(&suite).await {
        for (method, path, operation) in operations(&document) {
            let at = format!("{service}: {} {path}", method.to_uppercase());
            let responses = operation["responses"].as_object().unwrap();
            // Past --max-connections, any route.
            assert!(responses.contains_key("503"), "{at}: no 503");
            // The admin token, on every route behind the guard.
            let admin_guarded = operation["security"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|requirement| requirement.get("admin_token").is_some());
            if admin_guarded {
                assert!(responses.contains_key("401"), "{at}: guarded, no 401");
            }
            // A slow head or body, on every route that takes a body.
            if ["post", "put", "patch"].contains(&method) {
                assert!(responses.contains_key("408"), "{at}: no 408");
            }
        }
    }
    suite.stop().await;
}

/// Each service's registered routes, as `lab::server::every_registered_route` collects them from the
/// same registration the listener runs: `(service, routes)`.
fn registered_routes() -> [(&'static str, Vec<lab::api::RegisteredRoute>); 5] {
    [
        ("forticare", forticare::registered_routes()),
        ("ftm", ftm::registered_routes()),
        ("push", push::registered_routes()),
        ("phone", phone::registered_routes()),
        ("appliance", appliance::registered_routes()),
    ]
}

/// Every route each service registers (method and path, its own listeners' included) is an operation of
/// that service's document, and the document has no operation the service does not register. Exempt: the
/// emulated FortiAuthenticator REST API (one dispatcher for every method below `/api/v1/`, registered with
/// method `*`; Fortinet's reference describes it, see `Api::emulated_product_api`).
#[tokio::test]
async fn every_registered_route_is_in_its_services_document_and_nothing_else() {
    let suite = TestSuite::start().await;
    let documents = documents(&suite).await;
    for (service, routes) in registered_routes() {
        assert!(routes.len() > 10, "{service}: {routes:?}");
        let registered: BTreeSet<(String, String)> = routes
            .iter()
            .filter(|route| {
                if route.method == "*" {
                    assert!(
                        route.path.starts_with(paths::FAC_API),
                        "{service}: {} is served for every method but is not an emulated product API",
                        route.path
                    );
                    return false;
                }
                true
            })
            .map(|route| (route.method.to_uppercase(), route.path.clone()))
            .collect();
        let documented: BTreeSet<(String, String)> = operations(&documents[service])
            .into_iter()
            .map(|(method, path, _)| (method.to_uppercase(), path))
            .collect();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "{service} registers routes its document lacks: {undocumented:?}"
        );
        let unregistered: Vec<_> = documented.difference(&registered).collect();
        assert!(
            unregistered.is_empty(),
            "{service}'s document has operations it does not register: {unregistered:?}"
        );
    }
    suite.stop().await;
}

/// Operations exempt from [`every_answer_has_a_schema`] while their schemas are being written, by service,
/// method and path (none now).
const ANSWERS_BEING_DESCRIBED: &[(&str, &str, &str)] = &[];

/// Statuses whose answer has no body to describe.
fn bodiless(status: &str) -> bool {
    status == "204" || status.starts_with('3')
}

/// Every operation says what it answers: some response other than 204 or a redirect has content (a
/// schema for JSON, or a media type for a file), and none is only a status range ("2XX" with a sentence).
/// An operation with a request body the handler reads as JSON documents it as `requestBody`, checked by
/// the reviewers of each handler; this test holds the answers.
#[tokio::test]
async fn every_answer_has_a_schema() {
    let suite = TestSuite::start().await;
    let mut undescribed = Vec::new();
    let mut exempt_seen = BTreeSet::new();
    for (service, document) in documents(&suite).await {
        for (method, path, operation) in operations(&document) {
            let method = method.to_uppercase();
            let responses = operation["responses"].as_object().unwrap();
            let described = responses
                .iter()
                .any(|(status, response)| !bodiless(status) && response.get("content").is_some());
            let all_bodiless = responses.keys().all(|status| bodiless(status));
            if described || all_bodiless {
                continue;
            }
            if ANSWERS_BEING_DESCRIBED.contains(&(service, method.as_str(), path.as_str())) {
                exempt_seen.insert((service, method, path));
                continue;
            }
            undescribed.push(format!(
                "{service}: {method} {path} {:?}",
                responses.keys().collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        undescribed.is_empty(),
        "operations whose answers have no schema:\n{}",
        undescribed.join("\n")
    );
    // An exemption for an operation that is described now (or gone) is stale: drop it from the list.
    let stale: Vec<_> = ANSWERS_BEING_DESCRIBED
        .iter()
        .filter(|(s, m, p)| !exempt_seen.contains(&(*s, (*m).to_owned(), (*p).to_owned())))
        .collect();
    assert!(
        stale.is_empty(),
        "described now: remove from ANSWERS_BEING_DESCRIBED: {stale:?}"
    );
    suite.stop().await;
}

/// Every path constant in `protocol::paths` (but the prefixes) is documented by some service.
#[tokio::test]
async fn every_path_fortimock_serves_is_documented() {
    let suite = TestSuite::start().await;
    let documents = documents(&suite).await;
    let documented: BTreeSet<String> = documents
        .values()
        .flat_map(|d| d["paths"].as_object().unwrap().keys().cloned())
        .collect();
    let source = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/src/paths.rs"),
    )
    .unwrap();
    // Exempt by name: `FAC_*`, a FortiAuthenticator's `/api/v1/` REST API (Fortinet's API, emulated and
    // described by Fortinet's reference; `lab::api::Api::emulated_product_api`), and `UI_*`, the
    // dashboard's pages (its own listener, for a browser, with no control plane and no document).
    let constants: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter(|rest| !rest.starts_with("FAC_") && !rest.starts_with("UI_"))
        .filter_map(|rest| rest.split('"').nth(1))
        .collect();
    assert!(constants.len() > 40, "{constants:?}");
    let prefixes = [paths::ADMIN, paths::V3_BASE, paths::LEDGER];
    let missing: Vec<&&str> = constants
        .iter()
        .filter(|path| !prefixes.contains(path) && !documented.contains(**path))
        .collect();
    assert!(missing.is_empty(), "paths no document has: {missing:?}");
    suite.stop().await;
}

/// Every documented operation is served: a request with its method reaches a handler (whatever it then
/// answers), never the "no such endpoint" fallback. The ftm-push listener's callback is checked on a
/// listener.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let suite = TestSuite::start().await;
    // The listener's callback first: the loop below resets the appliances, which closes their listeners.
    let ready = suite.push_ready(serde_json::json!({})).await;
    let listener = suite
        .appliance(&ready.serial)
        .await
        .ftm_push
        .listening_port
        .unwrap();
    let answer = suite
        .client
        .post(format!(
            "https://127.0.0.1:{listener}{}",
            paths::PUSH_CALLBACK
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(
        !answer
            .text()
            .await
            .unwrap()
            .contains("http.no-such-endpoint"),
        "the ftm-push listener's callback"
    );
    for (service, document) in documents(&suite).await {
        for (method, path, _) in operations(&document) {
            if path == paths::PUSH_CALLBACK {
                continue;
            }
            let base = suite.url(service);
            let filled: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = suite
                .client
                .request(method.clone(), format!("{base}{filled}"))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert!(
                !body.contains("http.no-such-endpoint"),
                "{service}: {method} {path} is documented but not served ({status}: {body})"
            );
        }
    }
    suite.stop().await;
}

#[tokio::test]
async fn the_documentation_page_is_served_from_the_binary() {
    let suite = TestSuite::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .add_root_certificate(
            reqwest::Certificate::from_pem(suite.lab().ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    for service in SERVICES {
        let base = suite.url(service);
        let docs = no_redirects
            .get(format!("{base}{}", paths::ADMIN_DOCS))
            .send()
            .await
            .unwrap();
        assert_eq!(docs.status(), StatusCode::FOUND);
        let page = suite
            .client
            .get(format!(
                "{base}{}",
                paths::fill(paths::ADMIN_DOCS_FILE, &["index.html"])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("swagger-ui"), "{html}");
        // Self-hosted: the page loads nothing from another host.
        assert!(
            !html.contains("https://") && !html.contains("//cdn"),
            "{html}"
        );
        let initializer = suite
            .client
            .get(format!(
                "{base}{}",
                paths::fill(paths::ADMIN_DOCS_FILE, &["swagger-initializer.js"])
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(initializer.contains(paths::ADMIN_OPENAPI), "{initializer}");
        let missing = suite
            .client
            .get(format!(
                "{base}{}",
                paths::fill(paths::ADMIN_DOCS_FILE, &["nothing.js"])
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
    suite.stop().await;
}

/// Every `description` in `value` containing an unresolved rustdoc link (`` [`…`] ``), with its JSON path.
fn rustdoc_links(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{at}/{key}");
                match v {
                    Value::String(text) if key == "description" && text.contains("[`") => {
                        found.push(format!("{here}: {text}"));
                    }
                    _ => rustdoc_links(v, &here, found),
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                rustdoc_links(v, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Doc comments become descriptions: a rustdoc link such as `` [`MAX_SEATS`] `` means nothing to a Swagger
/// reader, so the doc comments of API types say the value in words.
#[tokio::test]
async fn no_description_carries_a_rustdoc_link() {
    let suite = TestSuite::start().await;
    let mut found = Vec::new();
    for (service, document) in documents(&suite).await {
        rustdoc_links(&document, service, &mut found);
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Whether an answer is a refusal of the request body as JSON: the one body reader's `admin.body.invalid`,
/// or the sentence the services that read their bodies themselves answer with.
fn refuses_the_body_as_json(status: StatusCode, body: &str) -> bool {
    status == StatusCode::BAD_REQUEST
        && (body.contains("admin.body.invalid")
            || body.contains("the request body was refused")
            || body.contains("the body is not an SMS"))
}

/// Every operation whose handler reads a JSON body documents it as `requestBody`: each POST, PUT and PATCH
/// without one is sent a body that is not JSON, and must not refuse it as JSON (a handler that refuses it
/// reads a body its document does not describe). The ftm-push listener's callback and the SoftToken front
/// doors (their bodies are the wire's, answered with faults) are outside this check.
#[tokio::test]
async fn every_operation_that_reads_a_json_body_documents_it() {
    let suite = TestSuite::start().await;
    let mut undocumented = Vec::new();
    let mut documented = 0;
    for (service, document) in documents(&suite).await {
        for (method, path, operation) in operations(&document) {
            if !["post", "put", "patch"].contains(&method) {
                continue;
            }
            if operation.get("requestBody").is_some() {
                documented += 1;
                continue;
            }
            let filled: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let response = suite
                .client
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                    format!("{}{filled}", suite.url(service)),
                )
                .header("content-type", "application/json")
                .body("{\"not json")
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if refuses_the_body_as_json(status, &body) {
                undocumented.push(format!("{service}: {} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "operations that read a JSON body and document no requestBody:\n{}",
        undocumented.join("\n")
    );
    // The hardware and message routes of issue 11 are among the documented ones.
    assert!(documented > 20, "{documented}");
    suite.stop().await;
}

/// The request bodies and query parameters of the hardware-token and activation-message routes are in the
/// appliance and forticare documents, each with its schema.
#[tokio::test]
async fn hardware_and_message_routes_document_their_bodies_and_parameters() {
    let suite = TestSuite::start().await;
    let documents = documents(&suite).await;
    let body_schema = |service: &str, method: &str, path: &str| -> String {
        let operation = &documents[service]["paths"][path][method];
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| {
                panic!("{service}: {method} {path} documents no JSON body: {operation}")
            })
            .trim_start_matches("#/components/schemas/")
            .to_owned()
    };
    use protocol::paths;
    for (service, method, path, schema) in [
        (
            "forticare",
            "post",
            paths::ADMIN_HARDWARE_TOKENS,
            "NewHardwareBatch",
        ),
        (
            "appliance",
            "post",
            paths::APPLIANCE_HARDWARE_ACTIVATE,
            "HardwareActivate",
        ),
        (
            "appliance",
            "post",
            paths::APPLIANCE_HARDWARE_IMPORT,
            "SeedFileImport",
        ),
        (
            "appliance",
            "post",
            paths::APPLIANCE_HARDWARE_ASSIGN,
            "HardwareAssign",
        ),
        ("appliance", "post", paths::APPLIANCE_USERS, "NewUser"),
        (
            "appliance",
            "post",
            paths::APPLIANCE_SEND_ACTIVATION,
            "SendActivation",
        ),
        (
            "appliance",
            "patch",
            paths::APPLIANCE_MESSAGING,
            "MessagingChange",
        ),
        ("appliance", "post", paths::SMS_GATEWAY, "SmsSubmit"),
        ("phone", "post", paths::PHONE_SCAN, "ScanRequest"),
    ] {
        assert_eq!(
            body_schema(service, method, path),
            schema,
            "{service}: {method} {path}"
        );
        assert!(
            documents[service]["components"]["schemas"][schema].is_object(),
            "{service}: {schema} is not in the components"
        );
    }
    let parameters: BTreeSet<&str> = documents["appliance"]["paths"][paths::ADMIN_MESSAGES]["get"]
        ["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["recipient", "kind", "appliance", "limit"])
    );
    let debug: Vec<&str> =
        documents["appliance"]["paths"][paths::APPLIANCE_HARDWARE_ACTIVATE]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap())
            .collect();
    assert_eq!(debug, ["debug"]);
    suite.stop().await;
}
