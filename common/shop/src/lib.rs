//! The shop: the business, one module per aggregate, on top of the platform and the
//! integrations (ARCHITECTURE.md draws the order the modules may use each other in).

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
pub mod shopify;
pub mod tax;

pub use money::Paise;
