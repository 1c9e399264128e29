//! Every token case `docs/security.md` lists, over HTTP, on a customer and an admin route.

use crate::support::{
    self, sign, spec, TestApp, ISSUER, JWKS, KID, OPS_ADMIN, OTHER_PRIVATE_PEM, PRIVATE_PEM,
    PUBLIC_PEM,
};
use base64::Engine;
use common::platform::auth::{JwksTiming, Verifier};
use common::platform::clock::TestClock;
use dev_server::token;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CUSTOMER_ROUTE: &str = "/cart";
const ADMIN_ROUTE: &str = "/admin/orders/64b7f0c2a1b2c3d4e5f60718/pack";

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn with_claims(edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = token::claims(&spec("user_alice"));
    edit(&mut claims);
    token::sign(PRIVATE_PEM.as_bytes(), KID, &claims).unwrap()
}

async fn status_of(app: &TestApp, path: &str, token: Option<&str>) -> u16 {
    let res = if path == ADMIN_ROUTE {
        app.post(path, token, json!({})).await
    } else {
        app.get(path, token).await
    };
    if res.status == 401 {
        res.problem(401, "UNAUTHENTICATED");
        assert_eq!(res.headers["www-authenticate"], "Bearer");
    }
    res.status.as_u16()
}

#[tokio::test]
async fn a_valid_token_is_accepted() {
    let app = TestApp::spawn().await;
    let status = status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_alice"))).await;
    assert!(status != 401 && status != 403, "got {status}");
}

#[tokio::test]
async fn bad_tokens_are_all_401() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let header_none = json!({ "alg": "none", "typ": "JWT" });
    let alg_none = format!(
        "{}.{}.",
        b64(&header_none),
        b64(&token::claims(&spec("user_alice")))
    );
    let hs256_confusion = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(KID.into());
        jsonwebtoken::encode(
            &h,
            &token::claims(&spec("user_alice")),
            &EncodingKey::from_secret(PUBLIC_PEM.as_bytes()),
        )
        .unwrap()
    };
    let wrong_key = token::sign(
        OTHER_PRIVATE_PEM.as_bytes(),
        KID,
        &token::claims(&spec("user_alice")),
    )
    .unwrap();
    let valid = app.token("user_alice");
    let mut tampered = valid.clone();
    tampered.insert(valid.find('.').unwrap() + 5, 'x');
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing header", None),
        ("garbage", Some("not-a-jwt".into())),
        ("three garbage parts", Some("a.b.c".into())),
        ("expired", Some(with_claims(|c| c["exp"] = json!(now - 60)))),
        (
            "expired within leeway is fine? no: 10 s past",
            Some(with_claims(|c| c["exp"] = json!(now - 10))),
        ),
        (
            "not yet valid",
            Some(with_claims(|c| c["nbf"] = json!(now + 120))),
        ),
        (
            "wrong issuer",
            Some(with_claims(|c| {
                c["iss"] = json!("https://evil.clerk.accounts.dev")
            })),
        ),
        (
            "no exp",
            Some(with_claims(|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
        ),
        (
            "no sub",
            Some(with_claims(|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
        ),
        (
            "session pending",
            Some(with_claims(|c| c["sts"] = json!("pending"))),
        ),
        ("wrong key", Some(wrong_key)),
        ("alg none", Some(alg_none)),
        ("HS256 signed with the public key", Some(hs256_confusion)),
        ("tampered payload", Some(tampered)),
    ];
    for (name, token) in cases {
        assert_eq!(
            status_of(&app, CUSTOMER_ROUTE, token.as_deref()).await,
            401,
            "{name}"
        );
    }
    // Non-bearer schemes are not tokens.
    let res = app
        .http
        .get(format!("{}{CUSTOMER_ROUTE}", app.base))
        .header("authorization", format!("Basic {valid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn clock_skew_within_five_seconds_is_tolerated() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let token = with_claims(|c| c["nbf"] = json!(now + 3));
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&token)).await, 401);
}

#[tokio::test]
async fn authorized_parties_are_enforced_when_configured() {
    let app = TestApp::spawn_with(|v| {
        v.insert(
            "CLERK_AUTHORIZED_PARTIES".into(),
            "https://pitalya.com, https://www.pitalya.com".into(),
        );
    })
    .await;
    let ok = sign(&dev_server::token::TokenSpec {
        azp: Some("https://www.pitalya.com".into()),
        ..spec("user_a")
    });
    let foreign = sign(&dev_server::token::TokenSpec {
        azp: Some("https://evil.example".into()),
        ..spec("user_a")
    });
    let absent = sign(&spec("user_a"));
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&ok)).await, 401);
    assert_eq!(status_of(&app, CUSTOMER_ROUTE, Some(&foreign)).await, 401);
    assert_eq!(status_of(&app, CUSTOMER_ROUTE, Some(&absent)).await, 401);
}

