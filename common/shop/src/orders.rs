//! Moving an order through its lifecycle. Every writer (admin actions, expiry, payments)
//! goes through `change_in`, so the state machine, the status history, the stock and coupon
//! release of a cancellation and the mail it causes can never disagree with each other.

use crate::ids::{OrderId, ProductId};
use crate::models::{now, Order};
use crate::order_state::{transition, OrderStatus};
use crate::outbox::{self, MailEvent};
use crate::refunds::{self, NewRefund, RefundKind};
use crate::Paise;
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{Db, ORDERS};
use platform::error::{Error, Result};
use platform::problem_codes::ProblemCode;

/// A requested status change and what goes with it.
#[derive(Debug, Clone)]
pub struct Change {
    pub to: OrderStatus,
    /// Recorded in `statusHistory` (e.g. the cancellation reason).
    pub note: Option<String>,
    /// Extra fields set in the same update as the status (e.g. `shipping.carrier`).
    pub set: Document,
    /// Mails queued in the same transaction, only when the status actually changes.
    pub mail: Vec<MailEvent>,
    /// When set, an order in any other status is left alone (`Outcome::Skipped`) even if
    /// the state machine would allow the move — e.g. expiry may cancel only unpaid orders,
    /// although a paid order may be cancelled by the owner.
    pub only_from: Option<Vec<OrderStatus>>,
    /// Who asked for it, recorded in `statusHistory` (an admin's user id, `customer`,
    /// `phonepe` or `jobs`).
    pub by: Option<String>,
    /// Apply `set` even when the order is already in `to` (no history entry then): a new
    /// payment attempt on an order already waiting for payment still records its id.
    pub set_if_there: bool,
    /// Who issues the tax invoice a move to `shipped` draws up.
    pub seller: Option<crate::seller::SellerConfig>,
}

impl Change {
    pub fn to(status: OrderStatus) -> Self {
        Change {
            to: status,
            note: None,
            set: Document::new(),
            mail: Vec::new(),
            only_from: None,
            by: None,
            set_if_there: false,
            seller: None,
        }
    }

    pub fn invoiced_by(mut self, seller: &crate::seller::SellerConfig) -> Self {
        self.seller = Some(seller.clone());
        self
    }

    pub fn set_if_there(mut self) -> Self {
        self.set_if_there = true;
        self
    }

