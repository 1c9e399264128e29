//! Shared code for every Pitalya Lambda function, in three layers, one folder each
//! (ARCHITECTURE.md states the rule):
//!
//! - [`platform`]: configuration, MongoDB, errors as problem documents, HTTP plumbing, Clerk
//!   auth, telemetry and Lambda adapters. It knows nothing about a shop.
//! - [`domain`]: the shop, one module per aggregate: catalog, cart, pricing, tax, the order
//!   (state machine, lifecycle, checkout's writes), payments, refunds, invoices, mail.
//! - [`integrations`]: clients of other services behind narrow types: PhonePe and SES.
//!
//! Every module is also re-exported at the crate root, so callers write `common::orders`.

pub mod platform {
    pub mod auth;
    pub mod config;
    pub mod db;
    pub mod email;
    pub mod error;
    pub mod health;
    pub mod http;
    pub mod lambda;
    pub mod problem_codes;
    pub mod rate_limit;
    pub mod request_id;
    pub mod telemetry;
    pub mod text;
}

pub mod domain {
    pub mod address;
    pub mod cart;
    pub mod catalog;
    pub mod coupon_uses;
    pub mod ids;
    pub mod invoices;
    pub mod mail;
    pub mod models;
    pub mod money;
    pub mod order_state;
    pub mod orders;
    pub mod outbox;
    pub mod payments;
    pub mod pricing;
    pub mod refunds;
    pub mod seller;
    pub mod tax;
}

pub mod integrations {
    pub mod phonepe;
    pub mod ses;
}

/// Composition: the core every function builds once per cold start.
pub mod services;

pub use domain::{
    address, cart, catalog, coupon_uses, ids, invoices, mail, models, money, order_state, orders,
    outbox, payments, pricing, refunds, seller, tax,
};
pub use integrations::{phonepe, ses};
pub use platform::{
    auth, config, db, email, error, health, http, lambda, problem_codes, rate_limit, request_id,
    telemetry, text,
};

pub use error::{Error, Result};
pub use money::Paise;
