//! How often each customer has used each coupon, for `perCustomerLimit` ("WELCOME10, once per
//! customer"). One document per (code, userId) in `coupon_uses`, counted for every coupon —
//! with a limit or not, so a limit the owner adds later counts the uses made before it.
//!
//! Checkout takes a use inside its transaction by incrementing that one document and looking
//! at the count it had: two checkouts of one customer, on any number of instances, write the
//! same document, so one of them conflicts, retries and sees the other's use. A cancelled or
//! expired order gives the use back in the transaction that releases it
//! (`order::lifecycle::release_in`), together with the coupon's shop-wide `usedCount`.

use crate::vocabulary::time::now;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, retry_transaction, Db, COUPONS, COUPON_USES};
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
pub async fn take_in(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
) -> Result<i64> {
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
