//! `GET /admin`: the owner console, one HTML page with its script (an ES module importing the
//! others from `/admin/console.modules/`) and styles, embedded in and served by this function
//! so that in AWS it shares the API's origin and needs no CORS or second host.
//!
//! The page is public (it is only HTML); everything it shows comes from the admin routes,
//! which want the admin's token. Its Content-Security-Policy allows the page's own origin and,
//! when `CLERK_PUBLISHABLE_KEY` is set, Clerk's Frontend API, derived from that key, and
//! nothing else: an injected script could not load code or send a token anywhere.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use common::platform::config::{Reader, Section};
use common::platform::problem_codes::ProblemCode;
use common::platform::Error;

const PAGE: &str = include_str!("../console/index.html");
const SCRIPT: &str = include_str!("../console/console.js");
/// The modules `console.js` imports, by the name they are served under
/// (`/admin/console.modules/{name}`); `openapi.yaml` lists the same names.
pub const MODULES: &[(&str, &str)] = &[
    ("api.js", include_str!("../console/console.modules/api.js")),
    ("dom.js", include_str!("../console/console.modules/dom.js")),
    (
        "format.js",
        include_str!("../console/console.modules/format.js"),
    ),
    (
        "orders.js",
        include_str!("../console/console.modules/orders.js"),
    ),
    (
        "products.js",
        include_str!("../console/console.modules/products.js"),
    ),
    (
        "coupons.js",
        include_str!("../console/console.modules/coupons.js"),
    ),
    (
        "variants.js",
        include_str!("../console/console.modules/variants.js"),
    ),
    (
        "imports.js",
        include_str!("../console/console.modules/imports.js"),
    ),
];
const STYLES: &str = include_str!("../console/console.css");

/// Where the page loads Clerk's browser SDK from, on the instance's own Frontend API host.
/// Major version 5 is pinned so that a breaking release cannot change the console unseen.
const CLERK_JS_PATH: &str = "/npm/@clerk/clerk-js@5/dist/clerk.browser.js";

/// The Clerk instance the console signs the owner in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clerk {
    pub publishable_key: String,
    /// `https://<frontend api host>`, the only outside origin the page may talk to.
    pub origin: String,
}

/// Reads the Frontend API host out of a publishable key: `pk_test_`/`pk_live_` followed by
/// the base64 of `<host>$`. The host is checked to be a plain DNS name, because it is written
/// into a CSP header and a `<script src>`, where anything else could widen either.
pub fn clerk_from_key(key: &str) -> Result<Clerk, String> {
    let bad = || {
        "CLERK_PUBLISHABLE_KEY is not a Clerk publishable key (pk_test_… or pk_live_…)".to_owned()
    };
    let key = key.trim();
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(bad)?;
    // Clerk's keys carry padding, but a key pasted without it is still unambiguous.
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let host = text.strip_suffix('$').ok_or_else(bad)?;
    let labels_ok = host.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if !labels_ok || !host.contains('.') || host.len() > 253 {
        return Err(bad());
    }
    Ok(Clerk {
        publishable_key: key.to_owned(),
        origin: format!("https://{}", host.to_ascii_lowercase()),
    })
}

/// The console's setting, `CLERK_PUBLISHABLE_KEY`, read at cold start with the function's
/// other sections: Clerk, unset (sign-in by a token in the URL fragment only), or a key that
/// does not parse. That last is not a start-up failure, since the owner's API does not depend
/// on it: the page tells whoever opens it, who is the person able to fix the setting.
#[derive(Clone)]
pub struct ConsoleConfig {
    clerk: Result<Option<Clerk>, String>,
}

impl ConsoleConfig {
    pub fn with_key(publishable_key: Option<&str>) -> Self {
        let clerk = publishable_key.map(clerk_from_key).transpose();
        if let Err(e) = &clerk {
            tracing::error!(error = %e, "the owner console cannot sign in with Clerk");
        }
        ConsoleConfig { clerk }
    }
}

impl Section for ConsoleConfig {
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        Some(ConsoleConfig::with_key(
            r.get("CLERK_PUBLISHABLE_KEY").as_deref(),
        ))
    }
}

/// The console's routes: the page, its script and its modules, and its styles.
pub fn router(config: ConsoleConfig) -> Router {
    Router::new()
        .route("/admin", get(page))
        .route("/admin/console.js", get(script))
        .route("/admin/console.modules/{module}", get(module))
        .route("/admin/console.css", get(styles))
        .with_state(config)
}

