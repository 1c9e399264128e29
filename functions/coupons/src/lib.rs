//! `coupons`: prices the caller's cart with a coupon. It only quotes: nothing is reserved
//! and no use is counted until `orders/create` locks the discount in.

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::{Json, Router};
use common::platform::auth::{Auth, User};
use common::platform::clock::SharedClock;
use common::platform::config::Config;
use common::platform::db::Db;
use common::platform::rate_limit::{self, Action};
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::cart::Cart;
use common::shop::cart::CARTS;
use common::shop::catalog::Product;
use common::shop::catalog::PRODUCTS;
use common::shop::coupons::Coupon;
use common::shop::coupons::{normalize_coupon_code, pricing};
use common::shop::coupons::{COUPONS, COUPON_USES};
use common::shop::tax::seller::SellerConfig;
use common::shop::vocabulary::ids::ProductId;
use common::shop::Paise;
use futures::TryStreamExt;
use mongodb::bson::{doc, from_document};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// The settings this function reads at cold start: a quote includes the shipping fee, a
/// seller setting. `main.rs` and the tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/checkout/apply-coupon")];

#[derive(Clone, FromRef)]
struct AppState {
    db: Db,
    auth: Auth,
    clock: SharedClock,
    seller: Arc<SellerConfig>,
}

pub fn router(services: &Services, seller: Arc<SellerConfig>) -> Router {
    Router::new()
        .route("/checkout/apply-coupon", post(apply))
        .with_state(AppState {
            db: services.db.clone(),
            auth: services.auth.clone(),
            clock: services.clock.clone(),
            seller,
        })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ApplyCoupon {
    /// Optional only so a missing code is reported as `code`, not as the body.
    #[serde(default)]
    code: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Quote {
    code: String,
    subtotal: Paise,
    /// After the ₹1.00 floor, exactly as checkout will lock it in.
    discount: Paise,
    shipping_fee: Paise,
    new_total: Paise,
}

async fn apply(
    State(db): State<Db>,
    State(clock): State<SharedClock>,
    State(seller): State<Arc<SellerConfig>>,
    user: User,
    body: Result<common::platform::http::Json<ApplyCoupon>>,
) -> Result<Json<Quote>> {
    // Counted before the body is even read, so probing for codes with malformed requests
    // uses up the same budget as probing with well-formed ones.
    rate_limit::check(&db, &*clock, &user.id, Action::ApplyCoupon).await?;
    let common::platform::http::Json(body) = body?;
    let raw = body
        .code
        .as_deref()
        .ok_or_else(|| Error::field("code", "is required"))?;
    let code = normalize_coupon_code("code", raw)?;
    // The coupon and the cart in one round trip.
    // Carts first: there are many more carts than coupons (see `find_one_each`).
    let [cart, coupon] = db
        .find_one_each([
            (CARTS, doc! { "userId": user.id.as_str() }),
            (COUPONS, doc! { "code": &code }),
        ])
        .await?;
    let coupon = coupon
        .map(from_document::<Coupon>)
        .transpose()?
        .filter(|c| c.is_active)
        .ok_or_else(|| pricing::coupon_not_found(&code))?;
    let cart = cart
        .map(from_document::<Cart>)
        .transpose()?
        .unwrap_or_else(|| Cart::empty(user.id.as_str()));
    // Priced as checkout will charge: today's catalog prices, and the same refusals.
    let ids: Vec<ProductId> = cart.items.iter().map(|l| l.product_id).collect();
    let products: HashMap<ProductId, Product> = if ids.is_empty() {
        HashMap::new()
    } else {
        db.collection::<Product>(PRODUCTS)
            .find(doc! { "_id": { "$in": &ids } })
            .await?
            .try_collect::<Vec<Product>>()
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect()
    };
    common::shop::cart::check_orderable(&cart, &products)?;
    let subtotal = common::shop::cart::subtotal_at_catalog_prices(&cart, &products);
    // Read only for a coupon that limits it: a quote of any other coupon stays one round trip.
    let uses = match coupon.per_customer_limit {
        None => 0,
        Some(_) => {
            let filter = common::shop::coupons::uses::filter(&coupon.code, user.id.as_str());
            let found = db.docs(COUPON_USES).find_one(filter).await?;
            common::shop::coupons::uses::count(found.as_ref())
        }
    };
    let discount = pricing::evaluate(&coupon, subtotal, clock.now(), uses)?;
    let quote = pricing::quote(subtotal, discount, seller.shipping);
    Ok(Json(Quote {
        code: coupon.code,
        subtotal: quote.subtotal,
        discount: quote.discount,
        shipping_fee: quote.shipping_fee,
        new_total: quote.total,
    }))
}
