//! Every response the suite receives is held to `openapi.yaml`: the operation is found by
//! method and path template, the response by status (`200`, then `5XX`, then `default`), and
//! a JSON body is validated against the response's schema, turned from OpenAPI 3.0 into
//! JSON Schema (`nullable` as 3.0.3 defines it, `$ref`s into `components`). A drift between
//! the spec and what the API sends fails the test that saw it, whichever test that is.
//!
//! The spec is read and converted once per test binary, and each response schema compiled
//! once, the first time a response needs it.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

struct Operation {
    method: String,
    template: String,
    segments: Vec<String>,
    /// Status key (`200`, `5XX`, `default`) → the response object, `$ref`s followed, and the
    /// name the compiled validators are cached under.
    responses: Vec<(String, String, Value)>,
}

struct Spec {
    operations: Vec<Operation>,
    /// `components`, converted: every `$ref` in a compiled schema points into it.
    components: Value,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(load)
}

/// `openapi.yaml` as JSON: the one reader of the spec for every test that walks it.
pub fn document() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("openapi.yaml");
    yaml_serde::from_str(&text).expect("openapi.yaml is YAML")
}

fn load() -> Spec {
    let doc = document();
    let mut operations = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                continue;
            };
            let responses = responses
                .iter()
                .map(|(status, response)| {
                    let (name, response) = match response.get("$ref").and_then(Value::as_str) {
                        Some(r) => (r.to_owned(), resolve(&doc, r).clone()),
                        None => (
                            format!("{} {template} {status}", method.to_uppercase()),
                            response.clone(),
                        ),
                    };
                    (status.clone(), name, response)
                })
                .collect();
            operations.push(Operation {
                method: method.to_uppercase(),
                template: template.clone(),
                segments: template.split('/').map(str::to_owned).collect(),
                responses,
            });
        }
    }
    Spec {
        operations,
        components: to_json_schema(&doc["components"]),
        compiled: Mutex::new(HashMap::new()),
    }
}

/// The value a local `$ref` (`#/components/responses/Order`) points at.
fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').expect("only local $refs");
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("openapi.yaml: {reference} points at nothing"))
}

/// OpenAPI 3.0's schema dialect as JSON Schema 2020-12. `nullable: true` admits null to the
/// `type` beside it (and to its `enum`), and only there: 3.0.3 says so, and it is why
/// `nullable` beside an `allOf` admits nothing. A boolean `exclusiveMinimum`/`Maximum` turns
/// its bound exclusive. Everything else means the same in both.
fn to_json_schema(v: &Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(to_json_schema).collect()),
        Value::Object(m) => {
            let mut out: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "nullable" | "example"))
                .map(|(k, v)| (k.clone(), to_json_schema(v)))
                .collect();
            if m.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = m.get("type") {
                    out.insert("type".into(), serde_json::json!([t, "null"]));
                    if let Some(Value::Array(values)) = out.get_mut("enum") {
                        if !values.contains(&Value::Null) {
                            values.push(Value::Null);
                        }
                    }
                }
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(exclusive)) = m.get(flag) {
                    out.remove(flag);
                    if *exclusive {
                        if let Some(b) = out.remove(bound) {
                            out.insert(flag.into(), b);
                        }
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

impl Spec {
    /// The operation `method path` is, preferring the template with the most literal
    /// segments (`/admin/orders/export.csv` over `/admin/orders/{id}`).
    fn operation(&self, method: &str, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = path.split('/').collect();
        self.operations
            .iter()
            .filter(|op| op.method == method && op.segments.len() == segments.len())
            .filter_map(|op| {
                let mut literal = 0;
                for (t, s) in op.segments.iter().zip(&segments) {
                    if t.starts_with('{') && t.ends_with('}') {
                        if s.is_empty() {
                            return None;
                        }
                    } else if t == s {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, op))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, op)| op)
    }

    fn validator(&self, key: &str, schema: &Value) -> Arc<jsonschema::Validator> {
        // Compiled under the lock: a burst of concurrent answers (a hundred webhooks at once)
        // must not compile the same schema a hundred times over on the server's thread.
        let mut compiled = self.compiled.lock().unwrap();
        if let Some(v) = compiled.get(key) {
            return v.clone();
        }
        let root = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.components,
            "allOf": [to_json_schema(schema)],
        });
        let validator = Arc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&root)
                .unwrap_or_else(|e| {
                    panic!("openapi.yaml: the schema of {key} does not compile: {e}")
                }),
        );
        compiled.insert(key.to_owned(), validator.clone());
        validator
    }
}

fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// Checks one response against the spec: `Err` with a readable account of every mismatch.
/// Requests the spec has no operation for (unknown routes, CORS preflights, a method a path
/// does not have) are the router's business and pass: `routes.rs` holds the route sets equal.
pub fn check(
    method: &str,
    path: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), String> {
    let spec = spec();
    let Some(op) = spec.operation(method, path) else {
        return Ok(());
    };
    let status_text = status.to_string();
    let range = format!("{}XX", status / 100);
    let found = ["exact", "range", "default"].iter().find_map(|kind| {
        op.responses.iter().find(|(key, _, _)| match *kind {
            "exact" => *key == status_text,
            "range" => *key == range,
            _ => key == "default",
        })
    });
    let here = format!("{method} {path} (openapi: {method} {})", op.template);
    let Some((key, name, response)) = found else {
        return Err(format!(
            "{here} answered {status}, which openapi.yaml does not document for this operation"
        ));
    };
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return Ok(());
    };
    if body.is_empty() && content.is_empty() {
        return Ok(());
    }
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let Some(declared) = content.get(&media) else {
        return Err(format!(
            "{here} answered {status} as {media:?}; openapi.yaml's response {key} ({name}) declares {:?}",
            content.keys().collect::<Vec<_>>()
        ));
    };
    if !is_json(&media) {
        return Ok(());
    }
    let Some(schema) = declared.get("schema") else {
        return Ok(());
    };
    let instance: Value = serde_json::from_slice(body).map_err(|e| {
        format!("{here} answered {status} as {media} with a body that is not JSON: {e}")
    })?;
    let validator = spec.validator(&format!("{name} {media}"), schema);
    let problems: Vec<String> = validator
        .iter_errors(&instance)
        .take(8)
        .map(|e| format!("  at {:?}: {e}", e.instance_path().to_string()))
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    let mut shown = instance.to_string();
    if shown.len() > 1500 {
        let cut = (0..=1500)
            .rev()
            .find(|i| shown.is_char_boundary(*i))
            .unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    Err(format!(
        "{here} answered {status} with a body that does not match openapi.yaml's response {key} ({name}):\n{}\nbody: {shown}",
        problems.join("\n")
    ))
}

#[test]
fn the_converter_reads_nullable_as_openapi_3_0_3_defines_it() {
    let v = |schema: Value, instance: Value| {
        let root = serde_json::json!({ "allOf": [to_json_schema(&schema)] });
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap()
            .is_valid(&instance)
    };
    let nullable_string = serde_json::json!({ "type": "string", "nullable": true });
    assert!(v(nullable_string.clone(), Value::Null));
    assert!(v(nullable_string, "x".into()));
    assert!(!v(serde_json::json!({ "type": "string" }), Value::Null));
    let nullable_enum =
        serde_json::json!({ "type": "integer", "nullable": true, "enum": [0, 500] });
    assert!(v(nullable_enum.clone(), Value::Null));
    assert!(!v(nullable_enum, 7.into()));
    // `nullable` beside `allOf` admits nothing the `allOf` refuses: the drift this found.
    let beside_all_of = serde_json::json!({
        "type": "object", "nullable": true, "allOf": [{ "type": "object", "required": ["number"] }]
    });
    assert!(!v(beside_all_of, Value::Null));
    let exclusive =
        serde_json::json!({ "type": "integer", "minimum": 0, "exclusiveMinimum": true });
    assert!(!v(exclusive.clone(), 0.into()));
    assert!(v(exclusive, 1.into()));
}

#[test]
fn operations_are_found_by_their_most_literal_template() {
    let spec = spec();
    let find = |m: &str, p: &str| spec.operation(m, p).map(|o| o.template.as_str());
    assert_eq!(
        find("GET", "/admin/orders/export.csv"),
        Some("/admin/orders/export.csv")
    );
    assert_eq!(
        find("GET", "/admin/orders/PIT-1001"),
        Some("/admin/orders/{id}")
    );
    assert_eq!(find("GET", "/orders/my"), Some("/orders/my"));
    assert_eq!(
        find(
            "GET",
            "/admin/orders/6745f0c2a1b2c3d4e5f60701/credit-notes/PCN-2627-000001.pdf"
        ),
        Some("/admin/orders/{id}/credit-notes/{number}")
    );
    assert_eq!(find("DELETE", "/orders/my"), None);
    assert_eq!(find("GET", "/nowhere"), None);
    assert!(check(
        "GET",
        "/health",
        200,
        Some("application/json"),
        br#"{"status":"ok"}"#
    )
    .is_ok());
    let wrong = check(
        "GET",
        "/health",
        200,
        Some("application/json"),
        br#"{"status":1}"#,
    );
    assert!(wrong.unwrap_err().contains("/status"));
    let undocumented = check("GET", "/health", 418, None, b"");
    assert!(undocumented.unwrap_err().contains("does not document"));
}
