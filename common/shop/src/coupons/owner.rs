//! The owner's coupons: creating, upserting and patching them, every field validated and
//! every problem named at once. Their use (`usedCount`) is not the owner's to set: only
//! [`super::uses`] moves it.

use super::uses;
use super::COUPONS;
use super::{Coupon, CouponType};
use crate::catalog::{check, present, MAX_PAISE, MAX_USES};
use crate::vocabulary::time::{now, parse_time};
use mongodb::bson::{doc, to_bson, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use platform::db::{is_duplicate_key, retry_transaction, Db};
use platform::error::{Error, FieldError, Result};
use platform::problem_codes::ProblemCode;
use serde::Deserialize;
use serde_json::Value;

/// Upper-cases a coupon code and refuses anything that is not 3–32 of `A-Z 0-9 _ -`.
pub fn normalize_coupon_code(field: &str, raw: &str) -> Result<String> {
    // Trimmed here, for every caller alike: a code pasted with a space must not be valid at
    // checkout and refused by the quote.
    let code = raw.trim().to_ascii_uppercase();
    let ok = (3..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(code)
    } else {
        Err(Error::field(
            field,
            "must be 3–32 letters, digits, '_' or '-'",
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CouponInput {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: CouponType,
    pub value: i64,
    #[serde(default)]
    pub min_order_value: Option<i64>,
    #[serde(default)]
    pub max_discount: Option<i64>,
    /// RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub usage_limit: Option<i64>,
    #[serde(default)]
    pub per_customer_limit: Option<i64>,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
}

/// `PATCH /admin/coupons/{code}`: only the fields named change; `null` clears an optional
/// one. `code` and `usedCount` are parsed only to be refused by name.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CouponPatch {
    #[serde(default, rename = "type")]
    pub kind: Option<CouponType>,
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    pub min_order_value: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub max_discount: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub expires_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub usage_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub per_customer_limit: Option<Option<i64>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub code: Option<Value>,
    #[serde(default)]
    pub used_count: Option<Value>,
}

fn check_value(errors: &mut Vec<FieldError>, kind: CouponType, value: i64) {
    match kind {
        CouponType::Percent => check(
            errors,
            (1..=100).contains(&value),
            "value",
            "a percent must be 1–100",
        ),
        CouponType::Flat => check(
            errors,
            (1..=MAX_PAISE).contains(&value),
            "value",
            "flat discounts are paise from 1 to 10,00,00,000.00",
        ),
    }
}

fn check_min_order(errors: &mut Vec<FieldError>, v: Option<i64>) {
    check(
        errors,
        v.is_none_or(|v| (0..=MAX_PAISE).contains(&v)),
        "minOrderValue",
        "must be paise from 0 to 10,00,00,000.00",
    );
}

fn check_max_discount(errors: &mut Vec<FieldError>, v: Option<i64>) {
    check(
        errors,
        v.is_none_or(|v| (1..=MAX_PAISE).contains(&v)),
        "maxDiscount",
        "must be paise from 1 to 10,00,00,000.00",
    );
}

fn check_usage_limit(errors: &mut Vec<FieldError>, v: Option<i64>) {
    check(
        errors,
        v.is_none_or(|v| (0..=MAX_USES).contains(&v)),
        "usageLimit",
        "must be from 0 to 1,000,000,000 (null for no limit)",
    );
}

/// Zero would stop everyone using the coupon, which is what deactivating it says plainly.
fn check_per_customer_limit(errors: &mut Vec<FieldError>, v: Option<i64>) {
    check(
        errors,
        v.is_none_or(|v| (1..=MAX_USES).contains(&v)),
        "perCustomerLimit",
        "must be from 1 to 1,000,000,000 (to stop a coupon's use, deactivate it)",
    );
}

fn expiry(errors: &mut Vec<FieldError>, raw: Option<&str>) -> Option<DateTime> {
    match parse_time("expiresAt", raw?) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn opt(v: Option<i64>) -> Bson {
    v.map(Bson::Int64).unwrap_or(Bson::Null)
}

/// A validated coupon input: its code and the `$set` of everything but usage.
fn coupon_fields(input: &CouponInput) -> Result<(String, Document)> {
    let mut errors = Vec::new();
    let code = normalize_coupon_code("code", &input.code).ok();
    check(
        &mut errors,
        code.is_some(),
        "code",
        "must be 3–32 letters, digits, '_' or '-'",
    );
    check_value(&mut errors, input.kind, input.value);
    check_min_order(&mut errors, input.min_order_value);
    check_max_discount(&mut errors, input.max_discount);
    check_usage_limit(&mut errors, input.usage_limit);
    check_per_customer_limit(&mut errors, input.per_customer_limit);
    let expires_at = expiry(&mut errors, input.expires_at.as_deref());
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let set = doc! {
        "type": to_bson(&input.kind)?,
        "value": input.value,
        "minOrderValue": opt(input.min_order_value),
        "maxDiscount": opt(input.max_discount),
        "expiresAt": expires_at,
        "usageLimit": opt(input.usage_limit),
        "perCustomerLimit": opt(input.per_customer_limit),
        "isActive": input.is_active,
        "updatedAt": now(),
    };
    Ok((code.unwrap_or_default(), set))
}

/// `upsertCoupon`: sets every field but `usedCount`, which only checkout and cancellation
/// move.
pub async fn upsert_coupon(db: &Db, input: CouponInput) -> Result<Coupon> {
    let (code, set) = coupon_fields(&input)?;
    let mut on_insert = doc! { "code": &code, "createdAt": now() };
    uses::none_yet(&mut on_insert);
    let coupon = db
        .collection::<Coupon>(COUPONS)
        .find_one_and_update(
            doc! { "code": &code },
            doc! {
                "$set": set,
                "$setOnInsert": on_insert,
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("upsert returned no coupon")))?;
    Ok(coupon)
}

/// `POST /admin/coupons`: a new coupon, or `409 COUPON_CODE_TAKEN`.
pub async fn create_coupon(db: &Db, input: CouponInput) -> Result<Coupon> {
    let (code, mut set) = coupon_fields(&input)?;
    set.insert("code", code.as_str());
    uses::none_yet(&mut set);
    set.insert("createdAt", now());
    match db.docs(COUPONS).insert_one(set).await {
        Ok(_) => {}
        Err(e) if is_duplicate_key(&e) => {
            return Err(Error::new(
                ProblemCode::CouponCodeTaken,
                format!("A coupon {code} already exists"),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    db.collection::<Coupon>(COUPONS)
        .find_one(doc! { "code": &code })
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("coupon just inserted is gone")))
}

fn coupon_not_found(code: &str) -> Error {
    Error::new(ProblemCode::CouponNotFound, format!("No coupon {code}"))
}

/// `PATCH /admin/coupons/{code}`. A `usageLimit` below the uses already made is `422
/// USAGE_LIMIT_BELOW_USED`: it would not undo them, only hide them.
pub async fn patch_coupon(db: &Db, raw_code: &str, patch: CouponPatch) -> Result<Coupon> {
    let code = normalize_coupon_code("code", raw_code).map_err(|_| coupon_not_found(raw_code))?;
    let mut errors = Vec::new();
    check(
        &mut errors,
        patch.code.is_none(),
        "code",
        "a coupon's code never changes; create a new coupon instead",
    );
    check(
        &mut errors,
        patch.used_count.is_none(),
        "usedCount",
        "only orders change how often a coupon was used",
    );
    if let Some(v) = patch.min_order_value {
        check_min_order(&mut errors, v);
    }
    if let Some(v) = patch.max_discount {
        check_max_discount(&mut errors, v);
    }
    if let Some(v) = patch.usage_limit {
        check_usage_limit(&mut errors, v);
    }
    if let Some(v) = patch.per_customer_limit {
        check_per_customer_limit(&mut errors, v);
    }
    let expires_at = patch
        .expires_at
        .as_ref()
        .map(|e| expiry(&mut errors, e.as_deref()));
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    platform::transaction!(db, |session| {
        let current = db
            .collection::<Coupon>(COUPONS)
            .find_one(doc! { "code": &code })
            .session(&mut *session)
            .await?
            .ok_or_else(|| coupon_not_found(&code))?;
        // A new type or value is checked against the other as it will be after the patch.
        let mut errors = Vec::new();
        if patch.kind.is_some() || patch.value.is_some() {
            check_value(
                &mut errors,
                patch.kind.unwrap_or(current.kind),
                patch.value.unwrap_or(current.value),
            );
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let mut set = Document::new();
        if let Some(kind) = patch.kind {
            set.insert("type", to_bson(&kind)?);
        }
        if let Some(v) = patch.value {
            set.insert("value", v);
        }
        if let Some(v) = patch.min_order_value {
            set.insert("minOrderValue", opt(v));
        }
        if let Some(v) = patch.max_discount {
            set.insert("maxDiscount", opt(v));
        }
        if let Some(v) = expires_at {
            set.insert("expiresAt", v);
        }
        if let Some(v) = patch.usage_limit {
            set.insert("usageLimit", opt(v));
        }
        // Unlike `usageLimit`, a limit below what some customer has used is allowed: it is
        // one rule for many customers, and it stops their next use without undoing any.
        if let Some(v) = patch.per_customer_limit {
            set.insert("perCustomerLimit", opt(v));
        }
        if let Some(v) = patch.is_active {
            set.insert("isActive", v);
        }
        let mut filter = doc! { "code": &code };
        if let Some(Some(limit)) = patch.usage_limit {
            if current.used_count > limit {
                return Err(usage_below_used(current.used_count));
            }
            uses::within(&mut filter, limit);
        }
        if set.is_empty() {
            return Ok(current);
        }
        set.insert("updatedAt", now());
        match db
            .collection::<Coupon>(COUPONS)
            .find_one_and_update(filter, doc! { "$set": set })
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?
        {
            Some(c) => Ok(c),
            None => Err(retry_transaction()),
        }
    })
}

fn usage_below_used(used: i64) -> Error {
    Error::new(
        ProblemCode::UsageLimitBelowUsed,
        format!("The coupon has already been used {used} times; usageLimit cannot be lower"),
    )
    .with("usedCount", used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupon_codes_are_upper_cased_and_plain() {
        assert_eq!(
            normalize_coupon_code("code", "diwali10").unwrap(),
            "DIWALI10"
        );
        // Surrounding spaces are trimmed, for the quote and checkout alike.
        assert_eq!(
            normalize_coupon_code("code", " diwali10 ").unwrap(),
            "DIWALI10"
        );
        for bad in ["", "  ", "ab", "DIWALI 10", "{\"$ne\":1}", "दिवाली"] {
            assert!(normalize_coupon_code("code", bad).is_err(), "{bad}");
        }
    }
}
