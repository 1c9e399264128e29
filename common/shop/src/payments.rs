//! Applying what PhonePe says about money to our orders. The webhook, reconciliation and
//! the final check before expiry all go through these functions, so they obey one set of
//! rules: an order is paid once, by one transaction, for exactly its total; failures never
//! undo a payment; refunds move `payment.status` forward only.
//!
//! This module is the one writer of a payment attempt's state ([`move_attempt`], driven by
//! [`AttemptMove`]) and of an order's `payment.status` and `payment.flag` ([`PaymentMove`]:
//! the fields each move sets, which the status change, a refund or this module's own writes
//! carry into their update).

use crate::messages::outbox::{self, MailEvent};
pub use crate::order::model::payment::PaymentMove;
use crate::order::model::refund::RefundKind;
use crate::order::model::{FlagReason, Order, PaymentFlag, ORDERS};
use crate::order::refund_entry::{self, NewRefund};
use crate::order::status::OrderStatus;
use crate::order::transition::{self, Actor, Transition};
use crate::vocabulary::ids::{OrderId, UserId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use futures::TryStreamExt;
use integrations::phonepe::{OrderStatus as PhonePeOrder, PhonePe, State as PhonePeState};
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::ClientSession;
use platform::clock::Clock;
use platform::db::{Db, IndexSpec};
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};

/// The payment attempts, one document per call to PhonePe's pay API.
pub const PAYMENT_ATTEMPTS: &str = "payment_attempts";

/// The attempts' indexes, and those of the orders' payment fields.
pub fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::unique(PAYMENT_ATTEMPTS, doc! { "merchantOrderId": 1 }),
        IndexSpec::plain(PAYMENT_ATTEMPTS, doc! { "orderId": 1 }),
        IndexSpec::plain(PAYMENT_ATTEMPTS, doc! { "state": 1, "nextCheckAt": 1 }),
        // One PhonePe transaction can pay one order only, ever.
        IndexSpec::unique_where(
            ORDERS,
            doc! { "payment.transactionId": 1 },
            doc! { "payment.transactionId": { "$type": "string" } },
        ),
    ]
}

/// One call to PhonePe's pay API for an order. Recorded before PhonePe is called, so a crash
/// between the two leaves a trace that reconciliation can resolve.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub merchant_order_id: String,
    pub order_id: OrderId,
    pub user_id: UserId,
    pub amount: Paise,
    pub state: AttemptState,
    pub created_at: DateTime,
    pub next_check_at: DateTime,
    #[serde(default)]
    pub checks: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<DateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Written, PhonePe not yet (known to be) called.
    Creating,
    /// PhonePe created the order; the shopper may be paying.
    Pending,
    Completed,
    Failed,
    /// PhonePe refused or never heard of it.
    Error,
    /// The shopper paid this attempt after another attempt had already paid the order (two
    /// payment pages open, both paid): the extra money goes back by itself.
    RefundPending,
    Refunded,
}

platform::stored_as_str!(AttemptState);

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Creating => "creating",
            AttemptState::Pending => "pending",
            AttemptState::Completed => "completed",
            AttemptState::Failed => "failed",
            AttemptState::Error => "error",
            AttemptState::RefundPending => "refund_pending",
            AttemptState::Refunded => "refunded",
        }
    }
}

/// Which attempt a move is for.
#[derive(Debug, Clone, Copy)]
pub enum AttemptRef<'a> {
    Id(ObjectId),
    MerchantOrderId(&'a str),
}

