//! One Lambda binary that answers both API Gateway (HTTP API v2) events and direct
//! invocations (AWS console, `sam local invoke`, `cargo lambda invoke`), for `admin-ship`.

use axum::Router;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::aws_lambda_events::encodings::Body as EventBody;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::future::Future;
use tower::ServiceExt;

/// An API Gateway HTTP API event always carries `requestContext` and `routeKey`.
pub fn is_http_event(event: &Value) -> bool {
    event.get("requestContext").is_some() && event.get("routeKey").is_some()
}

/// Serves an HTTP API event through `router` and renders the result as API Gateway expects.
pub async fn handle_http_event(
    router: Router,
    event: Value,
    ctx: lambda_runtime::Context,
) -> anyhow::Result<Value> {
    if is_unreadable_query(event.get("rawQueryString").and_then(Value::as_str)) {
        return Ok(serde_json::to_value(
            unreadable_query(&ctx.request_id).await,
        )?);
    }
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        // An event lambda_http cannot read (a malformed query string, say) is still the
        // caller's mistake: a problem document, never a failed invocation.
        Err(e) => {
            tracing::warn!(error = %e, "unreadable API Gateway event");
            let problem = crate::Error::field("request", "is not a request this API can read");
            let response = axum::response::IntoResponse::into_response(problem);
            return render(response).await;
        }
    };
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ctx);
    let request = http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
    let request = crate::http::without_stage(request);
    let response = router.oneshot(request).await?;
    render(response).await
}

async fn render(response: axum::response::Response) -> anyhow::Result<Value> {
    Ok(serde_json::to_value(gateway_response(response).await?)?)
}

async fn gateway_response(
    response: axum::response::Response,
) -> anyhow::Result<ApiGatewayV2httpResponse> {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = parts.status.as_u16() as i64;
    // A PDF read as UTF-8 would reach the owner with every non-UTF-8 byte replaced: API
    // Gateway takes anything that is not text as base64, and decodes it on the way out.
    let is_text = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(is_text_content_type);
    out.headers = parts.headers;
    match is_text
        .then(|| String::from_utf8(bytes.to_vec()).ok())
        .flatten()
    {
        Some(text) => out.body = Some(EventBody::Text(text)),
        None => {
            out.is_base64_encoded = true;
            out.body = Some(EventBody::Binary(bytes.to_vec()));
        }
    }
    Ok(out)
}

/// Whether a body of this media type is text API Gateway can pass on as it is.
fn is_text_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || essence.ends_with("json")
        || essence.ends_with("+xml")
        || essence == "application/xml"
        || essence == "application/javascript"
}

/// Whether an event's `rawQueryString` cannot be part of a URI (a raw space, `"`, `<`, …).
/// API Gateway passes such a query on as the client sent it, and lambda_http panics turning
/// the event into a request.
pub fn is_unreadable_query(raw: Option<&str>) -> bool {
    raw.is_some_and(|q| {
        !q.is_empty() && format!("/?{q}").parse::<http::uri::PathAndQuery>().is_err()
    })
}

/// The answer to an event whose query string cannot be read: `400 VALIDATION_FAILED` naming
/// the query, with Lambda's request id in the problem and its header, as every answer has.
pub async fn unreadable_query(request_id: &str) -> ApiGatewayV2httpResponse {
    let problem = crate::Error::field(
        "query",
        "must be percent-encoded: a raw space, '\"' or other character a URL cannot carry is not a query string",
    );
    let mut response = crate::request_id::REQUEST_ID
        .scope(request_id.to_owned(), async {
            axum::response::IntoResponse::into_response(problem)
        })
        .await;
    if let Ok(id) = http::HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert(crate::request_id::X_REQUEST_ID.clone(), id);
    }
    match gateway_response(response).await {
        Ok(out) => out,
        // A problem document's body is in memory: reading it cannot fail.
        Err(_) => {
            let mut out = ApiGatewayV2httpResponse::default();
            out.status_code = 400;
            out
        }
    }
}

/// Runs a Lambda whose events are either HTTP API requests (served by `router`) or direct
/// JSON invocations (answered by `direct`).
pub async fn run_mixed<F, Fut>(router: Router, direct: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Value) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Value> + Send,
{
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let router = router.clone();
        let direct = direct.clone();
        async move {
            let (payload, ctx) = event.into_parts();
            if is_http_event(&payload) {
                handle_http_event(router, payload, ctx)
                    .await
                    .map_err(lambda_runtime::Error::from)
            } else {
                Ok(direct(payload).await)
            }
        }
    }))
    .await
}
