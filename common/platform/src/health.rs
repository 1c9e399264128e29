//! `GET /health`: 200 once MongoDB answers a ping, 503 otherwise.

use crate::db::Db;
use crate::error::Error;
use crate::problem_codes::ProblemCode;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router(db: Db) -> Router {
    Router::new().route("/health", get(health)).with_state(db)
}

async fn health(State(db): State<Db>) -> Result<Json<Value>, Error> {
    match db.ping().await {
        Ok(()) => Ok(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = ?e, "health check: MongoDB did not answer");
            Err(Error::new(
                ProblemCode::Unavailable,
                "The database is not answering",
            ))
        }
    }
}
