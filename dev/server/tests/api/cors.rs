//! A storefront on another origin calling the dev server, as a browser does.

use crate::support::TestApp;
use dev_server::cors::{self, AllowedOrigins};

const STOREFRONT: &str = "http://localhost:5173";

/// The app behind the dev server's CORS layer, on its own port.
async fn serve(app: &TestApp, origins: &str) -> String {
    let router = cors::allow(
        dev_server::app(&app.functions),
        AllowedOrigins::parse(origins).unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn preflight(base: &str, origin: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{base}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, idempotency-key, traceparent, sentry-trace",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_gets_204_with_every_contract_header() {
    let app = TestApp::spawn().await;
    let base = serve(&app, &format!("https://shop.example, {STOREFRONT}")).await;
    let res = preflight(&base, STOREFRONT, "/orders/create").await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some(STOREFRONT)
    );
    let methods = header(&res, "access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PATCH", "DELETE", "OPTIONS"] {
        assert!(methods.contains(m), "{methods}");
    }
    let headers = header(&res, "access-control-allow-headers").unwrap();
    for h in [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-request-id",
        "traceparent",
        "tracestate",
        "baggage",
        "sentry-trace",
    ] {
        assert!(headers.contains(h), "{headers}");
    }
    assert!(header(&res, "access-control-max-age").is_some());
}

#[tokio::test]
async fn responses_to_an_allowed_origin_expose_request_id_retry_after_and_www_authenticate() {
    let app = TestApp::spawn().await;
    let base = serve(&app, STOREFRONT).await;
    let res = reqwest::Client::new()
        .get(format!("{base}/cart"))
        .header("origin", STOREFRONT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status().as_u16(),
        401,
        "the route still answers as itself"
    );
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some(STOREFRONT)
    );
    let exposed = header(&res, "access-control-expose-headers").unwrap();
    for h in ["x-request-id", "retry-after", "www-authenticate"] {
        assert!(exposed.contains(h), "{exposed}");
    }
    assert!(header(&res, "vary").unwrap().contains("origin"));
}

#[tokio::test]
async fn another_origin_gets_no_cors_headers_and_any_origin_is_allowed_by_star() {
    let app = TestApp::spawn().await;
    let listed = serve(&app, STOREFRONT).await;
    let res = preflight(&listed, "https://evil.example", "/orders/create").await;
    assert_eq!(header(&res, "access-control-allow-origin"), None);
    assert_ne!(res.status().as_u16(), 204);

    let any = serve(&app, "*").await;
    let res = preflight(&any, "https://evil.example", "/orders/create").await;
    assert_eq!(res.status().as_u16(), 204);
    assert_eq!(
        header(&res, "access-control-allow-origin"),
        Some("https://evil.example")
    );
}

#[test]
fn cors_allowed_origins_must_be_star_or_origins() {
    assert_eq!(AllowedOrigins::parse(" * ").unwrap(), AllowedOrigins::Any);
    assert_eq!(
        AllowedOrigins::parse("https://a.example/, http://localhost:5173").unwrap(),
        AllowedOrigins::List(vec![
            "https://a.example".into(),
            "http://localhost:5173".into()
        ])
    );
    for bad in ["", " , ", "shop.example", "ftp://x"] {
        assert!(AllowedOrigins::parse(bad).is_err(), "{bad:?}");
    }
}
