//! The owner's coupons: every coupon with its use (`GET /admin/coupons`), a new one
//! (`POST /admin/coupons`), a change (`PATCH /admin/coupons/{code}`), and the direct
//! `upsertCoupon` that `make seed` and scripts use. Writes go through
//! `common::shop::catalog`.

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::http::{List, Page};
use common::platform::services::Services;
use common::platform::Result;
use common::shop::coupons::Coupon;
use common::shop::coupons::{self, CouponInput, CouponPatch, COUPONS};
use common::shop::vocabulary::time::rfc3339;
use mongodb::bson::doc;
use serde_json::{json, Value};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/coupons", get(list_coupons).post(create_coupon))
        .route("/admin/coupons/{code}", patch(patch_coupon))
}

/// The direct `upsertCoupon` action: `{"coupon": <CouponInput>}`.
pub(crate) async fn upsert(services: &Services, input: CouponInput) -> Result<Value> {
    let coupon = coupons::upsert_coupon(&services.db, input).await?;
    Ok(json!({ "coupon": coupon_json(&coupon) }))
}

async fn list_coupons(
    State(services): State<Services>,
    _: Admin,
    page: Page,
) -> Result<List<Value>> {
    let filter = doc! {};
    let rows: Vec<Coupon> = page
        .newest_first(&services.db.collection::<Coupon>(COUPONS), filter)
        .await?;
    // Every stored coupon has an `_id`; the fallback only keeps the type total.
    Ok(List::from_rows(
        rows,
        page,
        |c| {
            c.id.unwrap_or(mongodb::bson::oid::ObjectId::from_bytes([0; 12]))
        },
        |c| coupon_json(&c),
    ))
}

async fn create_coupon(
    State(services): State<Services>,
    _: Admin,
    common::platform::http::Json(input): common::platform::http::Json<CouponInput>,
) -> Result<(StatusCode, Json<Value>)> {
    let coupon = coupons::create_coupon(&services.db, input).await?;
    Ok((StatusCode::CREATED, Json(coupon_json(&coupon))))
}

async fn patch_coupon(
    State(services): State<Services>,
    _: Admin,
    Path(code): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<CouponPatch>,
) -> Result<Json<Value>> {
    let coupon = coupons::patch_coupon(&services.db, &code, input).await?;
    Ok(Json(coupon_json(&coupon)))
}

/// What the owner sees of a coupon: every field, `usedCount` too.
fn coupon_json(c: &Coupon) -> Value {
    json!({
        "code": c.code,
        "type": c.kind,
        "value": c.value,
        "minOrderValue": c.min_order_value,
        "maxDiscount": c.max_discount,
        "expiresAt": c.expires_at.map(rfc3339),
        "usageLimit": c.usage_limit,
        "perCustomerLimit": c.per_customer_limit,
        "usedCount": c.used_count,
        "isActive": c.is_active,
    })
}
