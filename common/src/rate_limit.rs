//! Per-user rate limits shared by every Lambda instance: a fixed window counted in MongoDB,
//! one document per (action, user, window) that a TTL index removes afterwards.

use crate::db::{Db, RATE_LIMITS};
use crate::error::{Error, Result};
use crate::ids::UserId;
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
/// does not help.
pub async fn check(db: &Db, user: &UserId, action: Action) -> Result<()> {
    let now = DateTime::now().timestamp_millis();
    let window = now - now.rem_euclid(WINDOW_MS);
    let id = format!("{}:{}:{}", action.key(), user, window);
    let counter: Option<Document> = db
        .docs(RATE_LIMITS)
        .find_one_and_update(
            doc! { "_id": &id },
            doc! {
                "$inc": { "count": 1_i64 },
                // Kept one extra window so the TTL monitor's lag cannot reset a live count.
                "$setOnInsert": { "expiresAt": DateTime::from_millis(window + 2 * WINDOW_MS) },
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?;
    // Two first requests of a window can race on the upsert; the loser may see no document
    // even though its increment was applied, so read the counter back.
    let counter = match counter {
        Some(c) => c,
        None => db
            .docs(RATE_LIMITS)
            .find_one(doc! { "_id": &id })
            .await?
            .unwrap_or_default(),
    };
    let count = counter.get_i64("count").unwrap_or(1);
    if count > action.per_minute() {
        let retry_after = ((window + WINDOW_MS - now) as f64 / 1000.0).ceil().max(1.0) as u64;
        return Err(Error::rate_limited(retry_after));
    }
    Ok(())
}
