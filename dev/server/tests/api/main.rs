//! HTTP tests of the whole API against a real MongoDB-compatible server (SecantusDB under
//! `make test`, or any `MONGODB_URI`). Each test gets its own database.

mod support;

mod admin_catalog;
mod admin_orders;
mod admin_products;
mod auth;
mod bodies;
mod cart;
mod console;
mod cors;
mod coupon_limits;
mod coupons;
mod desk;
mod direct;
mod expiry;
mod imports;
mod integer_edges;
mod invoices;
mod lambda_events;
mod mail;
mod openapi;
mod order_numbers;
mod orders;
mod outage;
mod owner_meta;
mod owner_refunds;
mod payments;
mod products;
mod rate_limits;
mod refunds;
mod return_page;
mod routes;
mod schema;
mod security;
mod tax;
mod variants;
mod webhook_truth;
