//! `orders`: checkout and order history.

use axum::Router;
use common::services::Services;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/orders/create"),
    ("GET", "/orders/my"),
    ("GET", "/orders/{id}"),
];

pub fn router(services: &Services) -> Router {
    common::http::not_implemented(ROUTES, services.auth.clone(), false)
}
