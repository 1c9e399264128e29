//! Moving an order between statuses: each move the shop knows is a `Transition`, carrying
//! what that move needs (a shipment cannot be recorded without the seller who invoices it),
//! and `apply_in` is the one writer of an order's status. From the transition and the order
//! as read it derives everything that goes with the move — the status and its history entry,
//! the fields it sets, the mails it queues, the units and coupon use a cancellation gives
//! back, the refund of what a cancelled order collected, the invoice a shipment issues — and
//! writes it all in the caller's transaction, so none of it can disagree with the rest.
//!
//! Handlers, jobs and payments build a `Transition`; they never write an order's status,
//! history or the fields a move sets.

use super::lifecycle::{load_in, release_in};
use super::model::payment::PaymentMove;
use super::model::refund::{refundable, RefundKind};
use super::model::{Order, ORDERS};
use super::refund_entry::{self, NewRefund};
use super::status::{check_move, OrderStatus};
use crate::invoices;
use crate::messages::outbox::{self, MailEvent};
use crate::tax::seller::SellerConfig;
use crate::vocabulary::ids::OrderId;
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::Db;
use platform::error::{Error, Result};

/// Who moved an order, as its history and the stock ledger record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// The owner (or their staff), by user id.
    Owner(&'a str),
    Customer,
    PhonePe,
    /// The scheduled jobs (expiry).
    Jobs,
}

impl<'a> Actor<'a> {
    pub fn as_str(self) -> &'a str {
        match self {
            Actor::Owner(id) => id,
            Actor::Customer => "customer",
            Actor::PhonePe => "phonepe",
            Actor::Jobs => "jobs",
        }
    }
}

/// A shipment as the customer is told about it: the carrier's name, its tracking number and,
/// for a carrier the shop knows, the public tracking link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub description: Option<String>,
}

/// Every move of an order, with what it needs. A shipment cannot be recorded without the
/// seller who invoices it:
///
/// ```compile_fail,E0063
/// use shop::order::transition::{Actor, Shipment, Transition};
/// let shipment = Shipment {
///     carrier: "Delhivery".into(),
///     tracking_number: "1234567890123".into(),
///     tracking_url: None,
///     description: None,
/// };
/// let ship = Transition::Ship { shipment: &shipment, by: Actor::Owner("user_owner") };
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Transition<'a> {
    /// A payment page was opened for PhonePe order `merchant_order_id`: the order waits for
    /// it. An order already waiting records the new attempt (and gets no history entry).
    AwaitPayment {
        merchant_order_id: &'a str,
    },
    /// PhonePe's transaction `txn`, of PhonePe order `merchant_order_id`, paid the order.
    Pay {
        txn: &'a str,
        merchant_order_id: &'a str,
        by: Actor<'a>,
    },
    Pack {
        by: Actor<'a>,
    },
    /// Issues the GST tax invoice, as `seller`, in the same transaction.
    Ship {
        shipment: &'a Shipment,
        seller: &'a SellerConfig,
        by: Actor<'a>,
    },
    Deliver {
        by: Actor<'a>,
    },
    /// Gives back the units and the coupon use, and refunds what PhonePe collected.
    Cancel {
        reason: Option<&'a str>,
        by: Actor<'a>,
    },
    /// The payment window passed: cancels the order only while it is still unpaid.
    Expire,
}

/// The unpaid statuses, the only ones expiry cancels.
pub const UNPAID: [OrderStatus; 2] = [OrderStatus::Created, OrderStatus::PaymentPending];

/// Everything a transition does, derived from it before anything is written.
struct Plan<'a> {
    to: OrderStatus,
    /// Recorded in `statusHistory`.
    note: Option<String>,
    /// Recorded in `statusHistory` (absent for expiry, as it always was).
    by: Option<&'a str>,
    /// Set in the same update as the status.
    set: Document,
    /// Queued in the same transaction, only when the status actually changes.
    mail: &'static [MailEvent],
    /// When set, an order in any other status is left alone (`Outcome::Skipped`), even if the
    /// move is allowed: expiry may cancel only unpaid orders, the owner any unshipped one.
    only_from: Option<&'static [OrderStatus]>,
    /// `set` is written even when the order is already in `to` (without a history entry).
    set_if_there: bool,
    /// Who issues the invoice a shipment draws up.
    invoice: Option<&'a SellerConfig>,
}

impl<'a> Transition<'a> {
    /// The status the transition moves an order to.
    pub fn to(&self) -> OrderStatus {
        match self {
            Transition::AwaitPayment { .. } => OrderStatus::PaymentPending,
            Transition::Pay { .. } => OrderStatus::Paid,
            Transition::Pack { .. } => OrderStatus::Packed,
            Transition::Ship { .. } => OrderStatus::Shipped,
            Transition::Deliver { .. } => OrderStatus::Delivered,
            Transition::Cancel { .. } | Transition::Expire => OrderStatus::Cancelled,
        }
    }