/// What happens to a payment attempt. Each move names the states it may leave, so a late or
/// repeated word from PhonePe never takes an attempt back.
#[derive(Debug, Clone, Copy)]
pub enum AttemptMove<'a> {
    /// PhonePe created its order: the shopper may pay now.
    Opened {
        phonepe_order_id: &'a str,
        expire_at: DateTime,
    },
    /// Its money paid the order. PhonePe's word on money stands, whatever the attempt was.
    Paid,
    /// PhonePe said again that the attempt that paid the order completed.
    PaidAgain,
    /// Its money arrived after another attempt had paid the order: it goes back.
    PaidTwice {
        transaction_id: &'a str,
        paid: Paise,
    },
    /// PhonePe failed it.
    Failed { code: &'a str },
    /// PhonePe refused to create it, or has never heard of it.
    Refused { error: &'a str },
    /// The double charge went back.
    Refunded { at: DateTime },
}

impl AttemptMove<'_> {
    pub fn state(&self) -> AttemptState {
        match self {
            AttemptMove::Opened { .. } => AttemptState::Pending,
            AttemptMove::Paid | AttemptMove::PaidAgain => AttemptState::Completed,
            AttemptMove::PaidTwice { .. } => AttemptState::RefundPending,
            AttemptMove::Failed { .. } => AttemptState::Failed,
            AttemptMove::Refused { .. } => AttemptState::Error,
            AttemptMove::Refunded { .. } => AttemptState::Refunded,
        }
    }

    /// The states the move may leave; `None`: any.
    pub fn leaves(&self) -> Option<&'static [AttemptState]> {
        use AttemptState::{Completed, Creating, Pending, RefundPending};
        match self {
            AttemptMove::Opened { .. } => Some(&[Creating]),
            AttemptMove::Paid => None,
            // A completed attempt keeps the stamp of its completion: a repeat of PhonePe's word
            // writes nothing, so a burst of duplicate webhooks only reads and none of them
            // conflicts with another (each write would be one more transaction to retry).
            AttemptMove::PaidAgain => Some(&[Creating, Pending]),
            AttemptMove::PaidTwice { .. } => Some(&[Creating, Pending, Completed]),
            AttemptMove::Failed { .. } | AttemptMove::Refused { .. } => Some(&[Creating, Pending]),
            AttemptMove::Refunded { .. } => Some(&[RefundPending]),
        }
    }

    /// Everything the move sets on the attempt.
    fn update(&self) -> Document {
        let mut set = match *self {
            AttemptMove::Opened {
                phonepe_order_id,
                expire_at,
            } => doc! { "phonepeOrderId": phonepe_order_id, "expireAt": expire_at },
            AttemptMove::Paid | AttemptMove::PaidAgain => doc! { "completedAt": now() },
            AttemptMove::PaidTwice {
                transaction_id,
                paid,
            } => doc! {
                "transactionId": transaction_id,
                "paidAmount": paid.get(),
                "completedAt": now(),
            },
            AttemptMove::Failed { code } => doc! { "lastError": code },
            AttemptMove::Refused { error } => doc! { "lastError": error },
            AttemptMove::Refunded { at } => doc! { "refundedAt": at },
        };
        set.insert("state", self.state());
        doc! { "$set": set }
    }
}

/// Moves an attempt, in the caller's transaction when `session` is given. Returns whether the
/// attempt was in a state the move may leave (and so moved).
pub async fn move_attempt(
    db: &Db,
    session: Option<&mut ClientSession>,
    attempt: AttemptRef<'_>,
    to: AttemptMove<'_>,
) -> Result<bool> {
    let mut filter = match attempt {
        AttemptRef::Id(id) => doc! { "_id": id },
        AttemptRef::MerchantOrderId(id) => doc! { "merchantOrderId": id },
    };
    if let Some(from) = to.leaves() {
        let from: Vec<Bson> = from.iter().map(|s| Bson::from(*s)).collect();
        filter.insert("state", doc! { "$in": from });
    }
    let attempts = db.docs(PAYMENT_ATTEMPTS);
    let update = attempts.update_one(filter, to.update());
    let done = match session {
        Some(session) => update.session(session).await?,
        None => update.await?,
    };
    Ok(done.matched_count == 1)
}

/// Records a new attempt to pay `order`, before PhonePe is called.
pub async fn record_attempt(db: &Db, order: &Order) -> Result<Attempt> {
    let attempt = new_attempt(order, new_merchant_order_id(order.id));
    db.collection::<Attempt>(PAYMENT_ATTEMPTS)
        .insert_one(&attempt)
        .await?;
    Ok(attempt)
}

