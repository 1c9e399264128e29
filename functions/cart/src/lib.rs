//! `cart`: the server-side cart.

use axum::Router;
use common::services::Services;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/cart"),
    ("POST", "/cart/add"),
    ("POST", "/cart/update"),
    ("POST", "/cart/remove"),
    ("DELETE", "/cart/clear"),
];

pub fn router(services: &Services) -> Router {
    common::http::not_implemented(ROUTES, services.auth.clone(), false)
}
