//! Refunds: every rupee that goes back to a customer — a cancelled paid order, an owner's
//! refund after payment, the money of a second attempt that paid an already-paid order — is a
//! `Refund` on its order, and one loop (`drive`) takes each one to PhonePe and back.
//!
//! What keeps it safe with many instances, overlapping `jobs` runs and a slow PhonePe:
//! - A refund's `merchantRefundId` is fixed by the transaction that records the refund and is
//!   never erased or changed. Retries reuse it, and PhonePe refuses a duplicate id, which is
//!   what makes a retry racing a request still in flight harmless.
//! - A new id is minted only after PhonePe has answered FAILED for the old one, as a new
//!   refund that names the one it replaces.
//! - Every write is a compare-and-set on (`merchantRefundId`, `state: pending`), so two
//!   instances settling the same refund settle it once.
//! - Only PhonePe's specific "refund unknown" answer means "never registered", and only once
//!   the request that claimed the refund is past its deadline; before that the request may
//!   still be on its way.

use crate::messages::outbox;
use crate::order::model::refund::{
    collected, refundable, Refund, RefundKind, RefundLine, RefundState,
};
use crate::order::model::{FlagReason, Order, PaymentFlag, PaymentStatus, ORDERS};
use crate::order::refund_entry::{self, NewRefund};
use crate::payments::{self, AttemptMove, AttemptRef, PaymentMove};
use crate::vocabulary::ids::{OrderId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use futures::TryStreamExt;
use integrations::phonepe::{self, PhonePe, PhonePeError, RefundRequest};
use mongodb::bson::{doc, DateTime, Document};
use platform::clock::Clock;
use platform::db::{Db, IndexSpec};
use platform::error::Result;
use platform::idempotency::{NextAction, Saved};
use platform::problem_codes::ProblemCode;
use serde::Serialize;

/// The indexes of the orders' refunds: found by their id (webhooks) and by what is due.
pub fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::plain(ORDERS, doc! { "refunds.merchantRefundId": 1 }),
        IndexSpec::plain(
            ORDERS,
            doc! { "refunds.state": 1, "refunds.nextCheckAt": 1 },
        ),
    ]
}

/// How long a refund request may still be on its way to PhonePe after we sent it. Well past
/// the PhonePe client's own timeout, so an instance that sent a request and is still waiting
/// for the answer is never second-guessed by another.
pub const REQUEST_DEADLINE_MS: i64 = 30_000;

/// Refunds of one order that PhonePe may fail before we stop minting new ids and ask a
/// person to look (the order is flagged `refund_failed`).
const MAX_FAILED_PER_ORDER: usize = 3;

/// The owner's refund request, validated for shape (`amount` ≥ 100 paise, lines well formed,
/// not both) by the caller.
#[derive(Debug, Clone)]
pub struct OwnerRefund {
    pub amount: Option<Paise>,
    pub lines: Option<Vec<RefundLine>>,
    pub restock: bool,
    pub reason: String,
    pub by: String,
    /// The owner's `Idempotency-Key` with the fingerprint of the request.
    pub idempotency: Option<platform::idempotency::Keyed>,
}

/// What `decide` did.
#[derive(Debug)]
pub enum Decided {
    Created(Order),
    /// An earlier request with the same `Idempotency-Key` made this refund.
    Replayed(Order),
}

/// PhonePe refuses refunds below ₹1.00.
pub const MIN_REFUND: Paise = Paise(100);

/// Units of each variant already refunded (or on their way back) by line refunds.
fn refunded_units(order: &Order, variant: VariantId) -> i64 {
    order
        .refunds
        .iter()
        .filter(|r| r.state != RefundState::Failed)
        .flat_map(|r| r.lines.iter().flatten())
        .filter(|l| l.variant() == variant)
        .map(|l| l.quantity)
        .sum()
}

