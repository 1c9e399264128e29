//! `orders`: checkout (`POST /orders/create`) and the caller's order history.
//!
//! Checkout parses and validates the request here and is placed by
//! `common::shop::order::checkout::place`, in one transaction.

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::platform::auth::{Auth, User};
use common::platform::config::{Config, MailConfig};
use common::platform::db::Db;
use common::platform::email::Email;
use common::platform::error::FieldError;
use common::platform::http::{List, Page};
use common::platform::problem_codes::ProblemCode;
use common::platform::rate_limit::{self, Action};
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::cart::CartView;
use common::shop::coupons::normalize_coupon_code;
use common::shop::messages::mail::Mailer;
use common::shop::order::checkout::{self, Checkout, Fault, Placed, Placing};
use common::shop::order::model::{order_not_found, Order, OrderView, ORDERS};
use common::shop::order::settings::OrderNumbering;
use common::shop::tax::seller::SellerConfig;
use common::shop::vocabulary::address::{self, AddressInput};
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The settings this function reads at cold start: checkout mails the "order placed" mail
/// right after its commit, prices and taxes the order as the seller, and numbers it.
/// `main.rs` and the tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig, MailConfig, OrderNumbering);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/orders/create"),
    ("GET", "/orders/my"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/invoice"),
    ("GET", "/orders/{id}/invoice.pdf"),
];

pub use common::platform::idempotency::HEADER as IDEMPOTENCY_KEY_HEADER;
use common::platform::idempotency::{IdempotencyKey, Keyed, NextAction};
/// Honoured only when the configuration has `TEST_FAULTS=1` (tests, never a deployment).
pub const TEST_FAULT_HEADER: &str = "x-test-fault";

#[derive(Clone, FromRef)]
struct AppState {
    services: Services,
    auth: Auth,
    seller: Arc<SellerConfig>,
    mailer: Arc<Mailer>,
    numbering: Arc<OrderNumbering>,
}

pub fn router(
    services: &Services,
    seller: Arc<SellerConfig>,
    mailer: Arc<Mailer>,
    numbering: OrderNumbering,
) -> Router {
    Router::new()
        .route("/orders/create", post(create))
        .route("/orders/my", get(mine))
        .route("/orders/{id}", get(by_id))
        .route("/orders/{id}/invoice", get(invoice))
        .route("/orders/{id}/invoice.pdf", get(invoice_pdf))
        .with_state(AppState {
            services: services.clone(),
            auth: services.auth.clone(),
            seller,
            mailer,
            numbering: Arc::new(numbering),
        })
}

/// The request body. Every field is optional here so that what is missing is reported
/// together with everything else that is wrong, each under its own name.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateOrder {
    #[serde(default)]
    shipping_address: Option<AddressInput>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    coupon_code: Option<String>,
    #[serde(default)]
    notes: Option<String>,
}

const MAX_NOTES: usize = 500;

fn validate(user: &User, body: CreateOrder) -> Result<Checkout> {
    let mut errors: Vec<FieldError> = Vec::new();
    let address = match &body.shipping_address {
        None => {
            errors.push(FieldError::new("shippingAddress", "is required"));
            None
        }
        Some(input) => match address::validate("shippingAddress", input) {
            Ok(a) => Some(a),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
    };
    let typed = body
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let email = match (typed, &user.email) {
        (Some(typed), _) => {
            let parsed = Email::parse(typed);
            if parsed.is_none() {
                errors.push(FieldError::new("email", "is not an email address"));
            }
            parsed
        }
        (None, Some(session)) => Some(session.clone()),
        (None, None) => {
            errors.push(FieldError::new(
                "email",
                "is required: the session carries no email address",
            ));
            None
        }
    };
    let coupon_code = match body
        .coupon_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        None => None,
        Some(raw) => match normalize_coupon_code("couponCode", raw) {
            Ok(code) => Some(code),
            Err(_) => {
                errors.push(FieldError::new(
                    "couponCode",
                    "must be 3–32 letters, digits, '_' or '-'",
                ));
                None
            }
        },
    };
    // The owner reads the notes on the order: the rule for every text a person reads.
    let notes = common::platform::text::field(
        &mut errors,
        "notes",
        body.notes.as_deref(),
        common::platform::text::Rule::paragraphs(MAX_NOTES),
    );
    match (address, email) {
        (Some(address), Some(email)) if errors.is_empty() => Ok(Checkout {
            address,
            email,
            coupon_code,
            notes,
        }),
        _ => Err(Error::validation(errors)),
    }
}