#[tokio::test]
async fn admin_routes_need_the_admin_role_or_an_allow_listed_user() {
    let app = TestApp::spawn().await;
    assert_eq!(status_of(&app, ADMIN_ROUTE, None).await, 401);
    let customer = app.token("user_alice");
    let res = app.post(ADMIN_ROUTE, Some(&customer), json!({})).await;
    res.problem(403, "FORBIDDEN");
    let by_role = app.admin_token();
    let status = status_of(&app, ADMIN_ROUTE, Some(&by_role)).await;
    assert!(status != 401 && status != 403, "role admin got {status}");
    let by_list = app.token(OPS_ADMIN);
    let status = status_of(&app, ADMIN_ROUTE, Some(&by_list)).await;
    assert!(
        status != 401 && status != 403,
        "allow-listed admin got {status}"
    );
    let wrong_role = with_claims(|c| c["metadata"] = json!({ "role": "editor" }));
    assert_eq!(
        app.post(ADMIN_ROUTE, Some(&wrong_role), json!({}))
            .await
            .status,
        403
    );
}

/// What the fake Clerk answers at its JWKS URL; tests change it between requests.
#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    /// A slow Clerk: the answer waits until the test releases it (`FakeJwks::release`), so a
    /// test sees who waits for a fetch without sleeping through one.
    held: bool,
}

type BreakReply = fn(&mut Reply);

/// A fake Clerk JWKS endpoint that counts how often it is fetched.
struct FakeJwks {
    url: String,
    hits: Arc<AtomicUsize>,
    reply: Arc<Mutex<Reply>>,
    released: Arc<tokio::sync::watch::Sender<u64>>,
}