/// Notes why calling PhonePe for an attempt failed, without settling it: after a timeout
/// PhonePe may well have created the order, which reconciliation finds out.
pub async fn note_attempt_error(db: &Db, attempt: ObjectId, error: &str) -> Result<()> {
    db.docs(PAYMENT_ATTEMPTS)
        .update_one(
            doc! { "_id": attempt },
            doc! { "$set": { "lastError": error } },
        )
        .await?;
    Ok(())
}

/// What applying a PhonePe result did, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    MarkedPaid,
    AlreadyPaid,
    /// Money arrived for an order that had already been cancelled: queued for refund.
    PaidAfterCancel,
    /// A second attempt was paid for an order another attempt had already paid: that
    /// attempt's money is queued for refund, the order is unchanged.
    ExtraCharge,
    AmountMismatch,
    /// COMPLETED without a completed transaction: flagged, never paid.
    NoTransaction,
    /// The transaction already paid another order: flagged for on-call, never paid twice.
    DuplicateTransaction,
    MarkedFailed,
    Ignored,
    UnknownAttempt,
    Pending,
}

fn new_merchant_order_id(order_id: OrderId) -> String {
    // 4 + 24 + 1 + 8 = 37 chars of [A-Za-z0-9-], within PhonePe's 63.
    format!("PIT-{}-{:08x}", order_id.to_hex(), rand::random::<u32>())
}

pub async fn find_attempt(db: &Db, merchant_order_id: &str) -> Result<Option<Attempt>> {
    Ok(db
        .collection::<Attempt>(PAYMENT_ATTEMPTS)
        .find_one(doc! { "merchantOrderId": merchant_order_id })
        .await?)
}

/// The most recent attempt for an order.
pub async fn find_attempt_for_order(db: &Db, order_id: OrderId) -> Result<Option<Attempt>> {
    Ok(db
        .collection::<Attempt>(PAYMENT_ATTEMPTS)
        .find_one(doc! { "orderId": order_id })
        .sort(doc! { "_id": -1 })
        .await?)
}

/// Applies an order status (from a webhook payload or the status API) to our order.
/// Returns what happened and whether mail was queued (the caller sends it after commit).
pub async fn apply_order_state(db: &Db, status: &PhonePeOrder) -> Result<Applied> {
    let Some(mid) = status.merchant_order_id.as_deref() else {
        return Ok(Applied::UnknownAttempt);
    };
    let Some(attempt) = find_attempt(db, mid).await? else {
        tracing::warn!(
            merchant_order_id = mid,
            "PhonePe reported on a merchant order we never created"
        );
        return Ok(Applied::UnknownAttempt);
    };
    match status.state {
        PhonePeState::Completed => apply_completed(db, &attempt, status).await,
        PhonePeState::Failed => apply_failed(db, &attempt, status).await,
        _ => Ok(Applied::Pending),
    }
}

