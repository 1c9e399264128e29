//! `GET /admin/meta`: what the owner's forms choose from, as the API decides it — the
//! carriers it makes a tracking link for, the GST rates a product may have and the order
//! statuses — so the console asks instead of keeping copies that drift.

use axum::routing::get;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::shop::order::status::OrderStatus;
use common::shop::tax::GstRate;
use serde::Serialize;

pub(crate) fn router() -> Router<crate::AppState> {
    Router::new().route("/admin/meta", get(meta))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminMeta {
    carriers: Vec<&'static str>,
    gst_rates: [u16; GstRate::ALLOWED.len()],
    order_statuses: [OrderStatus; OrderStatus::ALL.len()],
}

async fn meta(_: Admin) -> Json<AdminMeta> {
    Json(AdminMeta {
        carriers: crate::fulfilment::carrier_names().collect(),
        gst_rates: GstRate::ALLOWED,
        order_statuses: OrderStatus::ALL,
    })
}