/// What `lines` are worth at the price paid, after their share of the order's discount. A
/// line's first `k` units are worth `floor(paid × k / quantity)`, so refunding a line in
/// parts gives back exactly what it cost once all its units are back.
fn value_of_lines(order: &Order, lines: &[RefundLine]) -> Result<Paise> {
    let totals: Vec<(crate::vocabulary::ids::ProductId, Paise)> = order
        .items
        .iter()
        .map(|i| (i.product_id, i.line_total))
        .collect();
    let shares = crate::tax::split_discount_by_totals(&totals, order.discount)
        .map_err(|e| platform::Error::Internal(anyhow::anyhow!("order {}: {e:?}", order.id)))?;
    let mut value = Paise::ZERO;
    let mut errors = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let Some((i, item)) = order
            .items
            .iter()
            .enumerate()
            .find(|(_, i)| i.variant_id == line.variant())
        else {
            // Named by the field the owner sent: a line without a variant named a product.
            let field = if line.variant_id.is_some() {
                "variantId"
            } else {
                "productId"
            };
            errors.push(platform::error::FieldError::new(
                format!("lines[{n}].{field}"),
                "is not on this order",
            ));
            continue;
        };
        let already = refunded_units(order, line.variant());
        if already + line.quantity > item.quantity {
            return Err(platform::Error::new(
                ProblemCode::UnitsAlreadyRefunded,
                format!(
                    "Only {} of the {} × '{}' on this order can still be refunded",
                    item.quantity - already,
                    item.quantity,
                    item.display_name()
                ),
            )
            .with("productId", line.product_id.to_hex())
            .with("variantId", line.variant().to_hex())
            .with("refundableUnits", item.quantity - already));
        }
        let paid = i128::from((item.line_total - shares[i]).get());
        let worth = |k: i64| paid * i128::from(k) / i128::from(item.quantity);
        value = value + Paise((worth(already + line.quantity) - worth(already)) as i64);
    }
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(platform::Error::validation(errors))
    }
}

/// The owner's lines, each naming its variant: a line naming only a product means the
/// order's one line of that product (`422 VARIANT_REQUIRED` when it has several).
fn resolve_lines(order: &Order, lines: Option<&[RefundLine]>) -> Result<Option<Vec<RefundLine>>> {
    let Some(lines) = lines else {
        return Ok(None);
    };
    let mut resolved = Vec::with_capacity(lines.len());
    for line in lines {
        let mut line = line.clone();
        if line.variant_id.is_none() {
            let mut of_product = order
                .items
                .iter()
                .filter(|i| i.product_id == line.product_id);
            match (of_product.next(), of_product.next()) {
                (Some(item), None) => line.variant_id = Some(item.variant_id),
                (Some(item), Some(_)) => {
                    return Err(platform::Error::new(
                        ProblemCode::VariantRequired,
                        format!(
                            "This order has several variants of '{}': name the line by variantId",
                            item.name
                        ),
                    )
                    .with("productId", line.product_id.to_hex()))
                }
                // Refused by `value_of_lines`, with every other line's problem.
                (None, _) => {}
            }
        }
        resolved.push(line);
    }
    Ok(Some(resolved))
}

/// What the owner's refund of `lines`, or of `amount`, or (neither) of everything still
/// refundable comes to on `order` as it stands, with every refusal `decide` would answer.
fn amount_of(order: &Order, lines: Option<&[RefundLine]>, amount: Option<Paise>) -> Result<Paise> {
    if collected(order) == Paise::ZERO {
        return Err(nothing_collected());
    }
    let left = refundable(order);
    if left == Paise::ZERO {
        return Err(platform::Error::new(
            ProblemCode::NothingToRefund,
            "Everything collected for this order has already been refunded",
        ));
    }
    let amount = match (lines, amount) {
        (Some(lines), _) => value_of_lines(order, lines)?,
        (None, Some(amount)) => amount,
        (None, None) => left,
    };
    if amount > left {
        return Err(platform::Error::new(
            ProblemCode::RefundExceedsPaid,
            format!(
                "At most {} of this order can still be refunded",
                left.format_inr()
            ),
        )
        .with("refundable", left.get()));
    }
    if amount < MIN_REFUND {
        return Err(platform::Error::new(
            ProblemCode::RefundBelowMinimum,
            "PhonePe cannot refund less than ₹1.00",
        ));
    }
    Ok(amount)
}