    pub fn by(mut self, who: impl Into<String>) -> Self {
        self.by = Some(who.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }

    pub fn set(mut self, field: &str, value: impl Into<Bson>) -> Self {
        self.set.insert(field, value);
        self
    }

    pub fn mail(mut self, event: MailEvent) -> Self {
        self.mail.push(event);
        self
    }

    pub fn only_from(mut self, statuses: &[OrderStatus]) -> Self {
        self.only_from = Some(statuses.to_vec());
        self
    }
}

/// What `change_in` did. In every case the order is as it is now, inside the transaction.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The status changed (and whatever goes with it happened).
    Moved(Order),
    /// The order was already in the requested status: nothing changed.
    AlreadyThere(Order),
    /// The order was not in one of `only_from`: nothing changed.
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

/// The first order number a shop hands out: `PIT-1001` reads better than `PIT-1`.
const FIRST_NUMBER: i64 = 1001;

/// Allocates the next order number with one atomic increment of a counter, outside the
/// checkout transaction: concurrent checkouts never write the same document inside their
/// transactions, so they never conflict over it. A checkout that then fails leaves a gap,
/// which the contract allows (invoice numbers, which must not have gaps, are different).
pub async fn allocate_number(db: &Db, prefix: &str) -> Result<String> {
    let counters = db.docs(platform::db::COUNTERS);
    // No upsert: racing upserts of a missing counter can hand two callers the same value on
    // some servers. Increment what exists; only the very first checkout creates it, and a
    // loser of that race goes back to incrementing.
    let seq = loop {
        let bumped = counters
            .find_one_and_update(
                doc! { "_id": "orderNumber" },
                doc! { "$inc": { "seq": 1_i64 } },
            )
            .return_document(mongodb::options::ReturnDocument::After)
            .await?;
        if let Some(counter) = bumped {
            break counter
                .get_i64("seq")
                .map_err(|e| Error::Internal(anyhow::anyhow!("order number counter: {e}")))?;
        }
        match counters
            .insert_one(doc! { "_id": "orderNumber", "seq": 1_i64 })
            .await
        {
            Ok(_) => break 1,
            Err(e) if platform::db::is_duplicate_key(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    Ok(format!("{prefix}-{}", FIRST_NUMBER - 1 + seq))
}

/// Whether `raw` has the shape of an order number (`PIT-1001`), whatever the prefix.
pub fn looks_like_number(raw: &str) -> bool {
    raw.split_once('-').is_some_and(|(prefix, n)| {
        (1..=8).contains(&prefix.len())
            && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
            && (1..=18).contains(&n.len())
            && n.bytes().all(|b| b.is_ascii_digit())
    })
}

/// The filter for the order a route's `{id}` names: its 24-hex id or its number (any case).
/// Anything else is `404 ORDER_NOT_FOUND`.
pub fn filter_for(raw: &str) -> Result<Document> {
    if let Ok(id) = ObjectId::parse_str(raw) {
        return Ok(doc! { "_id": id });
    }
    if looks_like_number(raw) {
        return Ok(doc! { "number": raw.to_ascii_uppercase() });
    }
    Err(order_not_found())
}

/// The id of the order a route's `{id}` names. An id needs no lookup; a number costs one
/// indexed read.
pub async fn resolve(db: &Db, raw: &str) -> Result<OrderId> {
    if let Ok(id) = ObjectId::parse_str(raw) {
        return Ok(OrderId(id));
    }
    let found = db
        .docs(ORDERS)
        .find_one(filter_for(raw)?)
        .projection(doc! { "_id": 1 })
        .await?
        .ok_or_else(order_not_found)?;
    found
        .get_object_id("_id")
        .map(OrderId)
        .map_err(|e| Error::Internal(anyhow::anyhow!("order without an id: {e}")))
}

pub fn order_not_found() -> Error {
    Error::new(ProblemCode::OrderNotFound, "No such order")
}

/// Reads an order inside the caller's transaction.
pub async fn load_in(db: &Db, session: &mut ClientSession, id: OrderId) -> Result<Order> {
    db.collection::<Order>(ORDERS)
        .find_one(doc! { "_id": id.oid() })
        .session(&mut *session)
        .await?
        .ok_or_else(order_not_found)
}

/// Applies `change` to order `id` inside the caller's transaction: checks the move against
/// the state machine, updates the status only if it is still the one just read (so a
/// concurrent writer makes this transaction conflict and retry instead of both winning),
/// appends to `statusHistory`, sets the caller's extra fields, queues the mails and, for a
/// cancellation, returns the stock and the coupon use and marks a paid order for refund.
pub async fn change_in(
    db: &Db,
    session: &mut ClientSession,
    id: OrderId,
    change: &Change,
) -> Result<Outcome> {
    let order = load_in(db, session, id).await?;
    change_loaded_in(db, session, order, change).await
}

/// `change_in` for an order the caller has just read in this transaction (saves the read).
pub async fn change_loaded_in(
    db: &Db,
    session: &mut ClientSession,
    order: Order,
    change: &Change,
) -> Result<Outcome> {
    let id = order.id;
    let from = order.status;
    if from == change.to {
        if change.set_if_there && !change.set.is_empty() {
            let mut set = change.set.clone();
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
    if change
        .only_from
        .as_ref()
        .is_some_and(|allowed| !allowed.contains(&from))
    {
        return Ok(Outcome::Skipped(order));
    }
    transition(from, change.to)?;

    let at = now();
    let mut set = doc! { "status": change.to.as_str(), "updatedAt": at };
    for (k, v) in &change.set {
        set.insert(k.clone(), v.clone());
    }
    let mut entry = doc! { "status": change.to.as_str(), "at": at };
    if let Some(note) = &change.note {
        entry.insert("note", note.as_str());
    }
    if let Some(by) = &change.by {
        entry.insert("by", by.as_str());
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
    if change.to == OrderStatus::Cancelled {
        let reason = match &change.note {
            Some(note) => format!("order cancelled: {note}"),
            None => "order cancelled".to_owned(),
        };
        let by = change.by.as_deref().unwrap_or("jobs");
        release_as_in(db, session, &order, &reason, by).await?;
        refund_rest_in(db, session, &order, change).await?;
    }
    if change.to == OrderStatus::Shipped {
        // In this transaction, so the invoice exists exactly when the order has shipped.
        let issued =
            crate::invoices::on_shipped_in(db, session, &order, change.seller.as_ref()).await?;
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
    for event in &change.mail {
        outbox::enqueue(db, session, id, *event).await?;
    }
    // A cancellation records refunds and a shipment an invoice on the order after the move;
    // any other move left it as the write returned it.
    if matches!(change.to, OrderStatus::Cancelled | OrderStatus::Shipped) {
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
    change: &Change,
) -> Result<()> {
    let amount = refunds::refundable(order);
    let Some(original) = order.payment.merchant_order_id.clone() else {
        return Ok(());
    };
    if amount == Paise::ZERO {
        return Ok(());
    }
    refunds::record_in(
        db,
        session,
        order,
        NewRefund {
            amount,
            lines: None,
            restock: false,
            reason: change
                .note
                .clone()
                .unwrap_or_else(|| "order cancelled".into()),
            kind: RefundKind::Cancellation,
            by: change.by.clone().unwrap_or_else(|| "jobs".into()),
            original_merchant_order_id: original,
        },
    )
    .await?;
    Ok(())
}

/// `change_in` in a transaction of its own.
pub async fn change(db: &Db, id: OrderId, change: &Change) -> Result<Outcome> {
    platform::transaction!(db, |session| { change_in(db, session, id, change).await })
}

/// Units of each product the order took at checkout and has not given back yet, in the order
/// of its lines: none once it is cancelled (the cancellation or expiry released them, and
/// `Cancelled` is final), else its quantity less what restocking refunds put back. Everything
/// that returns an order's units to stock returns at most these, so per order and product the
/// units restocked never exceed the units taken, however refunds and a cancellation interleave.
pub fn units_held(order: &Order) -> Vec<(ProductId, i64)> {
    let mut held: Vec<(ProductId, i64)> = Vec::new();
    if order.status == OrderStatus::Cancelled {
        return held;
    }
    for item in &order.items {
        match held.iter_mut().find(|(p, _)| *p == item.product_id) {
            Some((_, units)) => *units = units.saturating_add(item.quantity),
            None => held.push((item.product_id, item.quantity)),
        }
    }
    // A restock is decided once, by the refund the owner asked for; a replacement of a failed
    // refund carries its lines again but put nothing back.
    let restocked = order
        .refunds
        .iter()
        .filter(|r| r.restock && r.replaces.is_none())
        .flat_map(|r| r.lines.iter().flatten());
    for line in restocked {
        take_held(&mut held, line.product_id, line.quantity);
    }
    held
}

/// Takes up to `wanted` units of `product` out of `held`; returns how many it took.
pub fn take_held(held: &mut [(ProductId, i64)], product: ProductId, wanted: i64) -> i64 {
    let Some((_, units)) = held.iter_mut().find(|(p, _)| *p == product) else {
        return 0;
    };
    let taken = wanted.clamp(0, *units);
    *units -= taken;
    taken
}

/// Gives back what an order took at checkout: the units it still holds (`units_held`), and
/// its coupon use. Guarded by the order's `stockReleased` flag, set in the same transaction,
/// so however often and from wherever it is called (cancel, expiry), it happens once.
/// Returns whether it released anything.
pub async fn release_in(db: &Db, session: &mut ClientSession, order: &Order) -> Result<bool> {
    release_as_in(db, session, order, "order released", "system").await
}

/// `release_in`, with the reason and actor its stock ledger entries record.
pub async fn release_as_in(
    db: &Db,
    session: &mut ClientSession,
    order: &Order,
    reason: &str,
    by: &str,
) -> Result<bool> {
    let claimed = db
        .docs(ORDERS)
        .update_one(
            doc! { "_id": order.id, "stockReleased": { "$ne": true } },
            doc! { "$set": { "stockReleased": true, "stockReleasedAt": now() } },
        )
        .session(&mut *session)
        .await?;
    if claimed.modified_count == 0 {
        return Ok(false);
    }
    for (product_id, units) in units_held(order) {
        if units == 0 {
            continue;
        }
        // Inactive products get their stock back too: reactivating one must not lose units.
        // A product deleted since has no stock to return to, so `None` is fine here.
        let back = crate::catalog::StockMove {
            product_id,
            delta: units,
            reason,
            order_id: Some(order.id),
            by,
        };
        crate::catalog::try_move_stock_in(db, session, &back, false).await?;
    }
    if let Some(code) = &order.coupon_code {
        crate::coupon_uses::give_back_in(db, session, code, order.user_id.as_str()).await?;
    }
    Ok(true)
}
