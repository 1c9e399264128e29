//! `coupons`: prices the caller's cart with a coupon.

use axum::Router;
use common::services::Services;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/checkout/apply-coupon")];

pub fn router(services: &Services) -> Router {
    common::http::not_implemented(ROUTES, services.auth.clone(), false)
}
