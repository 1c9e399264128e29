//! A coupon's uses: the one writer of its shop-wide `usedCount` (claimed at checkout, given
//! back when an order is released) and of how often each customer has used it.
//!
//! The customer's count is for `perCustomerLimit` ("WELCOME10, once per customer"). One
//! document per (code, userId) in `coupon_uses`, counted for every coupon — with a limit or
//! not, so a limit the owner adds later counts the uses made before it.
//!
//! Checkout takes a use inside its transaction by incrementing that one document and looking
//! at the count it had: two checkouts of one customer, on any number of instances, write the
//! same document, so one of them conflicts, retries and sees the other's use. A cancelled or
//! expired order gives the use back in the transaction that releases it (`order::lifecycle::release_in`),
//! together with the coupon's shop-wide `usedCount`.

use super::pricing;
use super::Coupon;
use super::{COUPONS, COUPON_USES};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, retry_transaction, Db};
use platform::error::Result;

/// The filter of `user_id`'s counter of `code` (a quote reads it together with the cart).
pub fn filter(code: &str, user_id: &str) -> Document {
    doc! { "code": code, "userId": user_id }
}

/// The uses a counter document (or its absence: none yet) records.
pub fn count(found: Option<&Document>) -> i64 {
    match found.and_then(|d| d.get("count")) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        _ => 0,
    }
}

/// Counts one more use of `code` by `user_id` inside the caller's transaction and returns
/// how many uses there were before it. The caller refuses (and so aborts the transaction,
/// taking this write back with it) when that is already the coupon's `perCustomerLimit`.
async fn take_in(db: &Db, session: &mut ClientSession, code: &str, user_id: &str) -> Result<i64> {
    let before = db
        .docs(COUPON_USES)
        .find_one_and_update(
            filter(code, user_id),
            doc! { "$inc": { "count": 1_i64 }, "$set": { "updatedAt": now() } },
        )
        .upsert(true)
        .return_document(ReturnDocument::Before)
        .session(&mut *session)
        .await;
    match before {
        Ok(before) => Ok(count(before.as_ref())),
        // Another checkout of this customer created the counter first (a server may say so
        // instead of reporting a write conflict): run again and count on it.
        Err(e) if is_duplicate_key(&e) => Err(retry_transaction()),
        Err(e) => Err(e.into()),
    }
}

/// Gives back the use an order made of `code`: the coupon's shop-wide count and its
/// customer's, never below zero.
pub async fn give_back_in(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
) -> Result<()> {
    db.docs(COUPONS)
        .update_one(
            doc! { "code": code, "usedCount": { "$gt": 0_i64 } },
            doc! { "$inc": { "usedCount": -1_i64 } },
        )
        .session(&mut *session)
        .await?;
    let mut mine = filter(code, user_id);
    mine.insert("count", doc! { "$gt": 0_i64 });
    db.docs(COUPON_USES)
        .update_one(
            mine,
            doc! { "$inc": { "count": -1_i64 }, "$set": { "updatedAt": now() } },
        )
        .session(&mut *session)
        .await?;
    Ok(())
}

/// Takes one use of the coupon, never past its limits, and returns the discount it gives;
/// `None` when it is missing, inactive, used up (by everyone or by this customer) or does not
/// apply at `at` (the careful path then says which).
pub async fn claim_quickly_in(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
    subtotal: Paise,
    at: DateTime,
) -> Result<Option<(String, Paise)>> {
    let Some(coupon) = db
        .collection::<Coupon>(COUPONS)
        .find_one_and_update(
            doc! {
                "code": code,
                "isActive": true,
                "$or": [
                    { "usageLimit": null },
                    { "$expr": { "$lt": ["$usedCount", "$usageLimit"] } },
                ],
            },
            doc! { "$inc": { "usedCount": 1_i64 } },
        )
        .return_document(ReturnDocument::Before)
        .session(&mut *session)
        .await?
    else {
        return Ok(None);
    };
    let uses = take_in(db, session, &coupon.code, user_id).await?;
    Ok(pricing::evaluate(&coupon, subtotal, at, uses)
        .ok()
        .map(|discount| (coupon.code, discount)))
}

/// Checks the coupon as apply-coupon does and takes one use of it, never past its limits.
/// Returns the stored code and the discount it locks in; its expiry is judged at `at`.
pub async fn claim_in(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
    subtotal: Paise,
    at: DateTime,
) -> Result<(String, Paise)> {
    let coupon = db
        .collection::<Coupon>(COUPONS)
        .find_one(doc! { "code": code })
        .session(&mut *session)
        .await?
        .ok_or_else(|| pricing::coupon_not_found(code))?;
    // The customer's use is taken first and judged by the count it had: a refusal aborts the
    // transaction and takes the increment back, and a concurrent checkout of the same
    // customer writes the same counter, so it conflicts and retries rather than both passing.
    let uses = take_in(db, session, &coupon.code, user_id).await?;
    let discount = pricing::evaluate(&coupon, subtotal, at, uses)?;
    let mut filter = doc! { "code": &coupon.code, "isActive": true };
    if let Some(limit) = coupon.usage_limit {
        // The guard, not the read above, is what keeps the count within the limit.
        filter.insert("usageLimit", limit);
        filter.insert("usedCount", doc! { "$lt": limit });
    }
    let claimed = db
        .docs(COUPONS)
        .update_one(filter, doc! { "$inc": { "usedCount": 1_i64 } })
        .session(&mut *session)
        .await?;
    if claimed.matched_count == 0 {
        return Err(pricing::exhausted(&coupon.code));
    }
    Ok((coupon.code, discount))
}

/// A new coupon's uses: none yet. Added to the document that creates a coupon.
pub(super) fn none_yet(coupon: &mut Document) {
    coupon.insert("usedCount", 0_i64);
}

/// Makes a change of the coupon's `usageLimit` to `limit` apply only while the uses made are
/// within it. Checkout claims a use with a conditional update in its own transaction; this
/// condition makes a claim racing the change conflict instead of slipping past.
pub(super) fn within(filter: &mut Document, limit: i64) {
    filter.insert("usedCount", doc! { "$lte": limit });
}
