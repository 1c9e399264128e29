//! The routes `template.yaml` gives API Gateway, the routes the functions serve and the paths
//! `openapi.yaml` documents must be one and the same set.

use crate::support::TestApp;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo_file(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(name),
    )
    .unwrap()
}

fn value_after(line: &str, key: &str) -> Option<String> {
    line.trim()
        .strip_prefix(key)
        .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_owned())
}

/// (function, METHOD, path) for every HttpApi event in the SAM template.
pub(crate) fn template_routes() -> BTreeSet<(String, String, String)> {
    let text = repo_file("template.yaml");
    let mut routes = BTreeSet::new();
    let mut function = String::new();
    let mut path: Option<String> = None;
    for line in text.lines() {
        if let Some(dir) = value_after(line, "CodeUri:") {
            function = dir
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned();
        }
        if let Some(p) = value_after(line, "Path:") {
            path = Some(p);
        }
        if let Some(m) = value_after(line, "Method:") {
            let p = path.take().expect("Method: follows Path: in template.yaml");
            routes.insert((function.clone(), m.to_uppercase(), p));
        }
    }
    routes
}

/// (METHOD, path) for every operation in the OpenAPI document.
fn openapi_routes() -> BTreeSet<(String, String)> {
    let text = repo_file("openapi.yaml");
    let mut in_paths = false;
    let mut current = String::new();
    let mut routes = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("paths:") {
            in_paths = true;
            continue;
        }
        if in_paths && !line.starts_with(' ') && !line.trim().is_empty() {
            in_paths = false;
        }
        if !in_paths {
            continue;
        }
        if line.starts_with("  /") {
            current = line.trim().trim_end_matches(':').to_owned();
        } else if let Some(m) = ["get:", "post:", "delete:", "put:", "patch:"]
            .iter()
            .find(|m| line.trim() == **m && line.starts_with("    ") && !line.starts_with("     "))
        {
            routes.insert((m.trim_end_matches(':').to_uppercase(), current.clone()));
        }
    }
    routes
}

#[test]
fn template_routers_and_openapi_declare_the_same_routes() {
    let served: BTreeSet<(String, String, String)> = dev_server::all_routes()
        .into_iter()
        .map(|(f, m, p)| (f.to_owned(), m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(
        template_routes(),
        served,
        "template.yaml vs the functions' ROUTES"
    );
    let served_paths: BTreeSet<(String, String)> =
        served.into_iter().map(|(_, m, p)| (m, p)).collect();
    assert_eq!(
        openapi_routes(),
        served_paths,
        "openapi.yaml vs the functions' ROUTES"
    );
}

/// The function registry is the `functions/` folder: each folder is one crate and one
/// Lambda. The dev server's route list, the template's functions and each function's sample
/// event must cover exactly those folders (`jobs` serves no route: it runs on a schedule).
#[test]
fn every_function_folder_is_served_deployed_and_has_a_sample_event() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let folders: BTreeSet<String> = std::fs::read_dir(root.join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut served: BTreeSet<String> = dev_server::all_routes()
        .into_iter()
        .map(|(f, _, _)| f.to_owned())
        .collect();
    served.insert("jobs".into());
    assert_eq!(served, folders, "dev_server::all_routes vs functions/");
    let template = repo_file("template.yaml");
    for f in &folders {
        assert!(
            template.contains(&format!("CodeUri: functions/{f}")),
            "template.yaml has no function with CodeUri functions/{f}"
        );
        let has_event = std::fs::read_dir(root.join("events")).unwrap().any(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.starts_with(&format!("{f}-")) || name == format!("{f}.json")
        });
        assert!(has_event, "no sample event in events/ for {f}");
    }
}

/// `scripts/gen-events.py` writes one sample event per route `template.yaml` deploys; a
/// route added without regenerating them (or an event left for a removed route) shows here.
#[test]
fn every_deployed_route_has_exactly_its_sample_events() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sampled = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("events")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let event: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(key) = event["routeKey"].as_str() {
            sampled.insert(key.to_owned());
        }
    }
    let deployed: BTreeSet<String> = template_routes()
        .into_iter()
        .map(|(_, method, path)| format!("{method} {path}"))
        .collect();
    assert_eq!(
        sampled, deployed,
        "events/ vs template.yaml: run make events"
    );
}

/// `Globals` reach every function, so a secret there would reach functions that never read
/// it; each secret is on the functions that do.
#[test]
fn template_globals_carry_no_secret_and_every_function_gets_the_database() {
    let template = repo_file("template.yaml");
    let globals = template
        .split("\nGlobals:")
        .nth(1)
        .and_then(|rest| rest.split("\nResources:").next())
        .expect("template.yaml has Globals and Resources");
    let globals: String = globals
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [
        "MONGODB_URI",
        "PHONEPE_CLIENT_SECRET",
        "PHONEPE_WEBHOOK_USERNAME",
        "PHONEPE_WEBHOOK_PASSWORD",
        "CLERK_SECRET_KEY",
    ] {
        assert!(!globals.contains(secret), "{secret} is in Globals");
    }
    let functions = template.matches("Type: AWS::Serverless::Function").count();
    assert_eq!(
        template.matches("MONGODB_URI: !Ref MongoDbUri").count(),
        functions,
        "every function gets MONGODB_URI on its own"
    );
}

#[tokio::test]
async fn every_declared_route_is_served() {
    let app = TestApp::spawn().await;
    for (_, method, path) in dev_server::all_routes() {
        let concrete = path
            .replace("{slug}", "some-slug")
            .replace("{id}", "6745f0c2a1b2c3d4e5f60718")
            .replace("{module}", "api.js");
        let res = app
            .call(
                method.parse().unwrap(),
                &concrete,
                None,
                Some(serde_json::json!({})),
            )
            .await;
        let code = res.body["code"].as_str().unwrap_or_default();
        assert!(
            code != "ROUTE_NOT_FOUND" && code != "METHOD_NOT_ALLOWED",
            "{method} {path}: {}",
            res.body
        );
    }
}
