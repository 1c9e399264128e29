//! The mail outbox: one document per (order, event) — per (order, refund) for refund mails — written in the same transaction as the
//! state change that causes it, so a mail is never lost and never queued twice.
//!
//! Delivery (SES, retries, leases) lives in `crate::messages::mail`; this module only queues.

use crate::vocabulary::ids::OrderId;
use crate::vocabulary::time::now;
use mongodb::bson::{doc, Document};
use mongodb::ClientSession;
use platform::db::{Db, IndexSpec};
use platform::error::Result;
use serde::{Deserialize, Serialize};

/// The mails to send, one document per mail.
pub const MAIL_OUTBOX: &str = "mail_outbox";

pub fn indexes() -> Vec<IndexSpec> {
    vec![
        // Schema 1 deduplicated mails per (order, event) only, which would refuse the second
        // refund mail of an order refunded in parts.
        IndexSpec::retired(MAIL_OUTBOX, "orderId_1_event_1"),
        // `refundId` is absent (null) for every mail but a refund's, so this is one mail per
        // (order, event), and one per (order, refund) for refund mails.
        IndexSpec::unique(
            MAIL_OUTBOX,
            doc! { "orderId": 1, "event": 1, "refundId": 1 },
        ),
        IndexSpec::plain(MAIL_OUTBOX, doc! { "status": 1, "nextAttemptAt": 1 }),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailEvent {
    OrderPlaced,
    PaymentSuccess,
    /// PhonePe said an attempt failed: a link back to pay. One per order, however many
    /// attempts fail, so a shopper trying again and again is not mailed each time.
    PaymentFailed,
    OrderShipped,
    OrderDelivered,
    OrderCancelled,
    RefundIssued,
}

/// Where an outbox entry is in its delivery (see `crate::messages::mail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailStatus {
    Pending,
    Sending,
    Sent,
    Failed,
    /// SES may or may not have taken it; never resent automatically.
    Unconfirmed,
    Skipped,
}

platform::stored_as_str!(MailStatus);

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
            MailStatus::Unconfirmed => "unconfirmed",
            MailStatus::Skipped => "skipped",
        }
    }
}

impl MailEvent {
    pub const ALL: [MailEvent; 7] = [
        MailEvent::OrderPlaced,
        MailEvent::PaymentSuccess,
        MailEvent::PaymentFailed,
        MailEvent::OrderShipped,
        MailEvent::OrderDelivered,
        MailEvent::OrderCancelled,
        MailEvent::RefundIssued,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MailEvent::OrderPlaced => "order_placed",
            MailEvent::PaymentSuccess => "payment_success",
            MailEvent::PaymentFailed => "payment_failed",
            MailEvent::OrderShipped => "order_shipped",
            MailEvent::OrderDelivered => "order_delivered",
            MailEvent::OrderCancelled => "order_cancelled",
            MailEvent::RefundIssued => "refund_issued",
        }
    }
}

/// Queues `event` for `order_id` inside the caller's transaction. An upsert rather than an
/// insert: a duplicate-key error would abort the whole transaction, while a second queueing
/// of the same (order, event) must simply change nothing.
pub async fn enqueue(
    db: &Db,
    session: &mut ClientSession,
    order_id: OrderId,
    event: MailEvent,
) -> Result<()> {
    upsert(
        db,
        session,
        doc! { "orderId": order_id, "event": event.as_str() },
    )
    .await
}

/// Queues the refund mail of one refund: an order refunded in parts gets one mail per part,
/// and each at most once.
pub async fn enqueue_refund(
    db: &Db,
    session: &mut ClientSession,
    order_id: OrderId,
    merchant_refund_id: &str,
) -> Result<()> {
    upsert(
        db,
        session,
        doc! { "orderId": order_id, "event": MailEvent::RefundIssued.as_str(), "refundId": merchant_refund_id },
    )
    .await
}

async fn upsert(db: &Db, session: &mut ClientSession, key: Document) -> Result<()> {
    let t = now();
    let mut fields = key.clone();
    fields.extend(doc! {
        "status": MailStatus::Pending,
        "attempts": 0_i32,
        "nextAttemptAt": t,
        "createdAt": t,
    });
    db.docs(MAIL_OUTBOX)
        .update_one(key, doc! { "$setOnInsert": fields })
        .upsert(true)
        .session(session)
        .await?;
    Ok(())
}
