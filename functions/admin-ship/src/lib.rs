//! `admin-ship`: the shop owner's actions on orders (`/admin/orders/{id}/...`), over HTTP
//! for admins and by direct invocation (IAM-protected) for the console and scripts, plus
//! the catalog upserts used to seed and maintain products and coupons.

use axum::Router;
use common::catalog::{upsert_coupon, upsert_product, CouponInput, ProductInput};
use common::models::ProductView;
use common::services::Services;
use common::{Error, Result};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/admin/orders/{id}/ship"),
    ("POST", "/admin/orders/{id}/pack"),
    ("POST", "/admin/orders/{id}/deliver"),
    ("POST", "/admin/orders/{id}/cancel"),
];

pub fn router(services: &Services) -> Router {
    common::http::not_implemented(ROUTES, services.auth.clone(), true)
}

/// Answers a direct invocation: `{"action": ..., ...}` → `{"ok": true, ...}` or
/// `{"ok": false, "error": {"code", "message"}}`. Never fails the invocation itself, so
/// the console shows the reason instead of a stack trace.
pub async fn invoke(services: &Services, event: Value) -> Value {
    match dispatch(services, event).await {
        Ok(Value::Object(mut body)) => {
            body.insert("ok".into(), true.into());
            Value::Object(body)
        }
        Ok(other) => json!({ "ok": true, "result": other }),
        Err(e) => {
            if let Error::Internal(inner) = &e {
                tracing::error!(error = ?inner, "direct invocation failed");
            }
            let mut error = Map::new();
            error.insert("code".into(), e.code().into());
            error.insert("message".into(), e.detail().into());
            if let Some(errors) = e.to_problem(None).get("errors") {
                error.insert("errors".into(), errors.clone());
            }
            json!({ "ok": false, "error": error })
        }
    }
}

fn take<T: DeserializeOwned>(fields: &mut Map<String, Value>, key: &str) -> Result<T> {
    let value = fields
        .remove(key)
        .ok_or_else(|| Error::field(key, "is required"))?;
    common::http::parse_json(value.to_string().as_bytes())
}

async fn dispatch(services: &Services, event: Value) -> Result<Value> {
    let Value::Object(mut fields) = event else {
        return Err(Error::field(
            "body",
            "a direct invocation is a JSON object with an `action`",
        ));
    };
    let action = match fields.remove("action") {
        Some(Value::String(a)) => a,
        _ => return Err(Error::field("action", "is required")),
    };
    let only = |fields: &Map<String, Value>, allowed: &[&str]| -> Result<()> {
        match fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::field(k.clone(), "is not a known field")),
            None => Ok(()),
        }
    };
    match action.as_str() {
        "upsertProduct" => {
            only(&fields, &["product"])?;
            let input: ProductInput = take(&mut fields, "product")?;
            let product = upsert_product(&services.db, input).await?;
            Ok(json!({ "product": ProductView::from(product) }))
        }
        "upsertCoupon" => {
            only(&fields, &["coupon"])?;
            let input: CouponInput = take(&mut fields, "coupon")?;
            let coupon = upsert_coupon(&services.db, input).await?;
            Ok(json!({ "coupon": coupon_json(&coupon) }))
        }
        "ship" | "pack" | "deliver" | "cancel" => Err(Error::not_implemented()),
        other => Err(Error::field("action", format!("unknown action '{other}'"))),
    }
}

fn coupon_json(c: &common::models::Coupon) -> Value {
    json!({
        "code": c.code,
        "type": c.kind,
        "value": c.value,
        "minOrderValue": c.min_order_value,
        "maxDiscount": c.max_discount,
        "expiresAt": c.expires_at.map(common::models::rfc3339),
        "usageLimit": c.usage_limit,
        "usedCount": c.used_count,
        "isActive": c.is_active,
    })
}
