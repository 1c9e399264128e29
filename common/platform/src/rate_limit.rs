//! Per-user rate limits shared by every Lambda instance: a fixed window counted in MongoDB,
//! one document per (action, user, window) that a TTL index removes afterwards.

use crate::auth::UserId;
use crate::clock::Clock;
use crate::db::{is_duplicate_key, Db, RATE_LIMITS};
use crate::error::{Context as _, Error, Result};
use mongodb::bson::{doc, DateTime, Document};
use mongodb::options::ReturnDocument;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ApplyCoupon,
    CreateOrder,
    InitiatePayment,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::ApplyCoupon => "apply-coupon",
            Action::CreateOrder => "create-order",
            Action::InitiatePayment => "initiate-payment",
        }
    }

    /// Requests allowed per minute, per the contract.
    pub fn per_minute(self) -> i64 {
        match self {
            Action::ApplyCoupon => 10,
            Action::CreateOrder => 5,
            Action::InitiatePayment => 10,
        }
    }
}

const WINDOW_MS: i64 = 60_000;

/// Counts this request and refuses it with `429 RATE_LIMITED` (and `Retry-After`) once the
/// user is past the limit in the current minute. Refused requests count too, so hammering
/// does not help. The window is the `clock`'s minute.
pub async fn check(db: &Db, clock: &dyn Clock, user: &UserId, action: Action) -> Result<()> {
    let now = clock.now_ms();
    let window = now - now.rem_euclid(WINDOW_MS);
    let id = format!("{}:{}:{}", action.key(), user, window);
    let count = count_one(db, &id, window).await?;
    if count > action.per_minute() {
        let retry_after = ((window + WINDOW_MS - now) as f64 / 1000.0).ceil().max(1.0) as u64;
        return Err(Error::rate_limited(retry_after));
    }
    Ok(())
}

/// Adds one to the window's counter and returns this request's own place in it.
///
/// No upsert: when the first requests of a window race to create the counter, an upsert's
/// loser can get no document back although its increment was applied, and reading the
/// counter afterwards gives a later request's place, refusing requests below the limit. An
/// insert and an increment of an existing document each report exactly their own result, so
/// every request is counted once and knows which one it was.
///
/// The insert goes first: a shopper rarely checks out or starts a payment twice in one
/// minute, so it is usually the only round trip.
async fn count_one(db: &Db, id: &str, window: i64) -> Result<i64> {
    let counters = db.docs(RATE_LIMITS);
    // Lost insert, then hit: the counter exists after the first round and outlives the
    // window, so a third round is never needed; the bound only guards against a bug.
    for _ in 0..3 {
        let first = counters
            .insert_one(doc! {
                "_id": id,
                "count": 1_i64,
                // Kept one extra window so the TTL monitor's lag cannot reset a live count.
                "expiresAt": DateTime::from_millis(window + 2 * WINDOW_MS),
            })
            .await;
        match first {
            Ok(_) => return Ok(1),
            // Another request of this window created it; ours is an increment.
            Err(e) if is_duplicate_key(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let bumped: Option<Document> = counters
            .find_one_and_update(doc! { "_id": id }, doc! { "$inc": { "count": 1_i64 } })
            .return_document(ReturnDocument::After)
            .await?;
        if let Some(counter) = bumped {
            return counter
                .get_i64("count")
                .context("rate limit counter without an i64 count");
        }
    }
    Err(Error::Internal(anyhow::anyhow!(
        "rate limit counter {id} neither created nor found"
    )))
}
