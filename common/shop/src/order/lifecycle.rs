//! What an order keeps through its life: its number, how a route finds it, and the units it
//! holds from checkout until it gives them back. Moving it between statuses is
//! `super::transition`.

use crate::catalog;
use crate::coupons;
use crate::order::model::{order_not_found, Order, ORDERS};
use crate::order::status::OrderStatus;
use crate::vocabulary::ids::{OrderId, ProductId, VariantId};
use crate::vocabulary::time::now;
use mongodb::bson::{doc, oid::ObjectId, Document};
use mongodb::ClientSession;
use platform::db::Db;
use platform::error::{Error, Result};

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

/// Reads an order inside the caller's transaction.
pub async fn load_in(db: &Db, session: &mut ClientSession, id: OrderId) -> Result<Order> {
    db.collection::<Order>(ORDERS)
        .find_one(doc! { "_id": id.oid() })
        .session(&mut *session)
        .await?
        .ok_or_else(order_not_found)
}

/// Units of each variant the order took at checkout and has not given back yet, in the order
/// of its lines: none once it is cancelled (the cancellation or expiry released them, and
/// `Cancelled` is final), else its quantity less what restocking refunds put back. Everything
/// that returns an order's units to stock returns at most these, so per order and variant the
/// units restocked never exceed the units taken, however refunds and a cancellation interleave.
pub fn units_held(order: &Order) -> Vec<(ProductId, VariantId, i64)> {
    let mut held: Vec<(ProductId, VariantId, i64)> = Vec::new();
    if order.status == OrderStatus::Cancelled {
        return held;
    }
    for item in &order.items {
        match held.iter_mut().find(|(_, v, _)| *v == item.variant_id) {
            Some((_, _, units)) => *units = units.saturating_add(item.quantity),
            None => held.push((item.product_id, item.variant_id, item.quantity)),
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
        take_held(&mut held, line.variant(), line.quantity);
    }
    held
}

/// Takes up to `wanted` units of `variant` out of `held`; returns how many it took.
pub fn take_held(held: &mut [(ProductId, VariantId, i64)], variant: VariantId, wanted: i64) -> i64 {
    let Some((_, _, units)) = held.iter_mut().find(|(_, v, _)| *v == variant) else {
        return 0;
    };
    let taken = wanted.clamp(0, *units);
    *units -= taken;
    taken
}

/// Gives back what an order took at checkout: the units it still holds (`units_held`), and
/// its coupon use. Guarded by the order's `stockReleased` flag, set in the same transaction,
/// so however often and from wherever it is called (cancel, expiry), it happens once.
/// Returns whether it released anything; its stock ledger entries record `reason` and `by`.
pub async fn release_in(
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
    for (product_id, variant_id, units) in units_held(order) {
        if units == 0 {
            continue;
        }
        // Inactive products get their stock back too: reactivating one must not lose units.
        // A product deleted since has no stock to return to, so `None` is fine here.
        let back = catalog::StockMove {
            product_id,
            variant_id,
            delta: units,
            reason,
            order_id: Some(order.id),
            by,
        };
        catalog::try_move_stock_in(db, session, &back, false).await?;
    }
    if let Some(code) = &order.coupon_code {
        coupons::uses::give_back_in(db, session, code, order.user_id.as_str()).await?;
    }
    Ok(true)
}