impl FakeJwks {
    async fn start() -> FakeJwks {
        let hits = Arc::new(AtomicUsize::new(0));
        let reply = Arc::new(Mutex::new(Reply {
            status: 200,
            body: JWKS.into(),
            held: false,
        }));
        let released = Arc::new(tokio::sync::watch::channel(0u64).0);
        let (counter, current, gate) = (hits.clone(), reply.clone(), released.clone());
        let app = axum::Router::new().route(
            "/.well-known/jwks.json",
            axum::routing::get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let r = current.lock().unwrap().clone();
                let mut gate = gate.subscribe();
                let seen = *gate.borrow_and_update();
                async move {
                    if r.held {
                        let _ = gate.wait_for(|n| *n > seen).await;
                    }
                    (
                        axum::http::StatusCode::from_u16(r.status).unwrap(),
                        [("content-type", "application/json")],
                        r.body,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeJwks {
            url: format!("http://{addr}/.well-known/jwks.json"),
            hits,
            reply,
            released,
        }
    }

    /// Lets every held answer go.
    fn release(&self) {
        self.released.send_modify(|n| *n += 1);
    }

    /// Waits (for the verifier's task, not for time) until Clerk has been asked `n` times.
    async fn wait_for_hits(&self, n: usize) {
        for _ in 0..500 {
            if self.hits() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("Clerk was asked {} times, not {n}", self.hits());
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn answer(&self, edit: impl FnOnce(&mut Reply)) {
        edit(&mut self.reply.lock().unwrap());
    }
}

/// A JWKS URL nothing listens on.
async fn refused_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/.well-known/jwks.json")
}

/// The app with its key from `url`, configured as in production (`CLERK_JWKS_URL`).
async fn spawn_jwks(url: &str) -> TestApp {
    let url = url.to_owned();
    TestApp::spawn_with(|v| {
        v.remove("CLERK_JWT_KEY");
        v.insert("CLERK_JWKS_URL".into(), url);
    })
    .await
}

/// Like `spawn_jwks`, with a verifier whose cache timings are short enough for a test.
async fn spawn_jwks_timed(url: &str, timing: JwksTiming) -> TestApp {
    let db = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..16]);
    let mut vars = support::base_vars(&db);
    vars.remove("CLERK_JWT_KEY");
    vars.insert("CLERK_JWKS_URL".into(), url.into());
    support::unreachable_unless_given(&mut vars);
    let settings = common::platform::config::from_vars(&vars).expect("test config");
    let clock = TestClock::new();
    let mut functions = dev_server::Functions::build(settings, clock.clone())
        .await
        .expect("functions");
    let services = &mut functions.services;
    services.auth = Arc::new(
        Verifier::with_jwks_timing(&services.config.clerk, timing, clock.clone()).unwrap(),
    );
    TestApp::serve(functions, clock).await
}

fn token_with_kid(kid: &str) -> String {
    token::sign(PRIVATE_PEM.as_bytes(), kid, &token::claims(&spec("user_j"))).unwrap()
}

#[track_caller]
fn assert_try_again(res: &support::Resp, case: &str) {
    assert_try_again_in(res, 1, case);
}

#[track_caller]
fn assert_try_again_in(res: &support::Resp, retry_after: u64, case: &str) {
    assert_eq!(res.status, 503, "{case}: {}", res.body);
    res.problem(503, "TRY_AGAIN");
    assert_eq!(
        res.headers["retry-after"],
        retry_after.to_string(),
        "{case}"
    );
    assert!(res.headers.get("www-authenticate").is_none(), "{case}");
}

#[tokio::test]
async fn jwks_keys_are_fetched_once_cached_and_refetch_is_rate_limited() {
    let jwks = FakeJwks::start().await;
    let app = spawn_jwks(&jwks.url).await;
    for _ in 0..3 {
        assert_ne!(
            status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_j"))).await,
            401
        );
    }
    assert_eq!(jwks.hits(), 1, "cached across requests");
    // A flood of unknown kids triggers at most one refetch inside the floor window.
    for i in 0..5 {
        let t = token_with_kid(&format!("ins_unknown_{i}"));
        assert_eq!(status_of(&app, CUSTOMER_ROUTE, Some(&t)).await, 401);
    }
    assert!(jwks.hits() <= 2, "refetches: {}", jwks.hits());
    assert_ne!(
        status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_j"))).await,
        401
    );
}

#[tokio::test]
async fn an_unreachable_jwks_is_503_try_again_not_401() {
    let jwks = FakeJwks::start().await;
    let timing = JwksTiming {
        fetch_timeout: Duration::from_millis(300),
        ..JwksTiming::default()
    };
    let cases: [(&str, BreakReply); 4] = [
        ("non-200", |r| r.status = 500),
        ("bad JSON", |r| r.body = "<html>oops</html>".into()),
        ("no keys member", |r| r.body = "{}".into()),
        ("timeout", |r| r.held = true),
    ];
    for (case, edit) in cases {
        jwks.answer(|r| {
            *r = Reply {
                status: 200,
                body: JWKS.into(),
                held: false,
            };
            edit(r);
        });
        let app = spawn_jwks_timed(&jwks.url, timing).await;
        let started = Instant::now();
        let res = app.get(CUSTOMER_ROUTE, Some(&app.token("user_j"))).await;
        assert_try_again(&res, case);
        assert!(started.elapsed() < Duration::from_secs(2), "{case}: waited");
    }
    let app = spawn_jwks(&refused_url().await).await;
    let res = app.get(CUSTOMER_ROUTE, Some(&app.token("user_j"))).await;
    assert_try_again(&res, "connection refused");
}

#[tokio::test]
async fn a_kid_missing_from_a_fetched_jwks_stays_401() {
    let jwks = FakeJwks::start().await;
    let app = spawn_jwks(&jwks.url).await;
    let res = app
        .get(CUSTOMER_ROUTE, Some(&token_with_kid("ins_not_there")))
        .await;
    res.problem(401, "UNAUTHENTICATED");
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn a_failed_jwks_fetch_is_retried_within_seconds_not_after_the_floor() {
    let jwks = FakeJwks::start().await;
    jwks.answer(|r| r.status = 502);
    let app = spawn_jwks(&jwks.url).await;
    let token = app.token("user_j");
    assert_try_again(&app.get(CUSTOMER_ROUTE, Some(&token)).await, "Clerk down");
    jwks.answer(|r| r.status = 200);
    // Right after a failure Clerk is not asked again at once, so an outage is not a flood.
    assert_try_again(&app.get(CUSTOMER_ROUTE, Some(&token)).await, "backing off");
    assert_eq!(jwks.hits(), 1);
    app.clock.advance(Duration::from_millis(1200));
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&token)).await, 401);
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn a_jwks_fetch_is_single_flight_and_never_blocks_cached_kids() {
    let jwks = FakeJwks::start().await;
    jwks.answer(|r| r.held = true);
    let timing = JwksTiming {
        refetch_floor: Duration::ZERO,
        ..JwksTiming::default()
    };
    let app = Arc::new(spawn_jwks_timed(&jwks.url, timing).await);
    // Concurrent first requests all wait for the one fetch.
    let first: Vec<_> = (0..5)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.get(CUSTOMER_ROUTE, Some(&app.token("user_j"))).await })
        })
        .collect();
    jwks.wait_for_hits(1).await;
    jwks.release();
    for res in futures::future::join_all(first).await {
        let res = res.unwrap();
        assert!(res.status != 401 && res.status != 503, "{}", res.body);
    }
    assert_eq!(jwks.hits(), 1, "one fetch for concurrent cold requests");
    // Unknown kids start a slow refetch; a cached kid goes straight through meanwhile.
    let unknown: Vec<_> = (0..5)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let t = token_with_kid(&format!("ins_unknown_{i}"));
                app.get(CUSTOMER_ROUTE, Some(&t)).await
            })
        })
        .collect();
    // The refetch is under way and held: a cached kid must not wait for it.
    jwks.wait_for_hits(2).await;
    let started = Instant::now();
    assert_ne!(
        status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_j"))).await,
        401
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "cached kid waited {took:?}");
    jwks.release();
    for res in futures::future::join_all(unknown).await {
        res.unwrap().problem(401, "UNAUTHENTICATED");
    }
    assert_eq!(jwks.hits(), 2, "one refetch for concurrent unknown kids");
}

