//! The one error type every handler returns, and its RFC 9457 problem+json rendering.
//!
//! Expected failures carry a stable machine-readable `code`, whose HTTP status the one table in
//! `problem_codes` gives; anything unexpected is `Internal`, logged in full and shown to the
//! client only as a generic 500.

use crate::problem_codes::ProblemCode;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One invalid field of a request, reported under `errors` of a `VALIDATION_FAILED` problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A client-facing failure: status (the code's, see `Error::new`), stable code, human detail and
/// optional extra members.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: ProblemCode,
    pub detail: String,
    pub extra: Map<String, Value>,
    pub retry_after: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Boxed so `Result<T>` stays small on the happy path.
    #[error("{}: {}", .0.code, .0.detail)]
    Problem(Box<Problem>),
    /// Anything we did not expect. The chain goes to the logs, never to the client.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    /// A transaction body found a document changed under it (a guarded write matched
    /// nothing) and asks `Db::transaction` to run it again at once, on a fresh snapshot
    /// (unlike a write conflict, there is no other writer to back off from). Typed, so
    /// the retry loop matches it rather than searching an error chain; should it ever reach a
    /// client, it is the same retryable 503 as a conflict that outlasted the retries.
    #[error("a document changed concurrently; retrying the transaction")]
    Retry,
}

impl Error {
    /// An expected failure; its status is `code`'s, from the table in `problem_codes`.
    pub fn new(code: ProblemCode, detail: impl Into<String>) -> Self {
        Self::with_status(code.status(), code, detail)
    }

    /// The one exception to the table: a rejection axum answered before our code ran (a
    /// malformed path, an extractor's limit), rewritten as a problem with axum's own status,
    /// since the client has already been promised that status by the framework's contract.
    pub(crate) fn rewritten(status: StatusCode, code: ProblemCode, detail: &str) -> Self {
        Self::with_status(status, code, detail)
    }

    fn with_status(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Error::Problem(Box::new(Problem {
            status,
            code,
            detail: detail.into(),
            extra: Map::new(),
            retry_after: None,
        }))
    }

    /// Adds an extension member to the problem document (e.g. the refreshed `cart`).
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        if let Error::Problem(p) = &mut self {
            p.extra.insert(
                key.to_owned(),
                serde_json::to_value(value).unwrap_or(Value::Null),
            );
        }
        self
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        Self::new(ProblemCode::ValidationFailed, detail).with("errors", errors)
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn invalid_json(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::InvalidJson, detail)
    }

    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::Unauthenticated, detail)
    }

    pub fn forbidden() -> Self {
        Self::new(ProblemCode::Forbidden, "This action needs an administrator")
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            ProblemCode::PayloadTooLarge,
            "Request bodies are limited to 64 KiB",
        )
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            ProblemCode::RateLimited,
            format!("Too many requests; try again in {retry_after_secs} s"),
        )
        .retry_after_secs(retry_after_secs)
    }

    /// The data this request needs stayed locked by other writers for the whole retry budget
    /// (typically a transaction left open by a crashed process, which the database aborts
    /// within a minute). Nothing changed; the same request can simply be sent again.
    pub fn busy(retry_after_secs: u64) -> Self {
        Self::new(ProblemCode::TryAgain, BUSY_DETAIL).retry_after_secs(retry_after_secs)
    }

    /// Something this request depends on is briefly unreachable; the same request will
    /// likely succeed after `retry_after_secs`.
    pub fn try_again(retry_after_secs: u64, detail: impl Into<String>) -> Self {
        Self::new(ProblemCode::TryAgain, detail).retry_after_secs(retry_after_secs)
    }

    /// Adds the `Retry-After` header, for the codes whose helpers above promise one.
    fn retry_after_secs(mut self, secs: u64) -> Self {
        if let Error::Problem(p) = &mut self {
            p.retry_after = Some(secs);
        }
        self
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            ProblemCode::UnsupportedMediaType,
            "Send the body as application/json",
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::Problem(p) => p.status,
            _ => self.problem_code().status(),
        }
    }

    pub fn code(&self) -> &'static str {
        self.problem_code().as_str()
    }

    fn problem_code(&self) -> ProblemCode {
        match self {
            Error::Problem(p) => p.code,
            Error::Internal(_) if self.is_unavailable() => ProblemCode::TryAgain,
            Error::Internal(_) => ProblemCode::Internal,
            Error::Retry => ProblemCode::TryAgain,
        }
    }

    /// Whether this is the expected failure `code`.
    pub fn is(&self, code: ProblemCode) -> bool {
        matches!(self, Error::Problem(p) if p.code == code)
    }

    /// The human-readable detail as the client would see it.
    pub fn detail(&self) -> String {
        match self {
            Error::Problem(p) => p.detail.clone(),
            Error::Internal(_) if self.is_unavailable() => UNAVAILABLE_DETAIL.into(),
            Error::Internal(_) => "Something went wrong on our side; it has been logged".into(),
            Error::Retry => BUSY_DETAIL.into(),
        }
    }

    /// Seconds the client should wait before sending the same request again.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Problem(p) => p.retry_after,
            Error::Internal(_) if self.is_unavailable() => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            Error::Internal(_) => None,
            Error::Retry => Some(1),
        }
    }

    /// The database could not be reached (or was failing over) for longer than the driver's
    /// own retries. The same request will likely succeed once it is back, and is safe to send
    /// again (a transaction either committed or did not; checkout's idempotency key covers a
    /// commit whose outcome the driver never learnt), so the client is told to retry rather
    /// than shown a 500. Kept an `Internal` error so the cause stays in the logs only, and so
    /// `transaction!` still sees the driver's labels and retries what is worth retrying.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Internal(e) => e.chain().any(|cause| {
                cause.is::<DatabaseUnreachable>()
                    || cause
                        .downcast_ref::<mongodb::error::Error>()
                        .is_some_and(database_unavailable)
            }),
            Error::Problem(_) | Error::Retry => false,
        }
    }

    /// The problem document body (without `requestId`, which the response adds).
    pub fn to_problem(&self, request_id: Option<&str>) -> Value {
        let status = self.status();
        let mut doc = Map::new();
        doc.insert("type".into(), "about:blank".into());
        doc.insert(
            "title".into(),
            status.canonical_reason().unwrap_or("Error").into(),
        );
        doc.insert("status".into(), status.as_u16().into());
        doc.insert("code".into(), self.code().into());
        doc.insert("detail".into(), self.detail().into());
        if let Error::Problem(p) = self {
            for (k, v) in &p.extra {
                doc.insert(k.clone(), v.clone());
            }
        }
        if let Some(id) = request_id {
            doc.insert("requestId".into(), id.into());
        }
        Value::Object(doc)
    }
}

