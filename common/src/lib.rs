//! Shared code for every Pitalya Lambda function: configuration, MongoDB, Clerk auth,
//! errors as problem documents, money, models and the order state machine.

pub mod address;
pub mod auth;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod health;
pub mod http;
pub mod ids;
pub mod invoices;
pub mod lambda;
pub mod mail;
pub mod models;
pub mod money;
pub mod order_state;
pub mod orders;
pub mod outbox;
pub mod payments;
pub mod phonepe;
pub mod pricing;
pub mod problem_codes;
pub mod rate_limit;
pub mod refunds;
pub mod request_id;
pub mod seller;
pub mod services;
pub mod tax;
pub mod telemetry;

pub use error::{Error, Result};
pub use money::Paise;