fn nothing_collected() -> platform::Error {
    platform::Error::new(
        ProblemCode::NothingToRefund,
        "Nothing was collected through PhonePe for this order, so there is nothing to refund",
    )
}

/// What an owner's refund would come to, decided exactly as `decide` would, and nothing
/// written: what the console shows the owner before they confirm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub amount: Paise,
    /// What may still be refunded of the order before this refund.
    pub refundable: Paise,
}

pub async fn preview(
    db: &Db,
    id: OrderId,
    lines: Option<&[RefundLine]>,
    amount: Option<Paise>,
) -> Result<Preview> {
    let order = db
        .collection::<Order>(ORDERS)
        .find_one(doc! { "_id": id.oid() })
        .await?
        .ok_or_else(crate::order::model::order_not_found)?;
    let lines = resolve_lines(&order, lines)?;
    Ok(Preview {
        amount: amount_of(&order, lines.as_deref(), amount)?,
        refundable: refundable(&order),
    })
}

/// Decides and records the owner's refund of order `id`, in one transaction with everything
/// it implies: the amount (never above what is still refundable), the restock, the order's
/// payment status. `jobs` then takes it to PhonePe like every other refund.
pub async fn decide(
    db: &Db,
    id: crate::vocabulary::ids::OrderId,
    req: &OwnerRefund,
) -> Result<Decided> {
    platform::transaction!(db, |session| {
        let order = crate::order::lifecycle::load_in(db, session, id).await?;
        if let Some(keyed) = &req.idempotency {
            // The saved response is the refund on the order, which is answered as it is now.
            let saved = order
                .refunds
                .iter()
                .find(|r| r.idempotency_key.as_deref() == Some(keyed.key.as_str()))
                .map(|r| Saved {
                    request_hash: r.request_hash.clone().unwrap_or_default(),
                    response: (),
                });
            if let NextAction::ReturnSavedResponse(()) = keyed.next_action(saved)? {
                return Ok(Decided::Replayed(order));
            }
        }
        let Some(original) = order
            .payment
            .merchant_order_id
            .clone()
            .filter(|_| collected(&order) > Paise::ZERO)
        else {
            return Err(nothing_collected());
        };
        let lines = resolve_lines(&order, req.lines.as_deref())?;
        let amount = amount_of(&order, lines.as_deref(), req.amount)?;
        if req.restock {
            let reason = format!("restocking refund: {}", req.reason);
            // Units an earlier restocking refund or the order's cancellation already put back
            // are on the shelf: the money goes back, the units do not come back twice.
            let mut held = crate::order::lifecycle::units_held(&order);
            for line in lines.iter().flatten() {
                let units =
                    crate::order::lifecycle::take_held(&mut held, line.variant(), line.quantity);
                if units == 0 {
                    continue;
                }
                // Inactive products get their units back too: reactivating must not lose them.
                // A product deleted since has nothing to return the units to.
                let back = crate::catalog::StockMove {
                    product_id: line.product_id,
                    variant_id: line.variant(),
                    delta: units,
                    reason: &reason,
                    order_id: Some(order.id),
                    by: &req.by,
                };
                crate::catalog::try_move_stock_in(db, session, &back, false).await?;
            }
        }
        let mut refund = refund_entry::pending(
            &order,
            NewRefund {
                amount,
                lines: lines.clone(),
                restock: req.restock,
                reason: req.reason.clone(),
                kind: RefundKind::Owner,
                by: req.by.clone(),
                original_merchant_order_id: original,
            },
        );
        if let Some(keyed) = &req.idempotency {
            refund.idempotency_key = Some(keyed.key.as_str().to_owned());
            refund.request_hash = Some(keyed.request_hash.clone());
        }
        refund_entry::push_in(db, session, &order, refund).await?;
        Ok(Decided::Created(
            crate::order::lifecycle::load_in(db, session, id).await?,
        ))
    })
}

