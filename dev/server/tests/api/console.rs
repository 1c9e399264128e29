//! The owner console as served: its headers, a page with no inline code, a policy that names
//! Clerk's Frontend API only when a publishable key is configured, and a script that keeps
//! the token out of every place that outlives the tab. (`dev/browser-check/console.mjs`
//! drives the page itself in chromium.)

use crate::support::{Resp, TestApp};
use base64::Engine;

const CLERK_HOST: &str = "smart-owl-12.clerk.accounts.dev";

fn clerk_key(host: &str) -> String {
    format!(
        "pk_test_{}",
        base64::engine::general_purpose::STANDARD.encode(format!("{host}$"))
    )
}

/// Only the console's routes, for a given key: the key is read once per cold start, so each
/// configuration is its own server.
async fn console_with(key: Option<&str>) -> String {
    let app = common::platform::http::finish(admin_ship::console::router(
        admin_ship::console::ConsoleConfig::with_key(key),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn get(base: &str, path: &str) -> (Resp, String) {
    let res = reqwest::get(format!("{base}{path}"))
        .await
        .expect("request");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    (
        Resp {
            status,
            headers,
            body,
        },
        text,
    )
}

fn header<'a>(res: &'a Resp, name: &str) -> &'a str {
    res.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The policy's directives by name.
fn directives(csp: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            (words.next().unwrap(), words.collect())
        })
        .collect()
}

/// Every `<tag ...>` opening in the page, as its raw text.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    html.match_indices(&open)
        .map(|(i, _)| {
            let rest = &html[i..];
            &rest[..rest.find('>').expect("tag closes") + 1]
        })
        .collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

#[track_caller]
fn assert_no_inline_code(html: &str) {
    let lower = html.to_ascii_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag_end = i + lower[i..].find('>').unwrap() + 1;
        assert!(
            lower[i..tag_end].contains(" src=\""),
            "a script without src: {}",
            &html[i..tag_end]
        );
        assert!(
            lower[tag_end..].starts_with("</script>"),
            "a script with inline content: {}",
            &html[i..]
        );
    }
    assert!(!lower.contains("<style"), "an inline <style>");
    assert!(!lower.contains(" style=\""), "an inline style attribute");
    assert!(!lower.contains("javascript:"), "a javascript: URL");
    // No inline event handlers (onclick=, onload=, ...).
    let bytes = lower.as_bytes();
    for (i, _) in lower.match_indices(" on") {
        let name: String = lower[i + 1..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect();
        assert!(
            bytes.get(i + 1 + name.len()) != Some(&b'='),
            "an inline event handler: {name}"
        );
    }
}

#[tokio::test]
async fn the_console_is_one_page_with_strict_headers_and_no_inline_code() {
    let app = TestApp::spawn().await;
    let (res, html) = get(&app.base, "/admin").await;
    assert_eq!(res.status.as_u16(), 200, "{html}");
    assert_eq!(header(&res, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&res, "x-frame-options"), "DENY");
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(header(&res, "x-content-type-options"), "nosniff");
    assert_eq!(header(&res, "referrer-policy"), "no-referrer");
    assert!(res.headers.get("set-cookie").is_none());
    let csp = directives(header(&res, "content-security-policy"));
    let want = |d: &str, v: &[&str]| {
        assert_eq!(
            csp.get(d)
                .map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()),
            Some(v.to_vec()),
            "{d}"
        )
    };
    want("default-src", &["'self'"]);
    want("script-src", &["'self'"]);
    want("connect-src", &["'self'"]);
    want("style-src", &["'self'"]);
    want("img-src", &["'self'", "data:", "https:"]);
    want("frame-ancestors", &["'none'"]);
    want("base-uri", &["'none'"]);
    want("form-action", &["'self'"]);
    assert_no_inline_code(&html);
    assert!(!html.contains("clerk"), "no Clerk without a key");
    assert!(!html.contains("{{"), "every placeholder is filled");
    // Everything the page loads is on its own origin, and served.
    let scripts = tags(&html, "script");
    let links = tags(&html, "link");
    let refs: Vec<&str> = scripts
        .iter()
        .filter_map(|t| attr(t, "src"))
        .chain(links.iter().filter_map(|t| attr(t, "href")))
        .collect();
    // The icon is an empty data: URL, so the browser does not ask for /favicon.ico.
    assert_eq!(refs, ["/admin/console.js", "data:,", "/admin/console.css"]);
    for (path, media) in [
        ("/admin/console.js", "text/javascript; charset=utf-8"),
        ("/admin/console.css", "text/css; charset=utf-8"),
    ] {
        let (res, text) = get(&app.base, path).await;
        assert_eq!(res.status.as_u16(), 200, "{path}");
        assert_eq!(header(&res, "content-type"), media, "{path}");
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&res, "cache-control"), "no-store", "{path}");
        assert!(text.len() > 1000, "{path} has content");
    }
}

#[tokio::test]
async fn the_page_is_public_but_what_it_shows_is_not() {
    let app = TestApp::spawn().await;
    let (res, _) = get(&app.base, "/admin").await;
    assert_eq!(res.status.as_u16(), 200);
    app.get("/admin/orders", None)
        .await
        .problem(401, "UNAUTHENTICATED");
    app.get("/admin/orders", Some(&app.token("user_console_shopper")))
        .await
        .problem(403, "FORBIDDEN");
    // The token is never part of the page: the page is the same for everyone.
    let with_token = app.get("/admin", Some(&app.admin_token())).await;
    assert_eq!(with_token.status.as_u16(), 200);
}

