//! Catalog writes: validated, idempotent upserts of products (by slug) and coupons (by code).
//! Used by the `admin-ship` direct invocations and by `make seed`.

use crate::db::{Db, COUPONS, PRODUCTS};
use crate::error::{Error, FieldError, Result};
use crate::models::{now, Coupon, CouponType, Product};
use crate::money::Paise;
use mongodb::bson::{doc, to_bson, DateTime};
use mongodb::options::ReturnDocument;
use serde::Deserialize;

/// True for `brass-diya-large`: lower-case ASCII words joined by single hyphens. Anything
/// else (unicode look-alikes, spaces, operators) can never name a product.
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Upper-cases a coupon code and refuses anything that is not 3–32 of `A-Z 0-9 _ -`.
pub fn normalize_coupon_code(field: &str, raw: &str) -> Result<String> {
    let code = raw.to_ascii_uppercase();
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
pub struct ProductInput {
    pub name: String,
    pub slug: String,
    #[serde(default)]
    pub description: String,
    pub price: i64,
    #[serde(default)]
    pub images: Vec<String>,
    pub stock: i64,
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn yes() -> bool {
    true
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
    #[serde(default = "yes")]
    pub is_active: bool,
}

fn check(errors: &mut Vec<FieldError>, ok: bool, field: &str, message: &str) {
    if !ok {
        errors.push(FieldError::new(field, message));
    }
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 2048
        && !s.chars().any(char::is_whitespace)
}

pub async fn upsert_product(db: &Db, input: ProductInput) -> Result<Product> {
    let mut errors = Vec::new();
    let name = input.name.trim().to_owned();
    check(
        &mut errors,
        (1..=200).contains(&name.chars().count()),
        "name",
        "must be 1–200 characters",
    );
    check(
        &mut errors,
        is_valid_slug(&input.slug),
        "slug",
        "must be lower-case words joined by '-', at most 80",
    );
    check(
        &mut errors,
        input.description.chars().count() <= 5000,
        "description",
        "must be at most 5000 characters",
    );
    check(
        &mut errors,
        (100..=10_000_000_000).contains(&input.price),
        "price",
        "must be paise from 100 to 10,00,00,000.00",
    );
    check(
        &mut errors,
        input.images.len() <= 10,
        "images",
        "at most 10 images",
    );
    for (i, url) in input.images.iter().enumerate() {
        check(
            &mut errors,
            is_http_url(url),
            &format!("images[{i}]"),
            "must be an http(s) URL",
        );
    }
    check(
        &mut errors,
        (0..=1_000_000).contains(&input.stock),
        "stock",
        "must be 0 to 1,000,000",
    );
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let t = now();
    let product = db
        .collection::<Product>(PRODUCTS)
        .find_one_and_update(
            doc! { "slug": &input.slug },
            doc! {
                "$set": {
                    "name": name,
                    "description": input.description,
                    "price": input.price,
                    "images": input.images,
                    "stock": input.stock,
                    "isActive": input.is_active,
                    "updatedAt": t,
                },
                "$setOnInsert": { "slug": &input.slug, "createdAt": t },
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("upsert returned no product")))?;
    Ok(product)
}

pub async fn upsert_coupon(db: &Db, input: CouponInput) -> Result<Coupon> {
    let mut errors = Vec::new();
    let code = normalize_coupon_code("code", &input.code)
        .map_err(|_| ())
        .ok();
    check(
        &mut errors,
        code.is_some(),
        "code",
        "must be 3–32 letters, digits, '_' or '-'",
    );
    match input.kind {
        CouponType::Percent => check(
            &mut errors,
            (1..=100).contains(&input.value),
            "value",
            "a percent must be 1–100",
        ),
        CouponType::Flat => check(
            &mut errors,
            input.value >= 1,
            "value",
            "flat discounts are positive paise",
        ),
    }
    check(
        &mut errors,
        input.min_order_value.is_none_or(|v| v >= 0),
        "minOrderValue",
        "must not be negative",
    );
    check(
        &mut errors,
        input.max_discount.is_none_or(|v| v >= 1),
        "maxDiscount",
        "must be positive paise",
    );
    check(
        &mut errors,
        input.usage_limit.is_none_or(|v| v >= 0),
        "usageLimit",
        "must not be negative",
    );
    let expires_at = match input
        .expires_at
        .as_deref()
        .map(chrono::DateTime::parse_from_rfc3339)
    {
        None => None,
        Some(Ok(t)) => Some(DateTime::from_millis(t.timestamp_millis())),
        Some(Err(_)) => {
            errors.push(FieldError::new(
                "expiresAt",
                "must be an RFC 3339 timestamp",
            ));
            None
        }
    };
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    let code = code.unwrap_or_default();
    let opt = |v: Option<i64>| v.map(|n| to_bson(&n).unwrap_or_default());
    let coupon = db
        .collection::<Coupon>(COUPONS)
        .find_one_and_update(
            doc! { "code": &code },
            doc! {
                "$set": {
                    "type": to_bson(&input.kind)?,
                    "value": input.value,
                    "minOrderValue": opt(input.min_order_value),
                    "maxDiscount": opt(input.max_discount),
                    "expiresAt": expires_at,
                    "usageLimit": opt(input.usage_limit),
                    "isActive": input.is_active,
                    "updatedAt": now(),
                },
                // Re-upserting a coupon must never reset how often it has been used.
                "$setOnInsert": { "code": &code, "usedCount": 0_i64, "createdAt": now() },
            },
        )
        .upsert(true)
        .return_document(ReturnDocument::After)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("upsert returned no coupon")))?;
    Ok(coupon)
}

/// Paise from a whole-rupee literal, for seed data readability.
pub const fn rupees(r: i64) -> Paise {
    Paise(r * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_ascii_words() {
        for ok in ["brass-diya", "diya", "a1-b2-c3"] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "Brass",
            "brass--diya",
            "-diya",
            "diya-",
            "bráss",
            "brass diya",
            "diya\u{200b}",
            "{$gt:''}",
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    #[test]
    fn coupon_codes_are_upper_cased_and_plain() {
        assert_eq!(
            normalize_coupon_code("code", "diwali10").unwrap(),
            "DIWALI10"
        );
        for bad in ["", "ab", "DIWALI 10", " DIWALI", "{\"$ne\":1}", "दिवाली"] {
            assert!(normalize_coupon_code("code", bad).is_err(), "{bad}");
        }
    }
}
