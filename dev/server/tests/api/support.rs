//! The test harness: one app per test, on a real port, over a fresh database.

#![allow(dead_code)]

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::Response;
use common::platform::clock::{Clock as _, TestClock};
use common::platform::services::Services;
use dev_server::token::{self, TokenSpec};
use dev_server::Functions;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub const ISSUER: &str = "https://clerk.test.pitalya.example";
pub const KID: &str = "ins_test_key_1";
pub const PRIVATE_PEM: &str = include_str!("../fixtures/clerk-test-private.pem");
pub const PUBLIC_PEM: &str = include_str!("../fixtures/clerk-test-public.pem");
pub const OTHER_PRIVATE_PEM: &str = include_str!("../fixtures/other-key-private.pem");
pub const JWKS: &str = include_str!("../fixtures/clerk-test-jwks.json");
pub const OPS_ADMIN: &str = "user_ops_admin";
pub const SELLER_NAME: &str = "Pitalya Handicrafts Private Limited";
pub const SELLER_GSTIN: &str = "33AABCP1234Q1ZE";
pub const SELLER_ADDRESS: &str = "14 Car Street, Mylapore, Chennai, Tamil Nadu 600004";

pub fn mongodb_uri() -> String {
    std::env::var("MONGODB_URI").expect(
        "integration tests need MONGODB_URI (run `make test`, which starts a throw-away SecantusDB)",
    )
}

pub fn base_vars(db: &str) -> HashMap<String, String> {
    HashMap::from([
        ("MONGODB_URI".into(), mongodb_uri()),
        ("MONGODB_DB".into(), db.into()),
        ("CLERK_ISSUER".into(), ISSUER.into()),
        ("CLERK_JWT_KEY".into(), PUBLIC_PEM.into()),
        ("ADMIN_USER_IDS".into(), OPS_ADMIN.into()),
        // The sample seller of `make dev`: registered in Tamil Nadu, shipping free.
        ("SELLER_NAME".into(), SELLER_NAME.into()),
        ("SELLER_GSTIN".into(), SELLER_GSTIN.into()),
        ("SELLER_ADDRESS".into(), SELLER_ADDRESS.into()),
    ])
}

pub struct TestApp {
    pub base: String,
    pub addr: SocketAddr,
    pub services: Services,
    /// What every function was built from; `services` is its core.
    pub functions: Functions,
    /// Every function's clock: a test moves it past a deadline instead of sleeping.
    pub clock: Arc<TestClock>,
    pub http: reqwest::Client,
    /// Every answer of this app that did not match `openapi.yaml` (see `openapi.rs`).
    violations: Violations,
}

type Violations = Arc<Mutex<Vec<String>>>;

/// The header a response that broke the spec carries to the test that asked for it, so
/// `read` fails right there, at the request, with the whole account.
const VIOLATION_HEADER: &str = "x-test-openapi-violation";

/// Holds every answer to `openapi.yaml` on its way out (whoever sent the request: `call`,
/// `read` or a test's own reqwest), and records what does not match.
async fn check_against_openapi(
    State(violations): State<Violations>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let res = next.run(req).await;
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("a response body");
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    if let Err(violation) =
        crate::openapi::check(&method, &path, parts.status.as_u16(), content_type, &bytes)
    {
        // Header values are visible ASCII: the account travels escaped, `read` unescapes it.
        let mut escaped: String = violation.escape_default().collect();
        escaped.truncate(6000);
        if let Ok(v) = HeaderValue::from_str(&escaped) {
            parts.headers.insert(VIOLATION_HEADER, v);
        }
        violations.lock().unwrap().push(violation);
    }
    Response::from_parts(parts, Body::from(bytes))
}