async fn apply_completed(db: &Db, attempt: &Attempt, status: &PhonePeOrder) -> Result<Applied> {
    let order_id = attempt.order_id;
    let reported = status.amount.unwrap_or(-1);
    let transaction_id = status
        .completed_transaction()
        .and_then(|d| d.transaction_id.clone());
    platform::transaction!(db, |session| {
        let order: Order = db
            .collection::<Order>(ORDERS)
            .find_one(doc! { "_id": order_id })
            .session(&mut *session)
            .await?
            .ok_or_else(|| {
                Error::Internal(anyhow::anyhow!(
                    "attempt {} has no order",
                    attempt.merchant_order_id
                ))
            })?;
        let this = AttemptRef::Id(attempt.id);
        if order.payment.transaction_id.is_some() {
            // The attempt that settled the order is the one recorded on it.
            if order.payment.merchant_order_id.as_deref() == Some(&attempt.merchant_order_id) {
                // A duplicate or a replay: the first delivery already did everything.
                move_attempt(db, Some(&mut *session), this, AttemptMove::PaidAgain).await?;
                return Ok(Applied::AlreadyPaid);
            }
            // Another attempt's money already settled this order: this one is a double charge.
            tracing::error!(
                order_id = %order_id.to_hex(),
                merchant_order_id = %attempt.merchant_order_id,
                "a second payment attempt was paid for the same order; refunding it"
            );
            let paid = if reported > 0 {
                Paise(reported)
            } else {
                attempt.amount
            };
            let twice = AttemptMove::PaidTwice {
                transaction_id: transaction_id.as_deref().unwrap_or_default(),
                paid,
            };
            let moved = move_attempt(db, Some(&mut *session), this, twice).await?;
            // Only the delivery that moved the attempt records its refund (in this same
            // transaction); replays find the attempt moved already.
            if moved {
                refund_entry::record_in(
                    db,
                    session,
                    &order,
                    NewRefund {
                        amount: paid,
                        lines: None,
                        restock: false,
                        reason: "paid twice through two payment attempts".into(),
                        kind: RefundKind::ExtraCharge,
                        by: "phonepe".into(),
                        original_merchant_order_id: attempt.merchant_order_id.clone(),
                    },
                )
                .await?;
            }
            return Ok(Applied::ExtraCharge);
        }
        let Some(txn) = transaction_id.clone() else {
            // COMPLETED with no completed transaction (or an empty id) proves nothing.
            tracing::error!(
                order_id = %order_id.to_hex(),
                merchant_order_id = %attempt.merchant_order_id,
                "PhonePe reported COMPLETED without a completed transaction; not marking it paid"
            );
            let flag = PaymentFlag::new(
                FlagReason::NoCompletedTransaction,
                format!(
                    "PhonePe said COMPLETED for {} without a completed transaction",
                    attempt.merchant_order_id
                ),
            );
            flag_in(db, session, order_id, flag).await?;
            return Ok(Applied::NoTransaction);
        };
        if reported != order.total.get() {
            tracing::error!(
                order_id = %order_id.to_hex(),
                merchant_order_id = %attempt.merchant_order_id,
                reported,
                expected = order.total.get(),
                "PhonePe reported a completed payment that does not match the order; not marking it paid"
            );
            let flag = PaymentFlag::new(
                FlagReason::AmountMismatch,
                format!(
                    "PhonePe reported {reported} paise for {}",
                    attempt.merchant_order_id
                ),
            );
            flag_in(db, session, order_id, flag).await?;
            return Ok(Applied::AmountMismatch);
        }
        // One PhonePe transaction pays one order, ever (a unique index says so too): a
        // transaction already recorded on another order is flagged here rather than left
        // to fail the write, which would answer every webhook retry with a 500.
        if let Some(other) = db
            .docs(ORDERS)
            .find_one(doc! { "payment.transactionId": &txn, "_id": { "$ne": order_id } })
            .projection(doc! { "_id": 1 })
            .session(&mut *session)
            .await?
        {
            let other = other
                .get_object_id("_id")
                .map(|o| o.to_hex())
                .unwrap_or_default();
            tracing::error!(
                order_id = %order_id.to_hex(),
                other_order = %other,
                transaction_id = %txn,
                "a PhonePe transaction that already paid another order was reported for this one"
            );
            let flag = PaymentFlag::new(
                FlagReason::DuplicateTransaction,
                format!("PhonePe transaction {txn} already paid order {other}"),
            );
            flag_in(db, session, order_id, flag).await?;
            return Ok(Applied::DuplicateTransaction);
        }
        if order.status == OrderStatus::Cancelled {
            // The shopper paid after the order expired or was cancelled: keep the money's
            // trail on the order and let the refund job return it.
            tracing::error!(order_id = %order_id.to_hex(), "payment completed for a cancelled order; refunding");
            let mut set = PaymentMove::PaidAfterCancel {
                transaction_id: &txn,
                merchant_order_id: &attempt.merchant_order_id,
            }
            .fields();
            set.insert("updatedAt", now());
            let recorded = db
                .docs(ORDERS)
                .update_one(
                    doc! { "_id": order_id, "status": OrderStatus::Cancelled, "payment.transactionId": { "$exists": false } },
                    doc! { "$set": set },
                )
                .session(&mut *session)
                .await?;
            if recorded.modified_count == 1 {
                refund_entry::record_in(
                    db,
                    session,
                    &order,
                    NewRefund {
                        amount: order.total,
                        lines: None,
                        restock: false,
                        reason: "paid after the order was cancelled".into(),
                        kind: RefundKind::Cancellation,
                        by: "phonepe".into(),
                        original_merchant_order_id: attempt.merchant_order_id.clone(),
                    },
                )
                .await?;
            }
            move_attempt(db, Some(&mut *session), this, AttemptMove::Paid).await?;
            return Ok(Applied::PaidAfterCancel);
        }
        // Through the one writer of order statuses: the state machine, the history entry,
        // the compare-and-set on the status just read and the mail all come with it.
        let pay = Transition::Pay {
            txn: &txn,
            merchant_order_id: &attempt.merchant_order_id,
            by: Actor::PhonePe,
        };
        if !transition::apply_loaded_in(db, session, order, &pay)
            .await?
            .moved()
        {
            return Ok(Applied::AlreadyPaid);
        }
        move_attempt(db, Some(&mut *session), this, AttemptMove::Paid).await?;
        Ok(Applied::MarkedPaid)
    })
}