/// Inserted values are attribute text: escaping keeps a key from ever becoming markup.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The policy for the page. `style-src` gets a per-response nonce only with Clerk, whose UI
/// injects `<style>` elements at run time and is handed the nonce to mark them with.
pub fn content_security_policy(clerk: Option<&Clerk>, nonce: &str) -> String {
    let (outside, style_nonce) = match clerk {
        Some(c) => (format!(" {}", c.origin), format!(" 'nonce-{nonce}'")),
        None => (String::new(), String::new()),
    };
    format!(
        "default-src 'self'; script-src 'self'{outside}; connect-src 'self'{outside}; \
         img-src 'self' data: https:; style-src 'self'{style_nonce}; worker-src 'self' blob:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// Headers every console response carries: nothing is cached (a console after a deploy must
/// be the new one, and the page must never be served to the next user of a shared machine),
/// nothing is sniffed into another type, and nothing leaks the URL onwards.
fn common_headers(content_type: &'static str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h
}

async fn page(State(settings): State<ConsoleConfig>) -> Response {
    let clerk = match &settings.clerk {
        Ok(c) => c.as_ref(),
        Err(e) => return Error::new(ProblemCode::ConsoleMisconfigured, e.clone()).into_response(),
    };
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let clerk_script = match clerk {
        Some(c) => format!(
            "<script defer crossorigin=\"anonymous\" src=\"{}{CLERK_JS_PATH}\" \
             data-clerk-publishable-key=\"{}\"></script>",
            attr(&c.origin),
            attr(&c.publishable_key)
        ),
        None => String::new(),
    };
    let body = PAGE
        .replace("{{CLERK_SCRIPT}}", &clerk_script)
        .replace("{{NONCE}}", &nonce);
    let mut headers = common_headers("text/html; charset=utf-8");
    let csp = content_security_policy(clerk, &nonce);
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp).expect("the policy is ASCII: the host was checked"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    (headers, body).into_response()
}

async fn script() -> Response {
    javascript(SCRIPT)
}

/// Browsers run a module only when it is served as JavaScript.
fn javascript(source: &'static str) -> Response {
    (common_headers("text/javascript; charset=utf-8"), source).into_response()
}

async fn module(Path(name): Path<String>) -> Response {
    match MODULES.iter().find(|(n, _)| *n == name) {
        Some((_, source)) => javascript(source),
        // Exactly as for a path nobody serves.
        None => Error::new(ProblemCode::RouteNotFound, "No such route").into_response(),
    }
}

async fn styles() -> Response {
    (common_headers("text/css; charset=utf-8"), STYLES).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(host: &str) -> String {
        format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode(format!("{host}$"))
        )
    }

    #[test]
    fn the_frontend_api_origin_comes_out_of_the_key() {
        let c = clerk_from_key(&key("smart-owl-12.clerk.accounts.dev")).unwrap();
        assert_eq!(c.origin, "https://smart-owl-12.clerk.accounts.dev");
        let live = key("clerk.pitalya.in").replace("pk_test_", "pk_live_");
        assert_eq!(
            clerk_from_key(&live).unwrap().origin,
            "https://clerk.pitalya.in"
        );
        let unpadded = key("clerk.pitalya.in").trim_end_matches('=').to_owned();
        assert!(clerk_from_key(&unpadded).is_ok());
    }

    #[test]
    fn keys_that_would_widen_the_policy_are_refused() {
        for host in [
            "evil.example; script-src *",
            "clerk.example/x",
            "clerk.example:8443",
            "localhost",
            "*.example.com",
            "a..b",
            "\"><script>",
        ] {
            assert!(clerk_from_key(&key(host)).is_err(), "{host}");
        }
        for raw in ["", "sk_test_abc", "pk_test_%%%", "pk_test_"] {
            assert!(clerk_from_key(raw).is_err(), "{raw}");
        }
        // Base64 of a host without Clerk's `$` terminator.
        let no_dollar = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD.encode("clerk.example.com")
        );
        assert!(clerk_from_key(&no_dollar).is_err());
    }

    #[test]
    fn the_policy_names_clerk_only_when_configured() {
        let plain = content_security_policy(None, "n1");
        assert!(!plain.contains("https://"), "{plain}");
        assert!(!plain.contains("nonce"), "{plain}");
        let c = clerk_from_key(&key("clerk.pitalya.in")).unwrap();
        let with = content_security_policy(Some(&c), "n1");
        assert!(with.contains("script-src 'self' https://clerk.pitalya.in;"));
        assert!(with.contains("connect-src 'self' https://clerk.pitalya.in;"));
        assert!(with.contains("style-src 'self' 'nonce-n1';"));
    }
}