    /// The mails the move queues for the customer.
    pub fn mail(&self) -> &'static [MailEvent] {
        match self {
            Transition::AwaitPayment { .. } | Transition::Pack { .. } => &[],
            Transition::Pay { .. } => &[MailEvent::PaymentSuccess],
            Transition::Ship { .. } => &[MailEvent::OrderShipped],
            Transition::Deliver { .. } => &[MailEvent::OrderDelivered],
            Transition::Cancel { .. } | Transition::Expire => &[MailEvent::OrderCancelled],
        }
    }

    fn plan(&self) -> Plan<'a> {
        let mut plan = Plan {
            to: self.to(),
            note: None,
            by: None,
            set: Document::new(),
            mail: self.mail(),
            only_from: None,
            set_if_there: false,
            invoice: None,
        };
        match *self {
            Transition::AwaitPayment { merchant_order_id } => {
                plan.by = Some(Actor::Customer.as_str());
                plan.set = PaymentMove::Awaiting { merchant_order_id }.fields();
                plan.set_if_there = true;
            }
            Transition::Pay {
                txn,
                merchant_order_id,
                by,
            } => {
                plan.note = Some(format!("PhonePe transaction {txn}"));
                plan.by = Some(by.as_str());
                plan.set = PaymentMove::Paid {
                    transaction_id: txn,
                    merchant_order_id,
                }
                .fields();
            }
            Transition::Pack { by } | Transition::Deliver { by } => plan.by = Some(by.as_str()),
            Transition::Ship {
                shipment,
                seller,
                by,
            } => {
                plan.by = Some(by.as_str());
                plan.set = doc! {
                    "shipping.carrier": &shipment.carrier,
                    "shipping.trackingNumber": &shipment.tracking_number,
                };
                if let Some(url) = &shipment.tracking_url {
                    plan.set.insert("shipping.trackingUrl", url);
                }
                if let Some(d) = &shipment.description {
                    plan.set.insert("shipping.description", d);
                }
                plan.invoice = Some(seller);
            }
            Transition::Cancel { reason, by } => {
                plan.note = Some(reason.unwrap_or("cancelled by the shop").to_owned());
                plan.by = Some(by.as_str());
            }
            Transition::Expire => {
                plan.note = Some("payment window expired".to_owned());
                // A paid order may be cancelled by the owner, never by expiry: checked here,
                // inside the cancelling transaction, so a payment landing meanwhile wins.
                plan.only_from = Some(&UNPAID);
            }
        }
        plan
    }
}

/// What `apply_in` did. In every case the order is as it is now, inside the transaction.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The status changed (and whatever goes with it happened).
    Moved(Order),
    /// The order was already in the requested status: nothing changed.
    AlreadyThere(Order),
    /// The transition does not apply to the order's status (expiry of a paid order): nothing
    /// changed.
    Skipped(Order),
}

impl Outcome {
    pub fn order(&self) -> &Order {
        match self {
            Outcome::Moved(o) | Outcome::AlreadyThere(o) | Outcome::Skipped(o) => o,
        }
    }

    pub fn into_order(self) -> Order {
        match self {
            Outcome::Moved(o) | Outcome::AlreadyThere(o) | Outcome::Skipped(o) => o,
        }
    }

    pub fn moved(&self) -> bool {
        matches!(self, Outcome::Moved(_))
    }
}

/// Applies `transition` to order `id` inside the caller's transaction (see `apply_loaded_in`).
pub async fn apply_in(
    db: &Db,
    session: &mut ClientSession,
    id: OrderId,
    transition: &Transition<'_>,
) -> Result<Outcome> {
    let order = load_in(db, session, id).await?;
    apply_loaded_in(db, session, order, transition).await
}

/// `apply_in` in a transaction of its own.
pub async fn apply(db: &Db, id: OrderId, transition: &Transition<'_>) -> Result<Outcome> {
    platform::transaction!(db, |session| {
        apply_in(db, session, id, transition).await
    })
}