/// PhonePe's final word on a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Completed,
    Failed(String),
}

/// What `settle` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// The refund completed now; its mail is queued for `order`.
    Completed(OrderId),
    /// The refund failed now; a replacement was recorded unless the order hit its limit.
    Failed,
    /// Already settled by someone else (a duplicate webhook, another instance).
    AlreadySettled,
    /// No order has a refund by this id.
    Unknown,
    /// PhonePe reported a different amount than the refund asked for: nothing changed and
    /// the refund carries the error for a person to look at.
    AmountMismatch,
}

/// The order's payment status once its refunds are as in `refunds`.
fn payment_status_after(order: &Order, refunds: &[Refund]) -> PaymentStatus {
    let own = || refunds.iter().filter(|r| r.counts_against_order());
    if own().any(|r| r.state == RefundState::Pending) {
        return PaymentStatus::RefundPending;
    }
    let refunded = own()
        .filter(|r| r.state == RefundState::Completed)
        .fold(Paise::ZERO, |sum, r| sum + r.amount);
    if refunded == Paise::ZERO {
        // Every refund failed and none is left to retry: the money is still with us.
        PaymentStatus::Paid
    } else if refunded >= collected(order) {
        PaymentStatus::Refunded
    } else {
        PaymentStatus::PartiallyRefunded
    }
}

fn refunded_amount(refunds: &[Refund]) -> Paise {
    refunds
        .iter()
        .filter(|r| r.counts_against_order() && r.state == RefundState::Completed)
        .fold(Paise::ZERO, |sum, r| sum + r.amount)
}