#[tokio::test]
async fn jwks_keys_expire_after_the_cache_ttl_and_removed_keys_stop_working() {
    let jwks = FakeJwks::start().await;
    let timing = JwksTiming {
        ttl: Duration::from_secs(2),
        ..JwksTiming::default()
    };
    let app = spawn_jwks_timed(&jwks.url, timing).await;
    let token = app.token("user_j");
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&token)).await, 401);
    jwks.answer(|r| r.body = r#"{"keys": []}"#.into());
    assert_ne!(
        status_of(&app, CUSTOMER_ROUTE, Some(&token)).await,
        401,
        "still cached"
    );
    assert_eq!(jwks.hits(), 1);
    app.clock.advance(Duration::from_millis(2100));
    assert_eq!(status_of(&app, CUSTOMER_ROUTE, Some(&token)).await, 401);
    assert_eq!(jwks.hits(), 2, "refetched once the TTL passed");
}

#[tokio::test]
async fn an_expired_key_keeps_working_while_the_jwks_is_unreachable() {
    let jwks = FakeJwks::start().await;
    let timing = JwksTiming {
        ttl: Duration::from_secs(1),
        retry_after_failure: Duration::from_secs(5),
        ..JwksTiming::default()
    };
    let app = spawn_jwks_timed(&jwks.url, timing).await;
    let token = app.token("user_j");
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&token)).await, 401);
    jwks.answer(|r| r.status = 500);
    app.clock.advance(Duration::from_millis(1100));
    for _ in 0..3 {
        let res = app.get(CUSTOMER_ROUTE, Some(&token)).await;
        assert!(res.status != 401 && res.status != 503, "{}", res.body);
    }
    assert_eq!(jwks.hits(), 2, "no refetch inside the failure back-off");
    let res = app
        .get(CUSTOMER_ROUTE, Some(&token_with_kid("ins_new_key")))
        .await;
    assert_try_again_in(&res, 5, "unknown kid while Clerk is down");
}

#[tokio::test]
async fn iat_must_be_numeric_and_not_in_the_future() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    for (case, iat, expected_401) in [
        ("a minute ahead", json!(now + 60), true),
        ("a string", json!(now.to_string()), true),
        ("null", Value::Null, true),
        ("an object", json!({ "t": now }), true),
        ("within the leeway", json!(now + 3), false),
        ("fractional, past", json!(now as f64 - 1.5), false),
    ] {
        let token = with_claims(|c| c["iat"] = iat);
        let status = status_of(&app, CUSTOMER_ROUTE, Some(&token)).await;
        assert_eq!(status == 401, expected_401, "{case}: {status}");
    }
    let absent = with_claims(|c| {
        c.as_object_mut().unwrap().remove("iat");
    });
    assert_ne!(status_of(&app, CUSTOMER_ROUTE, Some(&absent)).await, 401);
}

#[tokio::test]
async fn misshapen_email_or_metadata_claims_count_as_absent() {
    let app = TestApp::spawn().await;
    for (case, email, metadata) in [
        ("metadata a string", json!("a@example.com"), json!("admin")),
        ("metadata a number", json!("a@example.com"), json!(7)),
        ("email a number", json!(42), Value::Null),
        (
            "email an object",
            json!({ "a": "a@example.com" }),
            Value::Null,
        ),
        ("email a list", json!(["a@example.com"]), json!([1])),
    ] {
        let token = with_claims(|c| {
            c["email"] = email;
            c["metadata"] = metadata;
        });
        let status = status_of(&app, CUSTOMER_ROUTE, Some(&token)).await;
        assert!(status != 401 && status != 403, "{case}: {status}");
        let res = app.post(ADMIN_ROUTE, Some(&token), json!({})).await;
        assert_eq!(res.status, 403, "{case}: {}", res.body);
    }
    // The rest of the token still counts: a good role next to a bad e-mail is admin.
    let admin = with_claims(|c| {
        c["email"] = json!(42);
        c["metadata"] = json!({ "role": "admin" });
    });
    let status = status_of(&app, ADMIN_ROUTE, Some(&admin)).await;
    assert!(status != 401 && status != 403, "admin got {status}");
}

#[test]
fn issuer_constant_is_what_tokens_carry() {
    assert_eq!(token::claims(&support::spec("u"))["iss"], ISSUER);
}
