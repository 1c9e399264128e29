//! The HTTP plumbing every function shares: request ids, a tracing span per request,
//! a strict JSON body extractor, pagination parameters and the shared router layers.

use crate::error::{Error, FieldError, Result};
use crate::problem_codes::ProblemCode;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use mongodb::bson::oid::ObjectId;
use serde::de::DeserializeOwned;
use std::time::Instant;
use tracing::Instrument;

pub const MAX_BODY_BYTES: usize = 64 * 1024;
use crate::request_id::{acceptable_request_id, REQUEST_ID};
pub use crate::request_id::{current_request_id, X_REQUEST_ID};

/// Assigns the request id (the caller's, else Lambda's, else a new one), opens the request
/// span every log line of the request is written in, and echoes the id on the response.
pub async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable_request_id)
        .or_else(|| {
            req.extensions()
                .get::<lambda_http::Context>()
                .map(|c| c.request_id.clone())
                .filter(|id| !id.is_empty())
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        user_id = tracing::field::Empty,
        method = %req.method(),
        path = %req.uri().path(),
    );
    let started = Instant::now();
    let header = HeaderValue::from_str(&id).expect("request ids are ASCII by construction");
    let mut res = REQUEST_ID
        .scope(
            id,
            async move { as_problem(next.run(req).await) }.instrument(span.clone()),
        )
        .await;
    span.in_scope(|| {
        tracing::info!(
            status = res.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request finished"
        )
    });
    res.headers_mut().insert(X_REQUEST_ID.clone(), header);
    res
}

/// axum's own rejections (a path parameter that is not UTF-8, an extractor's body limit)
/// are plain text; the contract promises a problem document for every error, so they are
/// rewritten here, inside the request's scope so they carry its id.
fn as_problem(res: Response) -> Response {
    let status = res.status();
    let plain = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !plain || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let (code, detail) = match status.as_u16() {
        404 => (ProblemCode::RouteNotFound, "No such route"),
        405 => (
            ProblemCode::MethodNotAllowed,
            "This route does not accept that method",
        ),
        413 => return Error::payload_too_large().into_response(),
        415 => return Error::unsupported_media_type().into_response(),
        500..=599 => (
            ProblemCode::Internal,
            "Something went wrong on our side; it has been logged",
        ),
        _ => (ProblemCode::BadRequest, "The request is malformed"),
    };
    tracing::info!(
        status = status.as_u16(),
        code = code.as_str(),
        "framework rejection rewritten as a problem"
    );
    Error::rewritten(status, code, detail).into_response()
}

async fn fallback() -> Error {
    Error::new(ProblemCode::RouteNotFound, "No such route")
}

/// Wraps a function's router with the layers every function shares; the Lambda binaries and
/// the dev server both serve exactly this.
pub fn finish(router: Router) -> Router {
    router
        .fallback(fallback)
        .method_not_allowed_fallback(|| async {
            Error::new(
                ProblemCode::MethodNotAllowed,
                "This route does not accept that method",
            )
        })
        .layer(axum::middleware::from_fn(request_context))
}

/// A JSON request body: at most 64 KiB, unknown fields refused, and every failure a typed
/// problem naming the offending field.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self> {
        parse_json(&json_body(req).await?).map(Json)
    }
}

/// A body declared as JSON (or undeclared), read but not yet parsed: for handlers that must
/// check their path first and may be sent no body at all.
pub struct JsonBytes(axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = Error;

    async fn from_request(req: Request, _state: &S) -> Result<Self> {
        json_body(req).await.map(JsonBytes)
    }
}

impl JsonBytes {
    /// An empty body means "no fields" (`T::default()`).
    pub fn parse_optional<T: DeserializeOwned + Default>(&self) -> Result<T> {
        if self.0.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse_json(&self.0)
    }
}

/// The body's bytes, once its declared type says it is JSON. A body sent as `text/plain`,
/// a form or XML was not written for this API, so guessing it is JSON would accept what the
/// client did not mean; a missing type is let through because API Gateway may drop it.
async fn json_body(req: Request) -> Result<axum::body::Bytes> {
    if let Some(ct) = req.headers().get(axum::http::header::CONTENT_TYPE) {
        if !is_json_media_type(ct) {
            return Err(Error::unsupported_media_type());
        }
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| Error::payload_too_large())
}