/// Applies PhonePe's final word on refund `merchant_refund_id` to the order that owns it, in
/// one transaction: the refund's state, the order's payment status and refunded amount, the
/// refund mail, and for a failure the replacement refund under a new id.
pub async fn settle(
    db: &Db,
    merchant_refund_id: &str,
    verdict: &Verdict,
    reported_amount: Option<i64>,
) -> Result<Settled> {
    platform::transaction!(db, |session| {
        let Some(order) = db
            .collection::<Order>(ORDERS)
            .find_one(doc! { "refunds.merchantRefundId": merchant_refund_id })
            .session(&mut *session)
            .await?
        else {
            return Ok(Settled::Unknown);
        };
        let Some(refund) = order
            .refunds
            .iter()
            .find(|r| r.merchant_refund_id == merchant_refund_id)
            .cloned()
        else {
            return Ok(Settled::Unknown);
        };
        if refund.state != RefundState::Pending {
            return Ok(Settled::AlreadySettled);
        }
        let t = now();
        if let Some(reported) = reported_amount.filter(|a| *a != refund.amount.get()) {
            tracing::error!(order_id = %order.id.to_hex(), merchant_refund_id, reported, expected = refund.amount.get(), "PhonePe reported a refund amount that does not match; not settling it");
            db.docs(ORDERS)
                .update_one(
                    doc! { "_id": order.id, "refunds.merchantRefundId": merchant_refund_id },
                    doc! { "$set": { "refunds.$.lastError": format!("amount_mismatch: PhonePe reported {reported} paise") } },
                )
                .session(&mut *session)
                .await?;
            return Ok(Settled::AmountMismatch);
        }
        let new_state = match verdict {
            Verdict::Completed => RefundState::Completed,
            Verdict::Failed(_) => RefundState::Failed,
        };
        let mut after = order.refunds.clone();
        for r in after.iter_mut() {
            if r.merchant_refund_id == merchant_refund_id {
                r.state = new_state;
            }
        }
        let failed_so_far = after
            .iter()
            .filter(|r| r.counts_against_order() == refund.counts_against_order())
            .filter(|r| r.state == RefundState::Failed)
            .count();
        let replace = matches!(verdict, Verdict::Failed(_)) && failed_so_far < MAX_FAILED_PER_ORDER;
        let mut set = doc! {
            "refunds.$.state": new_state,
            "refunds.$.settledAt": t,
            "updatedAt": t,
        };
        if let Verdict::Failed(code) = verdict {
            set.insert("refunds.$.lastError", code.as_str());
            if !replace {
                tracing::error!(order_id = %order.id.to_hex(), merchant_refund_id, "refunds keep failing at PhonePe; flagged for a person");
                let flag = PaymentFlag::new(FlagReason::RefundFailed, merchant_refund_id);
                set.extend(PaymentMove::Flagged(flag).fields());
            }
        }
        if refund.counts_against_order() && !replace {
            let refunded = PaymentMove::Refunded {
                status: payment_status_after(&order, &after),
                refunded: refunded_amount(&after),
                at: t,
            };
            set.extend(refunded.fields());
        }
        let changed = db
            .docs(ORDERS)
            .update_one(
                doc! {
                    "_id": order.id,
                    "refunds": { "$elemMatch": {
                        "merchantRefundId": merchant_refund_id,
                        "state": RefundState::Pending,
                    } },
                },
                doc! { "$set": set },
            )
            .session(&mut *session)
            .await?;
        if changed.matched_count != 1 {
            return Err(platform::db::retry_transaction());
        }
        match verdict {
            Verdict::Completed => {
                if refund.kind == RefundKind::ExtraCharge {
                    let attempt = AttemptRef::MerchantOrderId(&refund.original_merchant_order_id);
                    let refunded = AttemptMove::Refunded { at: t };
                    payments::move_attempt(db, Some(&mut *session), attempt, refunded).await?;
                    // No mail: the shopper's order mails already say what they paid for,
                    // and PhonePe tells them about the returned double charge itself.
                    return Ok(Settled::Completed(order.id));
                }
                // Before the mail is queued, which attaches the credit note.
                crate::invoices::credit_note_in(db, session, &order, &refund).await?;
                outbox::enqueue_refund(db, session, order.id, merchant_refund_id).await?;
                Ok(Settled::Completed(order.id))
            }
            Verdict::Failed(code) => {
                tracing::warn!(order_id = %order.id.to_hex(), merchant_refund_id, code, "PhonePe failed a refund");
                if replace {
                    // The same money and lines again, under the order's next id.
                    let again = NewRefund {
                        amount: refund.amount,
                        lines: refund.lines,
                        restock: refund.restock,
                        reason: refund.reason,
                        kind: refund.kind,
                        by: "jobs".into(),
                        original_merchant_order_id: refund.original_merchant_order_id,
                    };
                    let replacement = Refund {
                        replaces: Some(merchant_refund_id.to_owned()),
                        ..refund_entry::pending(&order, again)
                    };
                    refund_entry::push_in(db, session, &order, replacement).await?;
                }
                Ok(Settled::Failed)
            }
        }
    })
}

fn after_ms(t: DateTime, ms: i64) -> DateTime {
    DateTime::from_millis(t.timestamp_millis() + ms)
}

/// Seconds until the next look at a refund PhonePe has not settled after `checks` looks.
fn next_check_delay_ms(checks: i32) -> i64 {
    1000 * payments::next_check_delay_secs(checks).min(600)
}

