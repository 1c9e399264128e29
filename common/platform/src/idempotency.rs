//! `Idempotency-Key`: a request that moves money (a checkout, an owner's refund) may arrive
//! twice — a retry after a lost answer, a double click, a script run again — and must take
//! effect once. In the spirit of zero-to-production's `idempotency` module, it is three things:
//!
//! - an [`IdempotencyKey`], parsed once at the edge (the header, or a direct invocation's field);
//! - a [`Saved`] response: what the first request under the key left, with the fingerprint of
//!   the body it came with;
//! - one [`NextAction`], decided from the two: start processing, or return the saved response.
//!   The same key with another body is [`reused`] (`422 IDEMPOTENCY_KEY_REUSED`).
//!
//! Where the response is saved is the caller's choice, because the save must commit with the
//! effect: checkout saves into the shared store ([`find`], [`save`]) in its transaction; a
//! refund keeps its key on the refund it made, in the order. A request that loses the race to
//! save is [`in_use`] (`409 IDEMPOTENCY_KEY_IN_USE`) until its twin has committed.

use crate::db::{is_duplicate_key, Db, IDEMPOTENCY_KEYS};
use crate::problem_codes::ProblemCode;
use crate::{Error, Result};
use axum::http::HeaderMap;
use mongodb::bson::{doc, to_document, DateTime};
use mongodb::ClientSession;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The header that makes a money-moving request safe to repeat.
pub const HEADER: &str = "idempotency-key";

/// A client's key for "this request, once".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `Idempotency-Key`: 1–128 visible ASCII characters, when present.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        let bytes = value.as_bytes();
        if (1..=128).contains(&bytes.len()) && bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            Ok(Some(IdempotencyKey(
                String::from_utf8_lossy(bytes).into_owned(),
            )))
        } else {
            Err(Error::field(
                "Idempotency-Key",
                "must be 1–128 visible ASCII characters",
            ))
        }
    }

    /// A key given as a JSON field (a direct invocation's `idempotencyKey`): any string of
    /// 1–128 bytes, since no header rules apply to it.
    pub fn from_field(field: &str, value: Option<String>) -> Result<Option<Self>> {
        match value {
            None => Ok(None),
            Some(k) if (1..=128).contains(&k.len()) => Ok(Some(IdempotencyKey(k))),
            Some(_) => Err(Error::field(field, "must be a string of 1–128 characters")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies "the same request" under one key: the body as parsed, so whitespace and
/// key order do not matter but every value does.
pub fn fingerprint(body: &impl Serialize) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(Sha256::digest(&canonical))
}

/// A request made under a key: the key and the fingerprint of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub key: IdempotencyKey,
    pub request_hash: String,
}

impl Keyed {
    pub fn new(key: IdempotencyKey, body: &impl Serialize) -> Self {
        Keyed {
            request_hash: fingerprint(body),
            key,
        }
    }

    /// What to do, given what an earlier request under this key saved (`None`: nothing yet).
    pub fn next_action<R>(&self, saved: Option<Saved<R>>) -> Result<NextAction<R>> {
        match saved {
            None => Ok(NextAction::StartProcessing),
            Some(saved) if saved.request_hash == self.request_hash => {
                Ok(NextAction::ReturnSavedResponse(saved.response))
            }
            Some(_) => Err(reused()),
        }
    }
}

/// What the first request under a key left: the fingerprint of its body and its response
/// (for checkout, the order it made; the caller answers with that order as it is now).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Saved<R> {
    pub request_hash: String,
    #[serde(flatten)]
    pub response: R,
}

/// What a request under a key does.
#[derive(Debug, PartialEq, Eq)]
pub enum NextAction<R> {
    /// No request under this key has taken effect: do the work, and save the response with it.
    StartProcessing,
    /// The same request took effect before: answer with what it made, change nothing.
    ReturnSavedResponse(R),
}

/// The same key with another body: a client bug (or a changed cart), never a retry.
pub fn reused() -> Error {
    Error::new(
        ProblemCode::IdempotencyKeyReused,
        "This Idempotency-Key was already used with a different request body",
    )
}

/// A twin request holds the key and has not committed yet: retrying shortly finds its answer.
pub fn in_use() -> Error {
    Error::new(
        ProblemCode::IdempotencyKeyInUse,
        "Another request with this Idempotency-Key is being processed; retry shortly",
    )
}

/// The response `owner` saved under `key` in the shared store (`idempotency_keys`, unique by
/// owner and key, kept a day), read in `session` when given.
pub async fn find<R: DeserializeOwned + Send + Sync>(
    db: &Db,
    session: Option<&mut ClientSession>,
    owner: &str,
    key: &IdempotencyKey,
) -> Result<Option<Saved<R>>> {
    let filter = doc! { "userId": owner, "key": key.as_str() };
    let store = db.collection::<Saved<R>>(IDEMPOTENCY_KEYS);
    Ok(match session {
        Some(session) => store.find_one(filter).session(session).await?,
        None => store.find_one(filter).await?,
    })
}

/// Saves `response` under the request's key, in the transaction that makes it: a concurrent
/// twin either conflicts here and retries (then finds this response) or fails on the unique
/// index, which is [`in_use`]; either way the work happens once.
pub async fn save<R: Serialize>(
    db: &Db,
    session: &mut ClientSession,
    owner: &str,
    req: &Keyed,
    response: &R,
) -> Result<()> {
    let mut record = doc! {
        "userId": owner,
        "key": req.key.as_str(),
        "requestHash": &req.request_hash,
    };
    record.extend(to_document(response).map_err(anyhow::Error::from)?);
    record.insert("createdAt", DateTime::now());
    let saved = db
        .docs(IDEMPOTENCY_KEYS)
        .insert_one(record)
        .session(session)
        .await;
    match saved {
        Err(e) if is_duplicate_key(&e) => Err(in_use()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        let mut h = HeaderMap::new();
        assert_eq!(IdempotencyKey::from_headers(&h).unwrap(), None);
        h.insert(HEADER, "checkout-7f3a9c".parse().unwrap());
        assert_eq!(
            IdempotencyKey::from_headers(&h)
                .unwrap()
                .as_ref()
                .map(IdempotencyKey::as_str),
            Some("checkout-7f3a9c")
        );
        for bad in ["", "has space", &"k".repeat(129)] {
            h.insert(HEADER, bad.parse().unwrap());
            assert_eq!(
                IdempotencyKey::from_headers(&h).unwrap_err().code(),
                "VALIDATION_FAILED",
                "{bad:?}"
            );
        }
        h.insert(HEADER, "k".repeat(128).parse().unwrap());
        assert!(IdempotencyKey::from_headers(&h).is_ok());
    }

    #[test]
    fn a_key_replays_only_the_body_it_came_with() {
        let key = IdempotencyKey("k1".into());
        let req = Keyed::new(key, &serde_json::json!({ "amount": 100 }));
        let saved = |body: serde_json::Value| Saved {
            request_hash: fingerprint(&body),
            response: "order-1",
        };
        assert_eq!(
            req.next_action::<&str>(None).unwrap(),
            NextAction::StartProcessing
        );
        assert_eq!(
            req.next_action(Some(saved(serde_json::json!({ "amount": 100 }))))
                .unwrap(),
            NextAction::ReturnSavedResponse("order-1")
        );
        assert_eq!(
            req.next_action(Some(saved(serde_json::json!({ "amount": 200 }))))
                .unwrap_err()
                .code(),
            "IDEMPOTENCY_KEY_REUSED"
        );
    }
}
