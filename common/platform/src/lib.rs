//! The platform every function stands on: configuration, MongoDB (client, transactions with
//! their retry, the schema version), errors as problem documents and the table of problem
//! codes, HTTP plumbing, idempotency keys, Clerk auth, telemetry, rate limits, request ids,
//! the clock and the Lambda adapters. It knows no shop word: Cargo keeps it from depending on
//! `shop` or `integrations`.

pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod lambda;
pub mod migrate;
pub mod problem_codes;
pub mod rate_limit;
pub mod request_id;
/// Composition: the core every function builds once per cold start.
pub mod services;
pub mod telemetry;
pub mod text;

pub use error::{Error, Result};
