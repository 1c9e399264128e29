//! Recording a refund on its order (`orders.refunds[]`), inside the caller's transaction:
//! a cancellation of a paid order, a payment that arrived twice or too late, the owner's
//! refund. The order owns the entry and fixes its `merchantRefundId` for ever; `crate::refunds`
//! decides the owner's refunds and takes every entry to PhonePe.

use super::model::payment::PaymentMove;
use super::model::refund::{Refund, RefundKind, RefundLine, RefundState};
use super::model::{Order, ORDERS};
use crate::vocabulary::ids::OrderId;
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use mongodb::bson::{doc, oid::ObjectId, to_bson};
use mongodb::ClientSession;
use platform::db::Db;
use platform::error::Result;

/// A refund decided now, to be recorded by `record_in`.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub amount: Paise,
    pub lines: Option<Vec<RefundLine>>,
    pub restock: bool,
    pub reason: String,
    pub kind: RefundKind,
    pub by: String,
    pub original_merchant_order_id: String,
}

/// The id PhonePe knows the order's `seq`-th refund by: derived from the order and the
/// refund's place on it, so the transaction that records the refund fixes it for ever.
fn merchant_refund_id(order_id: OrderId, seq: usize) -> String {
    // 5 + 24 + 1 + digits: far inside PhonePe's 63 characters of [A-Za-z0-9_-].
    format!("PITR-{}-{seq}", order_id.to_hex())
}

/// Records `new` on `order` inside the caller's transaction, with its `merchantRefundId`
/// claimed. `order` must be the order as read in this transaction.
pub async fn record_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    new: NewRefund,
) -> Result<Refund> {
    push_in(db, session, order, pending(order, new)).await
}

/// A refund just decided: pending, never sent, its id the order's next.
pub fn pending(order: &Order, new: NewRefund) -> Refund {
    let t = now();
    Refund {
        id: ObjectId::new(),
        merchant_refund_id: merchant_refund_id_for(order),
        original_merchant_order_id: new.original_merchant_order_id,
        amount: new.amount,
        lines: new.lines,
        restock: new.restock,
        reason: new.reason,
        kind: new.kind,
        state: RefundState::Pending,
        by: new.by,
        at: t,
        requested_at: None,
        next_check_at: t,
        checks: 0,
        last_error: None,
        settled_at: None,
        replaces: None,
        idempotency_key: None,
        request_hash: None,
    }
}

/// Pushes `refund` onto `order`, its id claimed: a concurrent transaction that derived the same
/// id from the same read finds it taken and starts over.
pub async fn push_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    refund: Refund,
) -> Result<Refund> {
    let mut set = doc! { "updatedAt": now() };
    if refund.counts_against_order() {
        set.extend(PaymentMove::RefundDecided.fields());
    }
    let pushed = db
        .docs(ORDERS)
        .update_one(
            // Two transactions deciding a refund from the same read would derive the same id:
            // the second finds it taken and starts over from what the first left.
            doc! { "_id": order.id, "refunds.merchantRefundId": { "$ne": &refund.merchant_refund_id } },
            doc! { "$push": { "refunds": to_bson(&refund)? }, "$set": set },
        )
        .session(&mut *session)
        .await?;
    if pushed.matched_count != 1 {
        return Err(platform::db::retry_transaction());
    }
    Ok(refund)
}

/// The id the order's next refund gets.
pub fn merchant_refund_id_for(order: &Order) -> String {
    merchant_refund_id(order.id, order.refunds.len() + 1)
}
