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
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = parts.status.as_u16() as i64;
    out.headers = parts.headers;
    out.body = Some(EventBody::Text(
        String::from_utf8_lossy(&bytes).into_owned(),
    ));
    Ok(serde_json::to_value(out)?)
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