/// Marks an order for a person to look at, inside the caller's transaction.
async fn flag_in(
    db: &Db,
    session: &mut mongodb::ClientSession,
    order_id: OrderId,
    flag: PaymentFlag,
) -> Result<()> {
    let mut set = PaymentMove::Flagged(flag).fields();
    set.insert("updatedAt", now());
    db.docs(ORDERS)
        .update_one(doc! { "_id": order_id }, doc! { "$set": set })
        .session(session)
        .await?;
    Ok(())
}

/// Marks the attempt failed and, if it is the order's current one, the order's payment too,
/// queueing the payment-failed mail (a link back to pay) in the same transaction: only the
/// delivery that moves `payment.status` to `failed` queues it, and the outbox keeps one per
/// order, so duplicate webhooks and reconciliation racing them mail the customer once.
async fn apply_failed(db: &Db, attempt: &Attempt, status: &PhonePeOrder) -> Result<Applied> {
    let code = status.error_code.clone().unwrap_or_else(|| "FAILED".into());
    platform::transaction!(db, |session| {
        let failed = AttemptMove::Failed { code: &code };
        move_attempt(db, Some(&mut *session), AttemptRef::Id(attempt.id), failed).await?;
        // Only the order's current attempt decides its payment status, and never once paid.
        let failed = PaymentMove::Failed;
        let mut set = failed.fields();
        set.insert("updatedAt", now());
        let mut filter = doc! {
            "_id": attempt.order_id,
            "status": { "$in": [OrderStatus::Created, OrderStatus::PaymentPending] },
            "payment.merchantOrderId": &attempt.merchant_order_id,
        };
        filter.extend(failed.leaves());
        let res = db
            .docs(ORDERS)
            .update_one(filter, doc! { "$set": set })
            .session(&mut *session)
            .await?;
        if res.modified_count == 0 {
            return Ok(Applied::Ignored);
        }
        outbox::enqueue(db, session, attempt.order_id, MailEvent::PaymentFailed).await?;
        Ok(Applied::MarkedFailed)
    })
}

/// An attempt PhonePe says it never created.
const UNKNOWN_TO_PHONEPE: AttemptMove<'static> = AttemptMove::Refused {
    error: "unknown to PhonePe",
};