#[tokio::test]
async fn with_a_publishable_key_clerk_is_loaded_from_its_frontend_api_and_only_it_is_allowed() {
    let key = clerk_key(CLERK_HOST);
    let base = console_with(Some(&key)).await;
    let (res, html) = get(&base, "/admin").await;
    assert_eq!(res.status.as_u16(), 200, "{html}");
    let origin = format!("https://{CLERK_HOST}");
    let csp = directives(header(&res, "content-security-policy"));
    assert_eq!(csp["script-src"], ["'self'", origin.as_str()]);
    assert_eq!(csp["connect-src"], ["'self'", origin.as_str()]);
    assert_eq!(csp["default-src"], ["'self'"]);
    assert_eq!(csp["frame-ancestors"], ["'none'"]);
    assert_no_inline_code(&html);
    let scripts = tags(&html, "script");
    let clerk = scripts
        .iter()
        .find(|t| attr(t, "data-clerk-publishable-key").is_some())
        .expect("the clerk-js script tag");
    assert_eq!(
        attr(clerk, "src"),
        Some(format!("{origin}/npm/@clerk/clerk-js@5/dist/clerk.browser.js").as_str())
    );
    assert_eq!(
        attr(clerk, "data-clerk-publishable-key"),
        Some(key.as_str())
    );
    // Clerk's UI injects its styles; they are allowed by this response's nonce alone.
    let nonce = csp["style-src"]
        .iter()
        .find_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .expect("a style nonce")
        .to_owned();
    assert!(nonce.len() >= 32, "{nonce}");
    let console_tag = scripts
        .iter()
        .find(|t| attr(t, "src") == Some("/admin/console.js"))
        .unwrap();
    assert_eq!(attr(console_tag, "nonce"), Some(nonce.as_str()));
    let (again, _) = get(&base, "/admin").await;
    assert!(
        !header(&again, "content-security-policy").contains(&nonce),
        "a fresh nonce per response"
    );
    // No other outside origin anywhere in the policy but the images' scheme.
    let outside: Vec<&String> = csp
        .values()
        .flatten()
        .filter(|s| s.starts_with("https://"))
        .collect();
    assert!(outside.iter().all(|s| **s == origin), "{outside:?}");
}

#[tokio::test]
async fn a_key_that_is_not_a_publishable_key_is_a_problem_not_a_wider_policy() {
    for key in [
        "sk_test_secret".to_owned(),
        clerk_key("evil.example; script-src *"),
        clerk_key("clerk.example\"><script>alert(1)</script>"),
    ] {
        let base = console_with(Some(&key)).await;
        let (res, text) = get(&base, "/admin").await;
        res.problem(500, "CONSOLE_MISCONFIGURED");
        assert!(
            res.body["detail"]
                .as_str()
                .unwrap()
                .contains("CLERK_PUBLISHABLE_KEY"),
            "{text}"
        );
        assert!(!text.contains("<script"), "{text}");
    }
}

/// The entry script and every module it imports, as served.
fn scripts() -> Vec<(&'static str, &'static str)> {
    let entry = include_str!("../../../../functions/admin-ship/console/console.js");
    std::iter::once(("console.js", entry))
        .chain(admin_ship::console::MODULES.iter().copied())
        .collect()
}

/// The relative modules a script imports (`from './x.js'`), by the name they are served under.
fn imports(source: &str) -> Vec<&str> {
    source
        .split("from '")
        .skip(1)
        .filter_map(|rest| rest.split('\'').next())
        .filter_map(|spec| {
            spec.strip_prefix("./console.modules/")
                .or_else(|| spec.strip_prefix("./"))
        })
        .collect()
}

#[tokio::test]
async fn every_module_the_console_imports_is_served_as_a_type_checked_script() {
    let app = TestApp::spawn().await;
    let served: Vec<&str> = admin_ship::console::MODULES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    for (name, source) in scripts() {
        // tsc checks every file of the console (scripts/test.sh); the marker keeps an editor
        // checking a module opened on its own too.
        assert!(source.starts_with("// @ts-check\n"), "{name}");
        for import in imports(source) {
            assert!(
                served.contains(&import),
                "{name} imports {import}, which is not served"
            );
        }
    }
    for (name, source) in admin_ship::console::MODULES {
        let path = format!("/admin/console.modules/{name}");
        let (res, text) = get(&app.base, &path).await;
        assert_eq!(res.status.as_u16(), 200, "{path}");
        // Browsers run a module only when it is served as JavaScript.
        assert_eq!(
            header(&res, "content-type"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(header(&res, "x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header(&res, "cache-control"), "no-store", "{path}");
        assert_eq!(&text, source, "{path}");
    }
    let (missing, _) = get(&app.base, "/admin/console.modules/nope.js").await;
    missing.problem(404, "ROUTE_NOT_FOUND");
    // openapi.yaml lists the same modules.
    let doc = crate::openapi::document();
    let listed: Vec<&str> = doc["paths"]["/admin/console.modules/{module}"]["get"]["parameters"][0]
        ["schema"]["enum"]
        .as_array()
        .expect("the module enum")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(listed, served);
}

#[test]
fn the_script_keeps_the_token_in_memory_and_data_out_of_markup() {
    let js: String = scripts().into_iter().map(|(_, source)| source).collect();
    for banned in [
        "localStorage",
        "sessionStorage",
        "indexedDB",
        "document.cookie",
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "http://",
        "https://cdn",
    ] {
        assert!(!js.contains(banned), "console.js uses {banned}");
    }
    // The fragment's token leaves the address bar as soon as it is read.
    assert!(js.contains("history.replaceState"));
    assert!(js.contains("credentials: 'omit'"));
}