/// `application/json` or any `application/<x>+json`, parameters (`; charset=utf-8`) allowed.
fn is_json_media_type(value: &HeaderValue) -> bool {
    let Ok(s) = value.to_str() else { return false };
    let essence = s
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// Parses a JSON body the way `Json` does; exposed for direct (non-HTTP) invocations.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::payload_too_large());
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::invalid_json("A JSON body is required"));
    }
    // serde_json fills a struct from an array too, by field position: `["<id>", 2]` would
    // pass for `{"productId": "<id>", "quantity": 2}`. Named fields are the contract, so a
    // struct payload must arrive as an object.
    if wants_object::<T>() && bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(not_json(&e));
        }
        return Err(Error::field("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        // `{…}{"quantity":10}` is two documents; reading only the first would act on a
        // body the client did not send as one.
        Ok(v) => de.end().map(|()| v).map_err(|e| not_json(&e)),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // A field error in the first of two documents is still a body that is not JSON.
            let syntax = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).err();
            match inner.classify() {
                serde_json::error::Category::Data if syntax.is_none() => {
                    let field = if path == "." { "body".to_owned() } else { path };
                    Err(Error::validation(vec![FieldError::new(
                        field,
                        clean_serde_message(&inner),
                    )]))
                }
                _ => Err(not_json(syntax.as_ref().unwrap_or(&inner))),
            }
        }
    }
}

fn not_json(e: &serde_json::Error) -> Error {
    Error::invalid_json(format!(
        "The body is not valid JSON (line {}, column {})",
        e.line(),
        e.column()
    ))
}

/// Whether `T` reads itself from a JSON object (a struct or a map), found by asking it to
/// deserialise from a probe that only records what it was asked for.
fn wants_object<T: DeserializeOwned>() -> bool {
    use serde::de::{self, value::Error as ProbeError, Visitor};
    use std::cell::Cell;

    struct Probe<'a>(&'a Cell<bool>);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = ProbeError;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
            Err(de::Error::custom("probe"))
        }

        fn deserialize_map<V: Visitor<'de>>(self, _: V) -> Result<V::Value, ProbeError> {
            self.0.set(true);
            Err(de::Error::custom("probe"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, ProbeError> {
            self.0.set(true);
            Err(de::Error::custom("probe"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct enum
            identifier ignored_any
        }
    }

    let asked = Cell::new(false);
    let _ = T::deserialize(Probe(&asked));
    asked.get()
}

/// serde's messages are good but end in " at line 1 column 17", which belongs to no field.
fn clean_serde_message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg,
    }
}

/// `?limit=` (1–100, default 20) and `?cursor=` of a list route.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    /// Continue after this id (lists are ordered by `_id` descending).
    pub after: Option<ObjectId>,
}

impl<S: Send + Sync> FromRequestParts<S> for Page {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        Page::parse(parts.uri.query())
    }
}

/// A query string as `(name, value)` pairs, percent-decoded.
pub fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{}", query.unwrap_or(""))
            .parse()
            .map_err(|_| Error::field("query", "is malformed"))?,
    )
    .map(|q| q.0)
    .map_err(|_| Error::field("query", "is malformed"))
}

impl Page {
    pub fn parse(query: Option<&str>) -> Result<Self> {
        Ok(Self::parse_with(query, &[])?.0)
    }

    /// `limit` and `cursor`, plus the route's own `filters`, which come back unparsed for
    /// the route to read. Any other parameter is a field error.
    pub fn parse_with(
        query: Option<&str>,
        filters: &[&str],
    ) -> Result<(Self, Vec<(String, String)>)> {
        let mut page = Page {
            limit: 20,
            after: None,
        };
        let mut rest = Vec::new();
        let mut errors = Vec::new();
        for (k, v) in query_pairs(query)? {
            match k.as_str() {
                "limit" => page.set_limit(v.parse::<i64>().ok(), &mut errors),
                "cursor" => page.set_cursor(&v, &mut errors),
                f if filters.contains(&f) => rest.push((k, v)),
                other => errors.push(FieldError::new(other, "is not a known query parameter")),
            }
        }
        if errors.is_empty() {
            Ok((page, rest))
        } else {
            Err(Error::validation(errors))
        }
    }

    /// `limit` and `cursor` given as typed fields (a direct invocation's), checked as the
    /// query's are.
    pub fn from_fields(limit: Option<i64>, cursor: Option<&str>) -> Result<Self> {
        let mut page = Page::parse(None)?;
        let mut errors = Vec::new();
        if limit.is_some() {
            page.set_limit(limit, &mut errors);
        }
        page.set_cursor(cursor.unwrap_or_default(), &mut errors);
        if errors.is_empty() {
            Ok(page)
        } else {
            Err(Error::validation(errors))
        }
    }

    /// `None` is a limit that is not a whole number.
    fn set_limit(&mut self, limit: Option<i64>, errors: &mut Vec<FieldError>) {
        match limit {
            Some(n) if (1..=100).contains(&n) => self.limit = n,
            _ => errors.push(FieldError::new(
                "limit",
                "must be a whole number from 1 to 100",
            )),
        }
    }