fn fault(config: &Config, headers: &HeaderMap) -> Option<Fault> {
    if !config.test_faults {
        return None;
    }
    match headers.get(TEST_FAULT_HEADER)?.to_str().ok()? {
        "after-stock-decrement" => Some(Fault::AfterStockDecrement),
        "before-commit" => Some(Fault::BeforeCommit),
        _ => None,
    }
}

async fn create(
    State(services): State<Services>,
    State(seller): State<Arc<SellerConfig>>,
    State(mailer): State<Arc<Mailer>>,
    State(numbering): State<Arc<OrderNumbering>>,
    user: User,
    headers: HeaderMap,
    body: Result<common::platform::http::Json<CreateOrder>>,
) -> Result<(StatusCode, Json<OrderView>)> {
    let db = &services.db;
    let key = IdempotencyKey::from_headers(&headers)?;
    let keyed = match (key, &body) {
        (Some(key), Ok(body)) => Some(Keyed::new(key, &body.0)),
        _ => None,
    };
    // A replay is answered before the rate limit: retrying a request whose answer was lost
    // must not use up the shopper's budget.
    if let Some(keyed) = &keyed {
        if let NextAction::ReturnSavedResponse(order) = checkout::replayed(db, &user, keyed).await?
        {
            return Ok((StatusCode::OK, Json(order.into())));
        }
    }
    rate_limit::check(db, &*services.clock, &user.id, Action::CreateOrder).await?;
    let common::platform::http::Json(body) = body?;
    let valid = validate(&user, body)?;
    let placed = checkout::place(
        db,
        &Placing {
            user: &user,
            checkout: &valid,
            key: keyed.as_ref(),
            fault: fault(&services.config, &headers),
            seller: &seller,
            number_prefix: &numbering.prefix,
            clock: &*services.clock,
        },
    )
    .await?;
    match placed {
        Placed::Created(order) => {
            mailer
                .send_for_new_order(db, &order, checkout::queued_mails(&order))
                .await;
            Ok((StatusCode::CREATED, Json(order.into())))
        }
        Placed::Replayed(order) => Ok((StatusCode::OK, Json(order.into()))),
        Placed::PriceChanged(cart, lines) => Err(Error::new(
            ProblemCode::PriceChanged,
            "Prices changed since these items were added to the cart; the cart now shows \
             the current prices — review it and place the order again",
        )
        .with("lines", lines)
        .with("cart", CartView::new(&cart, seller.shipping))),
    }
}

async fn by_id(
    State(db): State<Services>,
    user: User,
    Path(id): Path<String>,
) -> Result<Json<OrderView>> {
    let mut filter = common::shop::order::lifecycle::filter_for(&id)?;
    // Someone else's order is indistinguishable from no order at all.
    filter.insert("userId", user.id.as_str());
    db.db
        .collection::<Order>(ORDERS)
        .find_one(filter)
        .await?
        .map(|o| Json(o.into()))
        .ok_or_else(order_not_found)
}

/// The customer's own order's tax invoice, once it has shipped.
async fn own_invoice(db: &Db, user: &User, id: &str) -> Result<common::shop::invoices::Invoice> {
    let mut filter = common::shop::order::lifecycle::filter_for(id)?;
    filter.insert("userId", user.id.as_str());
    common::shop::invoices::for_order(db, filter).await
}

async fn invoice(
    State(services): State<Services>,
    user: User,
    Path(id): Path<String>,
) -> Result<Json<common::shop::invoices::Invoice>> {
    Ok(Json(own_invoice(&services.db, &user, &id).await?))
}

async fn invoice_pdf(
    State(services): State<Services>,
    user: User,
    Path(id): Path<String>,
) -> Result<axum::response::Response> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let inv = own_invoice(&services.db, &user, &id).await?;
    let bytes = common::shop::invoices::pdf::invoice(&inv)?;
    let disposition = format!(
        "inline; filename=\"{}\"",
        common::shop::invoices::file_name(&inv.number)
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response())
}

async fn mine(State(services): State<Services>, user: User, page: Page) -> Result<List<OrderView>> {
    let filter = doc! { "userId": user.id.as_str() };
    let rows: Vec<Order> = page
        .newest_first(&services.db.collection::<Order>(ORDERS), filter)
        .await?;
    Ok(List::from_rows(rows, page, |o| o.id.oid(), OrderView::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::platform::idempotency::fingerprint;

    #[test]
    fn the_fingerprint_ignores_layout_but_not_values() {
        let parse = |s: &str| serde_json::from_str::<CreateOrder>(s).unwrap();
        let a = parse(r#"{"couponCode":"A10","notes":"x"}"#);
        let b = parse(r#"{ "notes": "x",  "couponCode": "A10" }"#);
        let c = parse(r#"{"couponCode":"A11","notes":"x"}"#);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }
}
