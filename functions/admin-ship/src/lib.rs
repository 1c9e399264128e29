//! `admin-ship`: the shop owner's API (`/admin/...`), over HTTP for admins and by direct
//! invocation (IAM-protected) for the console and scripts, and the owner console itself.
//!
//! One file per area; each route's handler parses (typed path, typed body), authorises
//! (`Admin`), calls one function and answers. A direct invocation is one [`direct::Action`],
//! which calls the same function as the route it mirrors.
//!
//! | Route or action | File |
//! |---|---|
//! | `GET /admin/orders`, `/admin/orders/{id}`, `/admin/orders/export.csv`; `listOrders`, `getOrder` | `orders.rs` |
//! | `POST /admin/orders/{id}/pack`, `/ship`, `/deliver`, `/cancel`; `pack`, `ship`, `deliver`, `cancel` | `fulfilment.rs` |
//! | `POST /admin/orders/{id}/refund`, `/refund/preview`; `refund` | `refunds.rs` |
//! | `GET`, `POST /admin/products`, `PATCH /admin/products/{id}`, `POST …/stock`, `GET …/stock-movements`; `upsertProduct`, `adjustStock`, `openStockLedgers` | `catalog.rs` |
//! | `POST /admin/imports/shopify-products` (a Shopify product CSV export) | `imports.rs` |
//! | `GET`, `POST /admin/coupons`, `PATCH /admin/coupons/{code}`; `upsertCoupon` | `coupons.rs` |
//! | `GET /admin/orders/{id}/invoice`, `/invoice.pdf`, `/credit-notes/{number}` | `invoices.rs` |
//! | `GET /admin/meta` (carriers, GST rates, statuses) | `meta.rs` |
//! | `GET /admin`, `/admin/console.js`, `/admin/console.modules/{module}`, `/admin/console.css` | `console.rs` |
//! | a direct invocation's event (`{"action": …}`) | `direct.rs` |

mod catalog;
pub mod console;
mod coupons;
mod direct;
mod fulfilment;
mod imports;
mod invoices;
mod meta;
mod orders;
mod refunds;

use axum::extract::FromRef;
use axum::Router;
use common::platform::auth::Auth;
use common::platform::config::{Config, MailConfig};
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use common::shop::tax::seller::SellerConfig;
use console::ConsoleConfig;
use serde_json::Value;
use std::sync::Arc;

/// The settings this function reads at cold start: owner actions mail the customer right
/// after their commit, and shipping issues the GST invoice as the seller. `main.rs` and the
/// tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig, MailConfig, ConsoleConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/admin/orders/{id}/ship"),
    ("POST", "/admin/orders/{id}/pack"),
    ("POST", "/admin/orders/{id}/deliver"),
    ("POST", "/admin/orders/{id}/cancel"),
    ("POST", "/admin/orders/{id}/refund"),
    ("POST", "/admin/orders/{id}/refund/preview"),
    ("GET", "/admin/orders"),
    ("GET", "/admin/orders/export.csv"),
    ("GET", "/admin/orders/{id}"),
    ("GET", "/admin/products"),
    ("POST", "/admin/products"),
    ("PATCH", "/admin/products/{id}"),
    ("POST", "/admin/products/{id}/stock"),
    ("POST", "/admin/products/{id}/variants"),
    ("PATCH", "/admin/products/{id}/variants/{variantId}"),
    ("POST", "/admin/products/{id}/variants/{variantId}/stock"),
    ("GET", "/admin/products/{id}/stock-movements"),
    ("POST", "/admin/imports/shopify-products"),
    ("GET", "/admin/coupons"),
    ("POST", "/admin/coupons"),
    ("PATCH", "/admin/coupons/{code}"),
    ("GET", "/admin/orders/{id}/invoice"),
    ("GET", "/admin/orders/{id}/invoice.pdf"),
    ("GET", "/admin/orders/{id}/credit-notes/{number}"),
    ("GET", "/admin/meta"),
    ("GET", "/admin"),
    ("GET", "/admin/console.js"),
    ("GET", "/admin/console.modules/{module}"),
    ("GET", "/admin/console.css"),
];

/// Who a direct invocation acts as in the order's history: IAM let the caller in, and the
/// invocation carries no user.
pub const DIRECT_ACTOR: &str = "direct-invocation";

/// What this function is built from, once per cold start: its routes and its direct
/// invocations share it.
#[derive(Clone)]
pub struct AdminShip {
    services: Services,
    seller: Arc<SellerConfig>,
    mailer: Arc<Mailer>,
    console: ConsoleConfig,
}

/// The state every area's routes are given; handlers take the part they need.
#[derive(Clone, FromRef)]
struct AppState {
    app: AdminShip,
    services: Services,
    auth: Auth,
}

impl AdminShip {
    pub fn new(
        services: Services,
        seller: Arc<SellerConfig>,
        mailer: Arc<Mailer>,
        console: ConsoleConfig,
    ) -> Self {
        AdminShip {
            services,
            seller,
            mailer,
            console,
        }
    }

    /// Every area's routes, in one router.
    pub fn router(&self) -> Router {
        let state = AppState {
            app: self.clone(),
            services: self.services.clone(),
            auth: self.services.auth.clone(),
        };
        Router::new()
            .merge(orders::router())
            .merge(fulfilment::router())
            .merge(refunds::router())
            .merge(catalog::router())
            .merge(imports::router())
            .merge(coupons::router())
            .merge(invoices::router())
            .merge(meta::router())
            .with_state(state)
            .merge(console::router(self.console.clone()))
    }

    /// Answers a direct invocation: `{"action": ..., ...}` → `{"ok": true, ...}` or
    /// `{"ok": false, "error": {"code", "message"}}`. Never fails the invocation itself, so
    /// the console shows the reason instead of a stack trace.
    pub async fn invoke(&self, event: Value) -> Value {
        direct::invoke(self, event).await
    }
}