/// The one refund loop: requests every due pending refund from PhonePe (under its fixed id)
/// and applies PhonePe's answers. One bad refund never stops the batch. Returns the orders
/// whose refund completed now (their refund mail is queued). When a refund is due, and
/// when a request is overdue, is read on `clock`.
pub async fn drive(
    db: &Db,
    clock: &dyn Clock,
    phonepe: &PhonePe,
    limit: i64,
) -> Result<Vec<OrderId>> {
    let t = clock.now();
    let due: Vec<Order> = db
        .collection::<Order>(ORDERS)
        .find(doc! { "refunds": { "$elemMatch": {
            "state": RefundState::Pending,
            "nextCheckAt": { "$lte": t },
        } } })
        .limit(limit)
        .await?
        .try_collect()
        .await?;
    let mut completed = Vec::new();
    for order in due {
        for refund in order
            .refunds
            .iter()
            .filter(|r| r.state == RefundState::Pending && r.next_check_at <= t)
        {
            match drive_one(db, clock, phonepe, order.id, refund).await {
                Ok(Some(Settled::Completed(id))) => completed.push(id),
                Ok(_) => {}
                Err(e) => tracing::error!(
                    order_id = %order.id.to_hex(),
                    merchant_refund_id = %refund.merchant_refund_id,
                    error = ?e,
                    "refund step failed; the next run tries again"
                ),
            }
        }
    }
    Ok(completed)
}

/// Filter matching `refund` on its order only while it is pending and was last requested
/// at `requested_at` — the compare-and-set every write of the loop goes through.
fn still_ours(order_id: OrderId, refund: &Refund, requested_at: Option<DateTime>) -> Document {
    let mut elem = doc! {
        "merchantRefundId": &refund.merchant_refund_id,
        "state": RefundState::Pending,
    };
    match requested_at {
        Some(at) => elem.insert("requestedAt", at),
        None => elem.insert("requestedAt", doc! { "$exists": false }),
    };
    doc! { "_id": order_id, "refunds": { "$elemMatch": elem } }
}

/// Claims the right to send `refund` to PhonePe now. Only one instance wins a claim, and a
/// claim is renewed only past the previous one's deadline.
async fn claim_request(
    db: &Db,
    clock: &dyn Clock,
    order_id: OrderId,
    refund: &Refund,
) -> Result<Option<DateTime>> {
    let t = clock.now();
    let claimed = db
        .docs(ORDERS)
        .update_one(
            still_ours(order_id, refund, refund.requested_at),
            doc! { "$set": {
                "refunds.$.requestedAt": t,
                "refunds.$.nextCheckAt": after_ms(t, 5_000),
            } },
        )
        .await?;
    Ok((claimed.modified_count == 1).then_some(t))
}

async fn note(
    db: &Db,
    clock: &dyn Clock,
    order_id: OrderId,
    refund: &Refund,
    requested_at: Option<DateTime>,
    error: Option<String>,
) -> Result<()> {
    let mut set = doc! {
        "refunds.$.nextCheckAt": clock.after_ms(next_check_delay_ms(refund.checks)),
        "refunds.$.checks": refund.checks + 1,
    };
    if let Some(e) = error {
        set.insert("refunds.$.lastError", e);
    }
    db.docs(ORDERS)
        .update_one(
            still_ours(order_id, refund, requested_at),
            doc! { "$set": set },
        )
        .await?;
    Ok(())
}

async fn drive_one(
    db: &Db,
    clock: &dyn Clock,
    phonepe: &PhonePe,
    order_id: OrderId,
    refund: &Refund,
) -> Result<Option<Settled>> {
    let mut requested_at = refund.requested_at;
    let mut sent_now = false;
    if requested_at.is_none() {
        let Some(at) = claim_request(db, clock, order_id, refund).await? else {
            return Ok(None);
        };
        requested_at = Some(at);
        sent_now = true;
        if let Some(e) = send(phonepe, refund).await {
            note(db, clock, order_id, refund, requested_at, Some(e)).await?;
            return Ok(None);
        }
    }
    match ask(db, phonepe, &refund.merchant_refund_id).await? {
        Asked::Settled(settled) => Ok(Some(settled)),
        Asked::Pending => {
            note(db, clock, order_id, refund, requested_at, None).await?;
            Ok(None)
        }
        Asked::Unknown => {
            let deadline_passed = requested_at
                .is_none_or(|at| clock.now_ms() - at.timestamp_millis() > REQUEST_DEADLINE_MS);
            if sent_now || !deadline_passed {
                // Our own request may still be on its way to PhonePe: not a verdict yet.
                note(db, clock, order_id, refund, requested_at, None).await?;
                return Ok(None);
            }
            // PhonePe never registered it (we crashed before sending, or the request was
            // lost): send it again under the same id.
            let renewed = Refund {
                requested_at,
                ..refund.clone()
            };
            let Some(at) = claim_request(db, clock, order_id, &renewed).await? else {
                return Ok(None);
            };
            let error = send(phonepe, refund).await;
            note(db, clock, order_id, refund, Some(at), error).await?;
            Ok(None)
        }
        Asked::Unavailable(e) => {
            note(db, clock, order_id, refund, requested_at, Some(e)).await?;
            Ok(None)
        }
    }
}

