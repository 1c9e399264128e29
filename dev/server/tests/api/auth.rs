//! Every token case `docs/security.md` lists, over HTTP, on a customer and an admin route.

use crate::support::{
    self, sign, spec, TestApp, ISSUER, JWKS, KID, OPS_ADMIN, OTHER_PRIVATE_PEM, PRIVATE_PEM,
    PUBLIC_PEM,
};
use base64::Engine;
use dev_server::token;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

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

/// Serves a JWKS and counts how often it is fetched.
async fn jwks_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().route(
        "/.well-known/jwks.json",
        axum::routing::get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ([("content-type", "application/json")], JWKS) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/.well-known/jwks.json"), hits)
}

#[tokio::test]
async fn jwks_keys_are_fetched_once_cached_and_refetch_is_rate_limited() {
    use std::sync::atomic::Ordering;
    let (url, hits) = jwks_server().await;
    let app = TestApp::spawn_with(|v| {
        v.remove("CLERK_JWT_KEY");
        v.insert("CLERK_JWKS_URL".into(), url);
    })
    .await;
    for _ in 0..3 {
        assert_ne!(
            status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_j"))).await,
            401
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "cached across requests");
    // A flood of unknown kids triggers at most one refetch inside the floor window.
    for i in 0..5 {
        let t = token::sign(
            PRIVATE_PEM.as_bytes(),
            &format!("ins_unknown_{i}"),
            &token::claims(&spec("user_j")),
        )
        .unwrap();
        assert_eq!(status_of(&app, CUSTOMER_ROUTE, Some(&t)).await, 401);
    }
    assert!(
        hits.load(Ordering::SeqCst) <= 2,
        "refetches: {}",
        hits.load(Ordering::SeqCst)
    );
    assert_ne!(
        status_of(&app, CUSTOMER_ROUTE, Some(&app.token("user_j"))).await,
        401
    );
}

#[test]
fn issuer_constant_is_what_tokens_carry() {
    assert_eq!(token::claims(&support::spec("u"))["iss"], ISSUER);
}