/// Seconds until the next status check after `checks` checks: PhonePe advises polling
/// often at first and then backing off.
pub fn next_check_delay_secs(checks: i32) -> i64 {
    match checks {
        0 => 30,
        1 => 60,
        2 => 120,
        3 => 300,
        4..=6 => 600,
        _ => 1800,
    }
}

/// Asks PhonePe about attempts that have been open for more than a minute and applies the
/// answers. Returns the orders that changed (their mail is queued). Which attempts are due
/// is read on `clock`.
pub async fn reconcile_due(
    db: &Db,
    clock: &dyn Clock,
    phonepe: &PhonePe,
    limit: i64,
) -> Result<Vec<(OrderId, Applied)>> {
    let t = clock.now();
    let due: Vec<Attempt> = db
        .collection::<Attempt>(PAYMENT_ATTEMPTS)
        .find(doc! { "state": { "$in": [AttemptState::Creating, AttemptState::Pending] }, "nextCheckAt": { "$lte": t } })
        .sort(doc! { "nextCheckAt": 1 })
        .limit(limit)
        .await?
        .try_collect()
        .await?;
    let mut changed = Vec::new();
    for attempt in due {
        let applied = match check_attempt(db, clock, phonepe, &attempt).await {
            Ok(applied) => applied,
            Err(e) => {
                // One bad record must not stop the batch: log it and go on.
                tracing::error!(merchant_order_id = %attempt.merchant_order_id, error = ?e, "reconciling an attempt failed");
                continue;
            }
        };
        if !matches!(
            applied,
            Applied::Pending | Applied::Ignored | Applied::UnknownAttempt
        ) {
            changed.push((attempt.order_id, applied));
        }
    }
    Ok(changed)
}

/// One status check of one attempt, rescheduling it on `clock` while it is still open.
pub async fn check_attempt(
    db: &Db,
    clock: &dyn Clock,
    phonepe: &PhonePe,
    attempt: &Attempt,
) -> Result<Applied> {
    let reschedule = |checks: i32, error: Option<String>| {
        let next = clock.after_ms(next_check_delay_secs(checks) * 1000);
        let mut set = doc! { "nextCheckAt": next, "checks": checks + 1 };
        if let Some(e) = error {
            set.insert("lastError", e);
        }
        doc! { "$set": set }
    };
    match phonepe.order_status(&attempt.merchant_order_id).await {
        Ok(mut status) => {
            status
                .merchant_order_id
                .get_or_insert_with(|| attempt.merchant_order_id.clone());
            let applied = apply_order_state(db, &status).await?;
            if applied == Applied::Pending {
                let update = reschedule(attempt.checks, None);
                db.docs(PAYMENT_ATTEMPTS)
                    .update_one(doc! { "_id": attempt.id }, update)
                    .await?;
            }
            Ok(applied)
        }
        Err(e) if e.is_unknown_order() => {
            // PhonePe never created it (we crashed or it refused before creating).
            move_attempt(db, None, AttemptRef::Id(attempt.id), UNKNOWN_TO_PHONEPE).await?;
            Ok(Applied::Ignored)
        }
        Err(e) => {
            tracing::warn!(merchant_order_id = %attempt.merchant_order_id, error = %e, "status check failed; will retry");
            let update = reschedule(attempt.checks, Some(e.to_string()));
            db.docs(PAYMENT_ATTEMPTS)
                .update_one(doc! { "_id": attempt.id }, update)
                .await?;
            Ok(Applied::Pending)
        }
    }
}

