//! Messages to customers: the outbox they are queued in (in the transaction of the change
//! that causes them) and the mail that sends them.
//!
//! The outbox sits low in the shop's order, just after the vocabulary: every transaction
//! that changes an order queues into it. The mail sits at the top: it reads orders,
//! refunds and invoices to write each message.

pub mod mail;
pub mod outbox;