/// What PhonePe's refund-status API said about a refund.
#[derive(Debug)]
pub enum Asked {
    /// A final answer, applied.
    Settled(Settled),
    /// Registered, not final yet.
    Pending,
    /// PhonePe has no refund by this id.
    Unknown,
    /// No answer (timeout, 5xx, …).
    Unavailable(String),
}

/// Asks PhonePe about refund `merchant_refund_id` and applies a final answer. A refund
/// webhook is only a hint to call this: its body proves nothing about money.
pub async fn ask(db: &Db, phonepe: &PhonePe, merchant_refund_id: &str) -> Result<Asked> {
    match phonepe.refund_status(merchant_refund_id).await {
        Ok(s) => {
            let verdict = match s.state {
                phonepe::State::Completed => Verdict::Completed,
                phonepe::State::Failed => {
                    Verdict::Failed(s.error_code.unwrap_or_else(|| "FAILED".into()))
                }
                _ => return Ok(Asked::Pending),
            };
            let amount = (verdict == Verdict::Completed)
                .then_some(s.amount)
                .flatten();
            Ok(Asked::Settled(
                settle(db, merchant_refund_id, &verdict, amount).await?,
            ))
        }
        Err(e) if e.is_unknown_refund() => Ok(Asked::Unknown),
        Err(e) => {
            tracing::warn!(merchant_refund_id, error = %e, "refund status unavailable");
            Ok(Asked::Unavailable(e.to_string()))
        }
    }
}

/// Sends `refund` to PhonePe. Returns the error to record, if any; a duplicate id means an
/// earlier request under this id reached PhonePe, which is what we wanted.
async fn send(phonepe: &PhonePe, refund: &Refund) -> Option<String> {
    let req = RefundRequest {
        merchant_refund_id: refund.merchant_refund_id.clone(),
        original_merchant_order_id: refund.original_merchant_order_id.clone(),
        amount: refund.amount.get(),
    };
    match phonepe.refund(&req).await {
        Ok(r) => {
            tracing::info!(merchant_refund_id = %refund.merchant_refund_id, refund_id = ?r.refund_id, "refund requested");
            None
        }
        Err(e) if e.is_duplicate_refund() => None,
        Err(e) => {
            if matches!(e, PhonePeError::Api { .. }) {
                // A definite refusal (e.g. more than is refundable): the refund keeps its id,
                // is retried with backoff, and a person sees the error on the order.
                tracing::error!(merchant_refund_id = %refund.merchant_refund_id, error = %e, "PhonePe refused a refund");
            } else {
                tracing::warn!(merchant_refund_id = %refund.merchant_refund_id, error = %e, "refund request failed; will retry");
            }
            Some(e.to_string())
        }
    }
}

/// Pending refunds whose last look is more than `older_than_ms` ago (the jobs backlog).
pub async fn count_stale(db: &Db, clock: &dyn Clock, older_than_ms: i64) -> Result<u64> {
    let before = clock.after_ms(-older_than_ms);
    Ok(db
        .docs(ORDERS)
        .count_documents(doc! { "refunds": { "$elemMatch": {
            "state": RefundState::Pending,
            "at": { "$lt": before },
        } } })
        .await?)
}