impl Drop for TestApp {
    /// A response that broke the spec fails its test even when the test read it with its own
    /// client and never looked.
    fn drop(&mut self) {
        let violations = self.violations.lock().unwrap();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "{} response(s) did not match openapi.yaml:\n{}",
                violations.len(),
                violations.join("\n\n")
            );
        }
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Asserts a problem document with this status and code, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert!(
            self.body["requestId"].is_string(),
            "problem without requestId: {}",
            self.body
        );
        &self.body
    }

    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            self.status.is_success(),
            "status {}: {}",
            self.status,
            self.body
        );
        &self.body
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Spawns with extra or overridden settings.
    pub async fn spawn_with(tweak: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
        let db = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let mut vars = base_vars(&db);
        tweak(&mut vars);
        unreachable_unless_given(&mut vars);
        let settings = common::platform::config::from_vars(&vars).expect("test config");
        let clock = TestClock::new();
        let functions = Functions::build(settings, clock.clone())
            .await
            .expect("functions");
        Self::serve(functions, clock).await
    }

    /// Serves the whole API built from `functions`, on `clock`, on a fresh port.
    pub async fn serve(functions: Functions, clock: Arc<TestClock>) -> TestApp {
        let violations = Violations::default();
        let app = dev_server::app(&functions).layer(middleware::from_fn_with_state(
            violations.clone(),
            check_against_openapi,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        TestApp {
            base: format!("http://{addr}"),
            addr,
            services: functions.services.clone(),
            functions,
            clock,
            http: reqwest::Client::new(),
            violations,
        }
    }

    pub fn jobs(&self) -> jobs::Jobs {
        self.functions.jobs()
    }

    pub fn token(&self, user: &str) -> String {
        sign(&spec(user))
    }

    pub fn admin_token(&self) -> String {
        sign(&TokenSpec {
            admin: true,
            ..spec("user_admin_1")
        })
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        Self::read(res).await
    }

    #[track_caller]
    pub fn read(res: reqwest::Response) -> impl std::future::Future<Output = Resp> {
        let caller = std::panic::Location::caller();
        async move {
            let status = res.status();
            let headers = res.headers().clone();
            if let Some(v) = headers.get(VIOLATION_HEADER) {
                panic!(
                    "at {caller}: the response does not match openapi.yaml:\n{}",
                    unescape(v.to_str().unwrap_or_default())
                );
            }
            Self::body_of(res, status, headers).await
        }
    }

    async fn body_of(
        res: reqwest::Response,
        status: StatusCode,
        headers: reqwest::header::HeaderMap,
    ) -> Resp {
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// Runs a direct (non-HTTP) invocation of `admin-ship`, as the console would.
    pub async fn invoke_admin(&self, event: Value) -> Value {
        self.functions.admin_ship().invoke(event).await
    }

    pub async fn seed(&self) {
        dev_server::seed::run(&self.services).await.expect("seed");
    }

    pub fn db(&self) -> &mongodb::Database {
        &self.services.db.db
    }

    /// How many documents a collection holds, for "nothing was stored" checks.
    pub async fn count(&self, collection: &str) -> u64 {
        self.db()
            .collection::<mongodb::bson::Document>(collection)
            .count_documents(mongodb::bson::doc! {})
            .await
            .unwrap()
    }
}

/// Undoes `escape_default` (`\\n`, `\\"`, `\\u{…}`), for the account a header carried.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    out.push(c);
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// A test opts into PhonePe or SES by giving their settings; without them, the functions
/// that need one get a client of nothing that listens (port 9), so a call fails at once and
/// what it would have done stays queued, and webhook credentials no caller knows.
pub fn unreachable_unless_given(vars: &mut HashMap<String, String>) {
    const NOTHING: &str = "http://127.0.0.1:9";
    if !vars.contains_key("PHONEPE_CLIENT_ID") {
        let secret = uuid::Uuid::new_v4().simple().to_string();
        for (k, v) in [
            ("PHONEPE_CLIENT_ID", "UNUSED_CLIENT".to_owned()),
            ("PHONEPE_CLIENT_SECRET", secret.clone()),
            ("PHONEPE_PG_URL", NOTHING.to_owned()),
            ("PHONEPE_OAUTH_URL", NOTHING.to_owned()),
            ("PHONEPE_WEBHOOK_USERNAME", format!("nobody-{secret}")),
            ("PHONEPE_WEBHOOK_PASSWORD", secret),
        ] {
            vars.entry(k.into()).or_insert(v);
        }
    }
    vars.entry("PHONEPE_REDIRECT_URL".into())
        .or_insert_with(|| "https://shop.pitalya.example/orders/{orderId}".into());
    if !vars.contains_key("SES_FROM") {
        vars.insert("SES_FROM".into(), "orders@pitalya.invalid".into());
        vars.insert("AWS_ENDPOINT_URL_SES".into(), NOTHING.into());
    }
}

pub fn spec(user: &str) -> TokenSpec {
    TokenSpec {
        issuer: ISSUER.into(),
        user_id: user.into(),
        admin: false,
        email: Some(format!("{user}@example.com")),
        ttl_secs: 600,
        azp: None,
    }
}

pub fn sign(spec: &TokenSpec) -> String {
    token::sign(PRIVATE_PEM.as_bytes(), KID, &token::claims(spec)).unwrap()
}

/// Rate limits count per minute of the clock: a burst straddling two windows would rightly
/// let more through, so a test of the limit starts its burst well inside one, moving the
/// clocks of all `apps` (instances sharing a database) to the next minute if this one is
/// nearly over.
pub fn inside_one_window<'a>(apps: impl IntoIterator<Item = &'a TestApp>) {
    let apps: Vec<&TestApp> = apps.into_iter().collect();
    let into_minute = apps[0].clock.now_ms().rem_euclid(60_000);
    if into_minute > 50_000 {
        let to_next = std::time::Duration::from_millis((60_000 - into_minute + 100) as u64);
        for app in apps {
            app.clock.advance(to_next);
        }
    }
}

/// A stored product's units across all its variants (its top-level `stock` for a document
/// stored before variants).
pub fn stock_of(product: &mongodb::bson::Document) -> i64 {
    let p: common::shop::catalog::Product =
        mongodb::bson::from_document(product.clone()).expect("a stored product");
    p.variants().iter().map(|v| v.stock).sum()
}

/// The id of the one variant of a product created without options; for a product not in
/// the catalog, the product's own id, as an order placed before variants names it.
pub async fn only_variant_id(
    app: &TestApp,
    product: mongodb::bson::oid::ObjectId,
) -> mongodb::bson::oid::ObjectId {
    let p = app
        .db()
        .collection::<common::shop::catalog::Product>("products")
        .find_one(mongodb::bson::doc! { "_id": product })
        .await
        .unwrap();
    match p {
        Some(p) => p.only_variant().expect("one variant").id.oid(),
        None => product,
    }
}