const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;
const UNAVAILABLE_DETAIL: &str =
    "The shop is briefly unable to reach its data; please try again in a few seconds";

/// No server could be selected within the driver's server-selection timeout. Holds the
/// driver's message instead of its error so that `transaction!` does not take the
/// `TransientTransactionError` label the driver puts on it inside a transaction as a reason to
/// run the block again: every attempt would wait the whole timeout, far past Lambda's budget.
#[derive(Debug, thiserror::Error)]
#[error("database unreachable: {0}")]
pub struct DatabaseUnreachable(String);

/// Whether a driver error means the database is unreachable or not serving right now, as
/// opposed to refusing this request (duplicate key, validation) or a bug of ours.
fn database_unavailable(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{
        ErrorKind, WriteFailure, RETRYABLE_ERROR, RETRYABLE_WRITE_ERROR, SYSTEM_OVERLOADED_ERROR,
        TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
    };
    // Not primary, recovering, shutting down, host unreachable or not found, network
    // timeout, socket exception, majority read concern not yet available, time limit exceeded
    // on the server's side: the driver's retryable-read codes, plus legacy "not primary".
    const NOT_SERVING: [i32; 14] = [
        11600, 11602, 10107, 13435, 13436, 189, 91, 7, 6, 89, 9001, 134, 262, 10058,
    ];
    let code = match e.kind.as_ref() {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. } => return true,
        ErrorKind::Command(c) => Some(c.code),
        ErrorKind::Write(WriteFailure::WriteConcernError(w)) => Some(w.code),
        _ => None,
    };
    code.is_some_and(|c| NOT_SERVING.contains(&c))
        || [
            RETRYABLE_WRITE_ERROR,
            RETRYABLE_ERROR,
            SYSTEM_OVERLOADED_ERROR,
            TRANSIENT_TRANSACTION_ERROR,
            UNKNOWN_TRANSACTION_COMMIT_RESULT,
        ]
        .iter()
        .any(|label| e.contains_label(label))
}

impl From<mongodb::error::Error> for Error {
    fn from(e: mongodb::error::Error) -> Self {
        if matches!(
            e.kind.as_ref(),
            mongodb::error::ErrorKind::ServerSelection { .. }
        ) {
            return Error::Internal(anyhow::Error::new(DatabaseUnreachable(e.to_string())));
        }
        Error::Internal(anyhow::Error::new(e).context("mongodb"))
    }
}

impl From<mongodb::bson::ser::Error> for Error {
    fn from(e: mongodb::bson::ser::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("bson encode"))
    }
}

impl From<mongodb::bson::de::Error> for Error {
    fn from(e: mongodb::bson::de::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("bson decode"))
    }
}

/// `.context()` for results whose error is not yet ours, at I/O boundaries.
pub trait Context<T> {
    fn context(self, what: &'static str) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn context(self, what: &'static str) -> Result<T> {
        self.map_err(|e| Error::Internal(anyhow::Error::new(e).context(what)))
    }
}

const BUSY_DETAIL: &str =
    "This record is being changed by another request; nothing was changed, please retry";

pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let request_id = crate::request_id::current_request_id();
        match &self {
            Error::Internal(e) if self.is_unavailable() => {
                tracing::warn!(error = ?e, "database unavailable; answered TRY_AGAIN")
            }
            Error::Internal(e) => tracing::error!(error = ?e, "internal error"),
            Error::Problem(p) if p.status.is_server_error() => {
                tracing::warn!(code = p.code.as_str(), "server-side problem")
            }
            Error::Problem(p) => tracing::info!(code = p.code.as_str(), "request refused"),
            Error::Retry => tracing::warn!("a transaction's retry signal reached the client"),
        }
        let body = self.to_problem(request_id.as_deref());
        let mut res = (self.status(), axum::Json(body)).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Error::Problem(p) = &self {
            if p.status == StatusCode::UNAUTHORIZED {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
        }
        if let Some(secs) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}
