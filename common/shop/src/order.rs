//! The order's home: what an order is (`model`, with the refunds it carries), its statuses
//! and the moves allowed between them (`status`), checkout (`checkout`, the transaction that
//! places it), the transitions and their one writer (`transition`), recording a refund on
//! the order (`refund_entry`), and what the order keeps through its life (`lifecycle`:
//! numbers, lookups, the units it holds and their release), and the rules a shop sets for
//! its orders (`settings`: the payment window, the order numbers' prefix).
//!
//! `status` and `model` sit lower in the shop's order than the rest of `order`: invoices are
//! drawn from the model, and the move to `shipped` issues one.

pub mod checkout;
pub mod lifecycle;
pub mod model;
pub mod refund_entry;
pub mod settings;
pub mod status;
pub mod transition;
