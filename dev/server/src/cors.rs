//! CORS for the dev server, as API Gateway's `CorsConfiguration` answers it in AWS (see
//! `CorsAllowedOrigins` in template.yaml): a storefront on another port must be able to call
//! `make dev` from a browser, tracing headers included, and read the headers it needs.

use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::Router;
use std::sync::Arc;

const ALLOW_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "authorization, content-type, idempotency-key, x-request-id, \
     traceparent, tracestate, baggage, sentry-trace";
const EXPOSE_HEADERS: &str = "x-request-id, retry-after, www-authenticate";
const MAX_AGE_SECS: &str = "600";

/// `CORS_ALLOWED_ORIGINS`: `*`, or a comma list of exact origins (`https://shop.example`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "*" {
            return Ok(AllowedOrigins::Any);
        }
        let list: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        match list
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
        {
            Some(bad) => Err(format!(
                "CORS_ALLOWED_ORIGINS: {bad:?} is not an origin like https://shop.example"
            )),
            None if list.is_empty() => Err("CORS_ALLOWED_ORIGINS is empty".into()),
            None => Ok(AllowedOrigins::List(list)),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// The router, answering preflights and marking responses for the allowed origins. The
/// request's own origin is echoed (with `Vary: Origin`) rather than `*`, so a storefront that
/// sends credentials works the same as one that does not.
pub fn allow(router: Router, origins: AllowedOrigins) -> Router {
    let origins = Arc::new(origins);
    router.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let origins = Arc::clone(&origins);
            async move {
                let origin = req
                    .headers()
                    .get(header::ORIGIN)
                    .and_then(|v| v.to_str().ok())
                    .filter(|o| origins.allows(o))
                    .and_then(|o| HeaderValue::from_str(o).ok());
                let Some(origin) = origin else {
                    return next.run(req).await;
                };
                let preflight = req.method() == Method::OPTIONS
                    && req
                        .headers()
                        .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
                let mut res = if preflight {
                    let mut res = StatusCode::NO_CONTENT.into_response();
                    let h = res.headers_mut();
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static(ALLOW_METHODS),
                    );
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_HEADERS,
                        HeaderValue::from_static(ALLOW_HEADERS),
                    );
                    h.insert(
                        header::ACCESS_CONTROL_MAX_AGE,
                        HeaderValue::from_static(MAX_AGE_SECS),
                    );
                    res
                } else {
                    next.run(req).await
                };
                mark(res.headers_mut(), origin);
                res
            }
        },
    ))
}

fn mark(h: &mut HeaderMap, origin: HeaderValue) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append(header::VARY, HeaderValue::from_static("origin"));
}
