//! The shop: the business, on top of the platform and the integrations, as modules in a
//! declared order. A module uses only those listed before it here (`common/tests/
//! architecture.rs` holds the code to it); where two needed each other, the lower one takes a
//! loaded value or returns what the higher one applies.

pub mod cart;
pub mod catalog;
pub mod coupon_uses;
pub mod invoices;
pub mod messages;
pub mod order;
pub mod payments;
pub mod pricing;
pub mod refunds;
pub mod tax;
pub mod vocabulary;

pub use vocabulary::money::Paise;
