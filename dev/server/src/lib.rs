//! The local stack: every function's router on one port, exactly as `template.yaml` routes
//! them, plus demo seeding and dev token minting. Tests build the same app.

pub mod cors;
pub mod seed;
pub mod token;

use axum::Router;
use common::services::Services;

/// Every (method, path) the API serves, gathered from the functions that own them.
pub fn all_routes() -> Vec<(&'static str, &'static str, &'static str)> {
    let owned: [(&str, &[(&str, &str)]); 7] = [
        ("products", products::ROUTES),
        ("cart", cart::ROUTES),
        ("coupons", coupons::ROUTES),
        ("orders", orders::ROUTES),
        ("payments-initiate", payments_initiate::ROUTES),
        ("payments-webhook", payments_webhook::ROUTES),
        ("admin-ship", admin_ship::ROUTES),
    ];
    owned
        .iter()
        .flat_map(|(f, routes)| routes.iter().map(move |(m, p)| (*f, *m, *p)))
        .collect()
}

/// The whole API as one router, built from the same handler code each Lambda runs.
pub fn app(services: &Services) -> Router {
    common::http::finish(
        Router::new()
            .merge(products::router(services))
            .merge(cart::router(services))
            .merge(coupons::router(services))
            .merge(orders::router(services))
            .merge(payments_initiate::router(services))
            .merge(payments_webhook::router(services))
            .merge(admin_ship::router(services)),
    )
}
