//! The order's home: what an order is (`model`, with the refunds it carries; `refund_entry` records one), its statuses
//! and the moves between them (`status`), checkout (`checkout`, the transaction that places
//! it), the transitions and their one writer (`transition`), and what the lifecycle keeps
//! (`lifecycle`: numbers, lookups, the units it holds and their release).
//!
//! `model` sits lower in the shop's order than the rest of `order`: invoices are drawn from
//! the model, and the move to `shipped` issues one.

pub mod checkout;
pub mod lifecycle;
pub mod model;
pub mod refund_entry;
pub mod status;
pub mod transition;
