//! The local stack: every function's router on one port, exactly as `template.yaml` routes
//! them, plus demo seeding and dev token minting. Tests build the same app.

pub mod cors;
pub mod return_page;
pub mod seed;
pub mod shopify_sample;
pub mod token;

use axum::Router;
use common::integrations::phonepe::PhonePe;
use common::platform::clock::SharedClock;
use common::platform::config::{
    Config, MailConfig, PaymentRedirect, PhonePeConfig, WebhookCredentials,
};
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use common::shop::order::settings::{OrderNumbering, PaymentWindow};
use common::shop::tax::seller::SellerConfig;
use std::sync::Arc;

/// Every section any function reads: the dev server runs them all.
pub type Settings = (
    Config,
    PhonePeConfig,
    WebhookCredentials,
    PaymentRedirect,
    MailConfig,
    SellerConfig,
    admin_ship::console::ConsoleConfig,
    PaymentWindow,
    OrderNumbering,
);

/// Every function's dependencies, built once from every section as each Lambda's `main.rs`
/// builds its own, and handed to the same constructors.
#[derive(Clone)]
pub struct Functions {
    pub services: Services,
    pub seller: Arc<SellerConfig>,
    pub mailer: Arc<Mailer>,
    pub phonepe: Arc<PhonePe>,
    /// The webhook's client, with the webhook's short budget, as its Lambda builds it.
    pub webhook_phonepe: Arc<PhonePe>,
    pub webhook_credentials: WebhookCredentials,
    pub redirect: PaymentRedirect,
    pub console: admin_ship::console::ConsoleConfig,
    pub window: PaymentWindow,
    pub numbering: OrderNumbering,
}

impl Functions {
    /// `clock` is the system's for `make dev`, a `TestClock` for the tests.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Functions> {
        let (
            config,
            phonepe,
            webhook_credentials,
            redirect,
            mail,
            seller,
            console,
            window,
            numbering,
        ) = settings;
        Ok(Functions {
            mailer: Arc::new(Mailer::new(&mail, clock.clone()).await),
            services: Services::init(config, &common::shop::indexes(), clock).await?,
            seller: Arc::new(seller),
            phonepe: Arc::new(PhonePe::new(&phonepe)?),
            webhook_phonepe: Arc::new(PhonePe::with_timeout(
                &phonepe,
                payments_webhook::CONFIRM_TIMEOUT,
            )?),
            webhook_credentials,
            redirect,
            console,
            window,
            numbering,
        })
    }

    pub fn admin_ship(&self) -> admin_ship::AdminShip {
        admin_ship::AdminShip::new(
            self.services.clone(),
            self.seller.clone(),
            self.mailer.clone(),
            self.console.clone(),
        )
    }

    pub fn jobs(&self) -> jobs::Jobs {
        jobs::Jobs::new(
            &self.services,
            self.phonepe.clone(),
            self.mailer.clone(),
            self.window,
        )
    }
}

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

/// The whole API as one router, built from the same handler code each Lambda runs, plus
/// `make dev`'s own return page for the PhonePe redirect (`return_page`; deployed nowhere).
pub fn app(f: &Functions) -> Router {
    let services = &f.services;
    common::platform::http::finish(
        Router::new()
            .merge(products::router(services))
            .merge(cart::router(services, f.seller.clone()))
            .merge(coupons::router(services, f.seller.clone()))
            .merge(orders::router(
                services,
                f.seller.clone(),
                f.mailer.clone(),
                f.numbering.clone(),
            ))
            .merge(payments_initiate::router(
                services,
                f.phonepe.clone(),
                f.redirect.clone(),
                f.window,
            ))
            .merge(payments_webhook::router(
                services,
                f.webhook_phonepe.clone(),
                f.webhook_credentials.clone(),
                f.mailer.clone(),
            ))
            .merge(f.admin_ship().router())
            .merge(return_page::router(services)),
    )
}