    /// An empty cursor is the first page.
    fn set_cursor(&mut self, cursor: &str, errors: &mut Vec<FieldError>) {
        if cursor.is_empty() {
            return;
        }
        match decode_cursor(cursor) {
            Some(id) => self.after = Some(id),
            None => errors.push(FieldError::new("cursor", "is not a cursor this API issued")),
        }
    }
}

impl Page {
    /// One page of `coll` newest first (by `_id`), after the cursor: a single `find` of at
    /// most `limit + 1` rows, the extra one only telling `List::from_rows` there is more.
    pub async fn newest_first<T>(
        &self,
        coll: &mongodb::Collection<T>,
        mut filter: mongodb::bson::Document,
    ) -> Result<Vec<T>>
    where
        T: DeserializeOwned + Send + Sync,
    {
        use futures::TryStreamExt;
        if let Some(after) = self.after {
            filter.insert("_id", mongodb::bson::doc! { "$lt": after });
        }
        Ok(coll
            .find(filter)
            .sort(mongodb::bson::doc! { "_id": -1 })
            .limit(self.limit + 1)
            .await?
            .try_collect()
            .await?)
    }
}

pub fn encode_cursor(id: &ObjectId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.bytes())
}

fn decode_cursor(s: &str) -> Option<ObjectId> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    let arr: [u8; 12] = bytes.try_into().ok()?;
    Some(ObjectId::from_bytes(arr))
}

/// A page of a list: `{"items": [...], "nextCursor": "..." | null}`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> List<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only says there is more.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        page: Page,
        id: impl Fn(&R) -> ObjectId,
        map: impl Fn(R) -> T,
    ) -> Self {
        let more = rows.len() as i64 > page.limit;
        rows.truncate(page.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&id(r)))
        } else {
            None
        };
        List {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

impl<T: serde::Serialize> IntoResponse for List<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// Serves a finished router as a Lambda function behind API Gateway.
pub async fn run_lambda(router: Router) -> std::result::Result<(), lambda_http::Error> {
    lambda_runtime::run(lambda_handler(router)).await
}

/// The handler `run_lambda` runs: lambda_http's adapter around [`lambda_service`], after a
/// look at the one part of an event that adapter cannot survive. API Gateway hands on a query
/// string as the client sent it, raw spaces and `"` included, and lambda_http panics building
/// a request of one (found by review: the invocation failed before any handler ran). Such an
/// event is answered `400 VALIDATION_FAILED` here. Public so the tests drive it with the
/// events API Gateway sends.
pub fn lambda_handler(
    router: Router,
) -> impl tower::Service<
    lambda_http::LambdaEvent<lambda_http::request::LambdaRequest>,
    Response = serde_json::Value,
    Error = lambda_http::Error,
    Future = impl std::future::Future<
        Output = std::result::Result<serde_json::Value, lambda_http::Error>,
    > + Send,
> + Clone {
    use tower::Service;
    let service = lambda_service(router);
    tower::service_fn(
        move |event: lambda_http::LambdaEvent<lambda_http::request::LambdaRequest>| {
            let mut service = service.clone();
            async move {
                if let lambda_http::request::LambdaRequest::ApiGatewayV2(req) = &event.payload {
                    if crate::lambda::is_unreadable_query(req.raw_query_string.as_deref()) {
                        let refused =
                            crate::lambda::unreadable_query(&event.context.request_id).await;
                        return Ok(serde_json::to_value(refused)?);
                    }
                }
                std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
                // lambda_http's adapter is not `Send` (it holds a marker of the response type):
                // it only turns the event into the request and the answer back, so it lives
                // just long enough to start the call.
                let served = {
                    let mut adapter = lambda_http::Adapter::from(service);
                    adapter.call(event)
                };
                Ok(serde_json::to_value(served.await?)?)
            }
        },
    )
}

/// The service `run_lambda` runs: what lambda_http hands over, made into the router's
/// request. Public so the tests drive it with lambda_http's own event parsing.
pub fn lambda_service(
    router: Router,
) -> impl tower::Service<
    lambda_http::Request,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone {
    tower::ServiceBuilder::new()
        .map_request(|req: lambda_http::Request| without_stage(req.map(Body::new)))
        .service(router)
}

/// A named API Gateway stage puts itself in the path (`/prod/cart` with `stage = "prod"`);
/// the routes are declared without it. The `$default` stage (ours) and SAM's local events
/// carry no such prefix and pass through unchanged.
pub fn without_stage<B>(mut req: axum::http::Request<B>) -> axum::http::Request<B> {
    use lambda_http::request::RequestContext;
    let stage = match req.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return req;
    };
    let prefix = format!("/{stage}");
    let path = req.uri().path();
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return req,
    };
    let path_and_query = match req.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}