/// Before an unpaid order is expired: asks PhonePe about every open attempt. Returns true
/// only when cancelling is safe — no attempt completed and none is still in flight — so an
/// order that was paid is never expired, even when its webhook never came.
///
/// An order with no open attempt needs no PhonePe call.
pub async fn safe_to_expire(db: &Db, phonepe: &PhonePe, order_id: OrderId) -> Result<bool> {
    let open: Vec<Attempt> = db
        .collection::<Attempt>(PAYMENT_ATTEMPTS)
        .find(doc! { "orderId": order_id, "state": { "$in": [AttemptState::Creating, AttemptState::Pending] } })
        .await?
        .try_collect()
        .await?;
    if open.is_empty() {
        return Ok(true);
    }
    let mut safe = true;
    for attempt in open {
        match phonepe.order_status(&attempt.merchant_order_id).await {
            Ok(mut status) => {
                status
                    .merchant_order_id
                    .get_or_insert_with(|| attempt.merchant_order_id.clone());
                match apply_order_state(db, &status).await? {
                    Applied::MarkedFailed | Applied::Ignored => {}
                    _ => safe = false,
                }
            }
            Err(e) if e.is_unknown_order() => {
                move_attempt(db, None, AttemptRef::Id(attempt.id), UNKNOWN_TO_PHONEPE).await?;
            }
            Err(e) => {
                tracing::warn!(order_id = %order_id.to_hex(), error = %e, "cannot confirm payment state; not expiring yet");
                safe = false;
            }
        }
    }
    Ok(safe)
}

/// An attempt's document id as written before calling PhonePe.
fn new_attempt(order: &Order, merchant_order_id: String) -> Attempt {
    let t = now();
    Attempt {
        id: ObjectId::new(),
        merchant_order_id,
        order_id: order.id,
        user_id: order.user_id.clone(),
        amount: order.total,
        state: AttemptState::Creating,
        created_at: t,
        next_check_at: DateTime::from_millis(t.timestamp_millis() + 60_000),
        checks: 0,
        expire_at: None,
        last_error: None,
    }
}

/// What recording PhonePe's answer to a new attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The order now waits for this attempt.
    Pending,
    /// This attempt's webhook paid the order before we recorded it.
    AlreadyPaid,
    /// This attempt's webhook failed it before we recorded it: the order stays as it was.
    AttemptFailed,
}

/// Records, in one transaction, that PhonePe opened a payment page (`phonepe_order_id`,
/// open until `expire_at`) for `attempt`, and that its order now waits for that attempt.
pub async fn record_page_opened(
    db: &Db,
    attempt: &Attempt,
    phonepe_order_id: &str,
    expire_at: DateTime,
) -> Result<Recorded> {
    let merchant_order_id = attempt.merchant_order_id.as_str();
    platform::transaction!(db, |session| {
        let opened = AttemptMove::Opened {
            phonepe_order_id,
            expire_at,
        };
        let recorded =
            move_attempt(db, Some(&mut *session), AttemptRef::Id(attempt.id), opened).await?;
        let current = crate::order::lifecycle::load_in(db, session, attempt.order_id).await?;
        // The shopper can be quicker than us: PhonePe's webhook for this very attempt may
        // have been applied between PhonePe's answer and this transaction.
        if current.payment.merchant_order_id.as_deref() == Some(merchant_order_id)
            && current.status.is_paid_state()
        {
            return Ok(Recorded::AlreadyPaid);
        }
        // Still `creating` when PhonePe's answer was recorded: nothing else touched it. Only
        // otherwise is it worth a read to see what did.
        let now_attempt = if recorded {
            None
        } else {
            db.collection::<Attempt>(PAYMENT_ATTEMPTS)
                .find_one(doc! { "_id": attempt.id })
                .session(&mut *session)
                .await?
        };
        if now_attempt
            .is_some_and(|a| matches!(a.state, AttemptState::Failed | AttemptState::Error))
        {
            return Ok(Recorded::AttemptFailed);
        }
        if !matches!(
            current.status,
            OrderStatus::Created | OrderStatus::PaymentPending
        ) {
            return Err(Error::new(
                ProblemCode::OrderNotPayable,
                format!("The order became {} meanwhile", current.status),
            ));
        }
        // Through the one writer of order statuses; an order already waiting for payment
        // still records which attempt it now waits for.
        let wait = Transition::AwaitPayment { merchant_order_id };
        transition::apply_loaded_in(db, session, current, &wait).await?;
        Ok(Recorded::Pending)
    })
}