/// Applies `transition` to `order`, just read in the caller's transaction: checks the move
/// against the table of allowed moves, updates the status only if it is still the one read
/// (so a concurrent writer makes this transaction conflict and retry instead of both
/// winning), appends to `statusHistory`, sets the move's fields, queues its mails, and for a
/// cancellation gives back the stock and the coupon use and records the refund of what was
/// collected; for a shipment it issues the tax invoice and stamps the order with it.
pub async fn apply_loaded_in(
    db: &Db,
    session: &mut ClientSession,
    order: Order,
    transition: &Transition<'_>,
) -> Result<Outcome> {
    let plan = transition.plan();
    let id = order.id;
    let from = order.status;
    if from == plan.to {
        if plan.set_if_there && !plan.set.is_empty() {
            let mut set = plan.set.clone();
            set.insert("updatedAt", now());
            // The order as written comes back with the write: no second round trip.
            let updated = db
                .collection::<Order>(ORDERS)
                .find_one_and_update(
                    doc! { "_id": id.oid(), "status": from.as_str() },
                    doc! { "$set": set },
                )
                .return_document(ReturnDocument::After)
                .session(&mut *session)
                .await?;
            return match updated {
                Some(order) => Ok(Outcome::AlreadyThere(order)),
                None => Err(platform::db::retry_transaction()),
            };
        }
        return Ok(Outcome::AlreadyThere(order));
    }
    if plan
        .only_from
        .is_some_and(|allowed| !allowed.contains(&from))
    {
        return Ok(Outcome::Skipped(order));
    }
    check_move(from, plan.to)?;

    let at = now();
    let mut set = doc! { "status": plan.to.as_str(), "updatedAt": at };
    for (k, v) in &plan.set {
        set.insert(k.clone(), v.clone());
    }
    let mut entry = doc! { "status": plan.to.as_str(), "at": at };
    if let Some(note) = &plan.note {
        entry.insert("note", note.as_str());
    }
    if let Some(by) = plan.by {
        entry.insert("by", by);
    }
    let Some(moved) = db
        .collection::<Order>(ORDERS)
        .find_one_and_update(
            doc! { "_id": id.oid(), "status": from.as_str() },
            doc! { "$set": set, "$push": { "statusHistory": entry } },
        )
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?
    else {
        // Someone moved it between our read and our write: start over from what they left.
        return Err(platform::db::retry_transaction());
    };
    if plan.to == OrderStatus::Cancelled {
        let reason = match &plan.note {
            Some(note) => format!("order cancelled: {note}"),
            None => "order cancelled".to_owned(),
        };
        let by = plan.by.unwrap_or(Actor::Jobs.as_str());
        release_in(db, session, &order, &reason, by).await?;
        refund_rest_in(db, session, &order, &plan).await?;
    }
    if let Some(seller) = plan.invoice {
        // In this transaction, so the invoice exists exactly when the order has shipped.
        let issued = invoices::on_shipped_in(db, session, &order, seller).await?;
        // The order names its invoice, so every answer about it (the customer's, the owner's,
        // the ship action's) can say which one without looking it up.
        if let Some(invoice) = issued {
            let at = DateTime::parse_rfc3339_str(&invoice.issued_at)
                .map_err(|e| Error::Internal(anyhow::anyhow!("invoice issuedAt: {e}")))?;
            db.docs(ORDERS)
                .update_one(
                    doc! { "_id": id.oid() },
                    doc! { "$set": { "invoice": { "number": &invoice.number, "issuedAt": at } } },
                )
                .session(&mut *session)
                .await?;
        }
    }
    for event in plan.mail {
        outbox::enqueue(db, session, id, *event).await?;
    }
    // A cancellation records refunds and a shipment an invoice on the order after the move;
    // any other move left it as the write returned it.
    if matches!(plan.to, OrderStatus::Cancelled | OrderStatus::Shipped) {
        return Ok(Outcome::Moved(load_in(db, session, id).await?));
    }
    Ok(Outcome::Moved(moved))
}

/// A cancelled paid order gives back everything PhonePe collected that is not already
/// refunded or on its way back.
async fn refund_rest_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    plan: &Plan<'_>,
) -> Result<()> {
    let amount = refundable(order);
    let Some(original) = order.payment.merchant_order_id.clone() else {
        return Ok(());
    };
    if amount == Paise::ZERO {
        return Ok(());
    }
    refund_entry::record_in(
        db,
        session,
        order,
        NewRefund {
            amount,
            lines: None,
            restock: false,
            reason: plan
                .note
                .clone()
                .unwrap_or_else(|| "order cancelled".into()),
            kind: RefundKind::Cancellation,
            by: plan.by.unwrap_or(Actor::Jobs.as_str()).to_owned(),
            original_merchant_order_id: original,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transition_moves_to_its_status_and_queues_its_mail() {
        let shipment = Shipment {
            carrier: "Delhivery".into(),
            tracking_number: "1234".into(),
            tracking_url: None,
            description: None,
        };
        let seller = crate::invoices::tests::seller();
        let owner = Actor::Owner("user_owner");
        let ship = Transition::Ship {
            shipment: &shipment,
            seller: &seller,
            by: owner,
        };
        assert_eq!(ship.to(), OrderStatus::Shipped);
        assert_eq!(ship.mail(), &[MailEvent::OrderShipped]);
        assert!(ship.plan().invoice.is_some());
        let expire = Transition::Expire.plan();
        assert_eq!(expire.to, OrderStatus::Cancelled);
        assert_eq!(expire.only_from, Some(&UNPAID[..]));
        assert_eq!(expire.by, None);
        let cancel = Transition::Cancel {
            reason: None,
            by: owner,
        }
        .plan();
        assert_eq!(cancel.note.as_deref(), Some("cancelled by the shop"));
        assert_eq!(cancel.only_from, None);
    }
}
