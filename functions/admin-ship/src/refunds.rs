//! `POST /admin/orders/{id}/refund` and the direct `refund` action: the owner gives money back
//! on a paid order — a return, a damaged or lost parcel — by lines, by amount or in full. The
//! decision is recorded on the order in one transaction (`common::shop::refunds::decide`); `jobs`
//! then takes it to PhonePe through the same loop as every other refund.
//! `POST /admin/orders/{id}/refund/preview` answers what the same body would refund.

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::error::FieldError;
use common::platform::idempotency::{IdempotencyKey, Keyed};
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::order::lifecycle;
use common::shop::order::model::refund::RefundLine;
use common::shop::order::model::{Order, OrderView};
use common::shop::refunds::{self, Decided, OwnerRefund, MIN_REFUND};
use common::shop::vocabulary::ids::VariantId;
use common::shop::vocabulary::ids::{OrderId, ProductId};
use common::shop::Paise;
use mongodb::bson::oid::ObjectId;
use serde::{Deserialize, Serialize};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/orders/{id}/refund", post(refund_http))
        .route("/admin/orders/{id}/refund/preview", post(preview_http))
}

async fn refund_http(
    State(services): State<Services>,
    Admin(user): Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    common::platform::http::Json(input): common::platform::http::Json<RefundInput>,
) -> Result<(StatusCode, Json<OrderView>)> {
    let id = lifecycle::resolve(&services.db, &id).await?;
    let key = IdempotencyKey::from_headers(&headers)?;
    let (status, order) = refund(&services, id, &input, user.id.as_str(), key).await?;
    Ok((status, Json(order.into())))
}

async fn preview_http(
    State(services): State<Services>,
    _: Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<RefundInput>,
) -> Result<Json<refunds::Preview>> {
    let id = lifecycle::resolve(&services.db, &id).await?;
    Ok(Json(preview(&services, id, &input).await?))
}

/// The request body (and the fields of the direct `refund` action).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundInput {
    // Optional so that every missing field is named at once.
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub lines: Option<Vec<LineInput>>,
    #[serde(default)]
    pub restock: Option<bool>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LineInput {
    pub product_id: String,
    /// Which of the product's variants; needed only when the order holds several of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    pub quantity: i64,
}

/// Units per line one refund may name: more than any order can hold.
const MAX_UNITS: i64 = 10_000;

fn validate(input: &RefundInput, by: &str, key: Option<IdempotencyKey>) -> Result<OwnerRefund> {
    let mut errors = Vec::new();
    let reason = common::platform::text::field(
        &mut errors,
        "reason",
        input.reason.as_deref(),
        common::platform::text::Rule::line(500),
    );
    if input.restock.is_none() {
        errors.push(FieldError::new(
            "restock",
            "is required: true returns the refunded units to stock",
        ));
    }
    let (amount, lines) = money_of(input, &mut errors);
    if input.restock == Some(true) && input.lines.is_none() {
        errors.push(FieldError::new(
            "restock",
            "needs lines: a refund by amount returns no units",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    Ok(OwnerRefund {
        amount,
        lines,
        restock: input.restock.unwrap_or(false),
        reason: reason.unwrap_or_default(),
        by: by.to_owned(),
        idempotency: key.map(|k| Keyed::new(k, input)),
    })
}

/// What the refund gives back: `amount` or `lines` (well formed, not both), or neither.
fn money_of(
    input: &RefundInput,
    errors: &mut Vec<FieldError>,
) -> (Option<Paise>, Option<Vec<RefundLine>>) {
    let amount = match input.amount {
        Some(_) if input.lines.is_some() => {
            errors.push(FieldError::new(
                "amount",
                "give either lines or an amount, not both",
            ));
            None
        }
        Some(a) if a < MIN_REFUND.get() => {
            errors.push(FieldError::new(
                "amount",
                "must be at least 100 paise (₹1.00), the least PhonePe refunds",
            ));
            None
        }
        other => other.map(Paise),
    };
    let mut lines = Vec::new();
    if let Some(input_lines) = &input.lines {
        if input_lines.is_empty() {
            errors.push(FieldError::new("lines", "must name at least one line"));
        }
        for (n, line) in input_lines.iter().enumerate() {
            let Ok(product_id) = ObjectId::parse_str(&line.product_id).map(ProductId) else {
                errors.push(FieldError::new(
                    format!("lines[{n}].productId"),
                    "must be a 24-character hex id",
                ));
                continue;
            };
            let variant_id = match line.variant_id.as_deref().map(ObjectId::parse_str) {
                None => None,
                Some(Ok(id)) => Some(VariantId(id)),
                Some(Err(_)) => {
                    errors.push(FieldError::new(
                        format!("lines[{n}].variantId"),
                        "must be a 24-character hex id",
                    ));
                    continue;
                }
            };
            if !(1..=MAX_UNITS).contains(&line.quantity) {
                errors.push(FieldError::new(
                    format!("lines[{n}].quantity"),
                    format!("must be between 1 and {MAX_UNITS}"),
                ));
                continue;
            }
            if lines
                .iter()
                .any(|l: &RefundLine| l.product_id == product_id && l.variant_id == variant_id)
            {
                errors.push(FieldError::new(
                    format!("lines[{n}].productId"),
                    "is named twice",
                ));
                continue;
            }
            lines.push(RefundLine {
                product_id,
                variant_id,
                quantity: line.quantity,
            });
        }
    }
    (amount, input.lines.is_some().then_some(lines))
}

/// What the refund would come to, decided as `refund` would decide it and nothing written.
/// `reason` and `restock` are neither needed nor checked, so the console can ask while the
/// owner is still filling the form, with the body it will send.
pub(crate) async fn preview(
    services: &Services,
    id: OrderId,
    input: &RefundInput,
) -> Result<refunds::Preview> {
    let mut errors = Vec::new();
    let (amount, lines) = money_of(input, &mut errors);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    refunds::preview(&services.db, id, lines.as_deref(), amount).await
}

/// Decides the refund and answers `201` with the order (`200` when an earlier request with
/// the same `Idempotency-Key` already made it).
pub(crate) async fn refund(
    services: &Services,
    id: OrderId,
    input: &RefundInput,
    by: &str,
    key: Option<IdempotencyKey>,
) -> Result<(StatusCode, Order)> {
    let req = validate(input, by, key)?;
    match refunds::decide(&services.db, id, &req).await? {
        Decided::Created(order) => {
            tracing::info!(order_id = %id.oid().to_hex(), by, "owner refund recorded");
            Ok((StatusCode::CREATED, order))
        }
        Decided::Replayed(order) => Ok((StatusCode::OK, order)),
    }
}
