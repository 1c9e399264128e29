//! `GET /admin/meta`: what the owner's forms choose from, as the API decides it — the
//! carriers it makes a tracking link for, the GST rates a product may have and the order
//! statuses — so the console asks instead of keeping copies that drift; and whether the
//! data still waits for this release's `migrate`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::services::Services;
use common::platform::Result;
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
    data_version: DataVersion,
}

/// The version the data has been migrated to, and the one this code migrates it to: they
/// differ between a deploy and its `migrate` step.
#[derive(Serialize)]
struct DataVersion {
    database: i64,
    code: i64,
}

async fn meta(State(services): State<Services>, _: Admin) -> Result<Json<AdminMeta>> {
    Ok(Json(AdminMeta {
        carriers: crate::fulfilment::carrier_names().collect(),
        gst_rates: GstRate::ALLOWED,
        order_statuses: OrderStatus::ALL,
        data_version: DataVersion {
            database: common::platform::migrate::version(&services.db).await?,
            code: common::shop::migrations::latest(),
        },
    }))
}
