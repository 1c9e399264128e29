//! `orders`: checkout (`POST /orders/create`) and the caller's order history.
//!
//! Checkout is one MongoDB transaction: it re-prices the cart from the catalog, takes the
//! stock and the coupon use, writes the order and its "order placed" mail and empties the
//! cart — all of it or none of it, however many shoppers race for the last unit.

use axum::extract::{FromRef, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::platform::auth::{Auth, User};
use common::platform::clock::Clock;
use common::platform::config::{Config, MailConfig};
use common::platform::db::{retry_transaction, Db, CARTS, COUPONS, ORDERS, PRODUCTS};
use common::platform::email::Email;
use common::platform::error::FieldError;
use common::platform::http::{List, Page};
use common::platform::problem_codes::ProblemCode;
use common::platform::rate_limit::{self, Action};
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::address::{self, AddressInput};
use common::shop::cart::{Cart, CartLine, CartView};
use common::shop::catalog::{normalize_coupon_code, CheckoutTake};
use common::shop::ids::{OrderId, ProductId};
use common::shop::mail::Mailer;
use common::shop::models::{
    now, Address, Coupon, Order, OrderItem, OrderView, Payment, PaymentStatus, Product, Shipping,
    StatusChange,
};
use common::shop::order_state::OrderStatus;
use common::shop::orders::order_not_found;
use common::shop::outbox::{self, MailEvent};
use common::shop::pricing;
use common::shop::seller::SellerConfig;
use common::shop::tax::{self, OrderTax, TaxError, TaxLineInput};
use common::shop::Paise;
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, to_bson, DateTime};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The settings this function reads at cold start: checkout mails the "order placed" mail
/// right after its commit, and prices and taxes the order as the seller. `main.rs` and the
/// tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig, MailConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/orders/create"),
    ("GET", "/orders/my"),
    ("GET", "/orders/{id}"),
    ("GET", "/orders/{id}/invoice"),
    ("GET", "/orders/{id}/invoice.pdf"),
];

pub use common::platform::idempotency::HEADER as IDEMPOTENCY_KEY_HEADER;
use common::platform::idempotency::{self, IdempotencyKey, Keyed, NextAction};
/// Honoured only when the configuration has `TEST_FAULTS=1` (tests, never a deployment).
pub const TEST_FAULT_HEADER: &str = "x-test-fault";

#[derive(Clone, FromRef)]
struct AppState {
    services: Services,
    auth: Auth,
    seller: Arc<SellerConfig>,
    mailer: Arc<Mailer>,
}

pub fn router(services: &Services, seller: Arc<SellerConfig>, mailer: Arc<Mailer>) -> Router {
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

/// A validated checkout request.
#[derive(Debug)]
struct Checkout {
    address: Address,
    email: Email,
    coupon_code: Option<String>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    AfterStockDecrement,
    BeforeCommit,
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

impl Request<'_> {
    /// Fails here when the request asked for this fault (tests only, `TEST_FAULTS=1`).
    fn fail_at(&self, point: Fault) -> Result<()> {
        if self.fault != Some(point) {
            return Ok(());
        }
        tracing::warn!(fault = ?point, "injecting a test fault (TEST_FAULTS=1)");
        Err(Error::Internal(anyhow::anyhow!(
            "injected test fault {point:?}"
        )))
    }
}

/// What checkout saves under a key: the order it made, answered as it is now on a replay.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MadeOrder {
    order_id: ObjectId,
}

/// The order an earlier request with this key made, if there was one.
async fn replay(
    db: &Db,
    mut session: Option<&mut ClientSession>,
    user: &User,
    keyed: &Keyed,
) -> Result<NextAction<Order>> {
    let saved = idempotency::find(db, session.as_deref_mut(), user.id.as_str(), &keyed.key).await?;
    let MadeOrder { order_id } = match keyed.next_action(saved)? {
        NextAction::StartProcessing => return Ok(NextAction::StartProcessing),
        NextAction::ReturnSavedResponse(made) => made,
    };
    let orders = db.collection::<Order>(ORDERS);
    let order = match session {
        Some(session) => {
            orders
                .find_one(doc! { "_id": order_id })
                .session(session)
                .await?
        }
        None => orders.find_one(doc! { "_id": order_id }).await?,
    };
    match order {
        Some(order) if order.user_id == user.id => Ok(NextAction::ReturnSavedResponse(order)),
        _ => Err(Error::Internal(anyhow::anyhow!(
            "idempotency key {} points at a missing order",
            keyed.key.as_str()
        ))),
    }
}

enum Placed {
    Created(Order),
    /// An earlier request with the same Idempotency-Key made this order.
    Replayed(Order),
    /// Some price moved since the cart was filled; the cart now shows today's prices.
    PriceChanged(Cart, Vec<serde_json::Value>),
}

struct Request<'a> {
    db: &'a Db,
    user: &'a User,
    checkout: &'a Checkout,
    order_id: OrderId,
    number: String,
    key: Option<&'a Keyed>,
    fault: Option<Fault>,
    seller: &'a SellerConfig,
    /// A coupon's `expiresAt` is judged by it.
    clock: &'a dyn Clock,
    /// Set once the quick path found the world not as it assumes; every later run of the
    /// transaction body takes the careful path.
    careful: AtomicBool,
}

async fn create(
    State(services): State<Services>,
    State(seller): State<Arc<SellerConfig>>,
    State(mailer): State<Arc<Mailer>>,
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
        if let NextAction::ReturnSavedResponse(order) = replay(db, None, &user, keyed).await? {
            return Ok((StatusCode::OK, Json(order.into())));
        }
    }
    rate_limit::check(db, &*services.clock, &user.id, Action::CreateOrder).await?;
    let common::platform::http::Json(body) = body?;
    let checkout = validate(&user, body)?;
    let number =
        common::shop::orders::allocate_number(db, &services.config.order_number_prefix).await?;
    let req = Request {
        db,
        user: &user,
        checkout: &checkout,
        order_id: OrderId::new(),
        number,
        key: keyed.as_ref(),
        fault: fault(&services.config, &headers),
        seller: &seller,
        clock: &*services.clock,
        careful: AtomicBool::new(false),
    };
    let placed = common::platform::transaction!(db, |session| { place(&req, session).await });
    match placed {
        Ok(Placed::Created(order)) => {
            mailer
                .send_for_new_order(db, &order, queued_mails(&order))
                .await;
            Ok((StatusCode::CREATED, Json(order.into())))
        }
        Ok(Placed::Replayed(order)) => Ok((StatusCode::OK, Json(order.into()))),
        Ok(Placed::PriceChanged(cart, lines)) => Err(Error::new(
            ProblemCode::PriceChanged,
            "Prices changed since these items were added to the cart; the cart now shows \
             the current prices — review it and place the order again",
        )
        .with("lines", lines)
        .with("cart", CartView::new(&cart, seller.shipping))),
        // The concurrent twin committed between our check and our claim: answer with its order.
        Err(e) if e.is(ProblemCode::IdempotencyKeyInUse) => match req.key {
            Some(keyed) => match replay(db, None, &user, keyed).await? {
                NextAction::ReturnSavedResponse(order) => Ok((StatusCode::OK, Json(order.into()))),
                NextAction::StartProcessing => Err(e),
            },
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// The checkout transaction. It may run several times (write conflicts retry it), so it
/// reads everything afresh each time and its only effects are writes in `session`.
///
/// Most checkouts find the cart as the shopper left it: every price still current, the
/// stock there, the coupon valid. The quick path assumes so and writes straight away, each
/// write guarded by that assumption, so it needs no reads of its own (every command is a
/// network round trip). When a guard misses, the transaction is aborted and run again on
/// the careful path, which reads first and answers each of those cases exactly.
async fn place(req: &Request<'_>, session: &mut ClientSession) -> Result<Placed> {
    if !req.careful.load(Ordering::Relaxed) {
        if let Some(placed) = place_quickly(req, session).await? {
            return Ok(placed);
        }
        req.careful.store(true, Ordering::Relaxed);
        return Err(retry_transaction());
    }
    place_carefully(req, session).await
}

/// `Ok(None)` when any of its guards missed; what it wrote must then be aborted.
async fn place_quickly(req: &Request<'_>, session: &mut ClientSession) -> Result<Option<Placed>> {
    let db = req.db;
    let user_id = req.user.id.as_str();
    if let Some(keyed) = req.key {
        // First, so a twin that committed before us fails us here rather than on the cart
        // it emptied; `create` then answers with the twin's order.
        claim_key(req, session, keyed).await?;
    }
    // Read and emptied in one write; an aborted checkout leaves it as it was.
    let cart = db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! { "userId": user_id },
            doc! { "$set": { "items": [], "updatedAt": now() } },
        )
        .return_document(ReturnDocument::Before)
        .session(&mut *session)
        .await?
        .unwrap_or_else(|| Cart::empty(user_id));
    if cart.items.is_empty() {
        return Err(cart_empty());
    }
    let takes: Vec<CheckoutTake> = cart
        .items
        .iter()
        .map(|l| CheckoutTake {
            product_id: l.product_id,
            quantity: l.quantity,
            price: l.price,
        })
        .collect();
    let Some(taken) =
        common::shop::catalog::take_for_checkout_in(db, session, &takes, req.order_id, user_id)
            .await?
    else {
        return Ok(None);
    };
    let products: HashMap<ProductId, Product> = taken.into_iter().map(|p| (p.id, p)).collect();
    let priced = order_items(&cart, &products);
    let priced = match &req.checkout.coupon_code {
        None => priced,
        Some(code) => {
            match claim_coupon_quickly(db, session, code, user_id, priced.subtotal, req.clock.now())
                .await?
            {
                Some((code, discount)) => priced.with_coupon(code, discount),
                None => return Ok(None),
            }
        }
    };
    let order = write_order(req, session, priced, &products).await?;
    req.fail_at(Fault::BeforeCommit)?;
    Ok(Some(Placed::Created(order)))
}

async fn place_carefully(req: &Request<'_>, session: &mut ClientSession) -> Result<Placed> {
    let db = req.db;
    let user_id = req.user.id.as_str();
    if let Some(keyed) = req.key {
        if let NextAction::ReturnSavedResponse(order) =
            replay(db, Some(&mut *session), req.user, keyed).await?
        {
            return Ok(Placed::Replayed(order));
        }
    }

    let cart = db
        .collection::<Cart>(CARTS)
        .find_one(doc! { "userId": user_id })
        .session(&mut *session)
        .await?
        .unwrap_or_else(|| Cart::empty(user_id));
    if cart.items.is_empty() {
        return Err(cart_empty());
    }

    let ids: Vec<ProductId> = cart.items.iter().map(|l| l.product_id).collect();
    let products: HashMap<ProductId, Product> = db
        .collection::<Product>(PRODUCTS)
        .find(doc! { "_id": { "$in": &ids } })
        .session(&mut *session)
        .await?
        .stream(&mut *session)
        .try_collect::<Vec<Product>>()
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();

    common::shop::cart::check_orderable(&cart, &products)?;

    // Every line is active from here on, so the lookups below cannot miss.
    let product = |l: &CartLine| &products[&l.product_id];
    let moved: Vec<serde_json::Value> = cart
        .items
        .iter()
        .filter(|l| product(l).price != l.price)
        .map(|l| {
            json!({
                "productId": l.product_id.to_hex(),
                "name": product(l).name,
                "previousPrice": l.price,
                "price": product(l).price,
            })
        })
        .collect();
    if !moved.is_empty() {
        return refresh_cart(db, session, cart, &products, moved).await;
    }

    let priced = order_items(&cart, &products);
    let priced = match &req.checkout.coupon_code {
        None => priced,
        Some(code) => {
            let (code, discount) =
                claim_coupon(db, session, code, user_id, priced.subtotal, req.clock.now()).await?;
            priced.with_coupon(code, discount)
        }
    };
    // Taxed before stock is taken, so an address without a GST state code is refused with
    // its field error rather than a stock problem.
    let price = pricing::quote(priced.subtotal, priced.discount, req.seller.shipping);
    order_tax(req, &priced.items, &products, price)?;

    take_stock(db, session, &cart, &products, req.order_id, user_id).await?;
    let order = write_order(req, session, priced, &products).await?;
    db.docs(CARTS)
        .update_one(
            doc! { "userId": user_id },
            doc! { "$set": { "items": [], "updatedAt": order.created_at } },
        )
        .session(&mut *session)
        .await?;
    if let Some(keyed) = req.key {
        claim_key(req, session, keyed).await?;
    }
    req.fail_at(Fault::BeforeCommit)?;
    Ok(Placed::Created(order))
}

fn cart_empty() -> Error {
    Error::new(ProblemCode::CartEmpty, "The cart is empty")
}

/// The order's lines at the catalog's prices, and their sum, before any coupon.
fn order_items(cart: &Cart, products: &HashMap<ProductId, Product>) -> Priced {
    let items: Vec<OrderItem> = cart
        .items
        .iter()
        .map(|l| {
            let p = &products[&l.product_id];
            OrderItem {
                product_id: p.id,
                name: p.name.clone(),
                price: p.price,
                image: p.images.first().cloned(),
                quantity: l.quantity,
                line_total: p.price.checked_mul(l.quantity).unwrap_or(Paise(i64::MAX)),
            }
        })
        .collect();
    let subtotal = items.iter().fold(Paise::ZERO, |acc, i| {
        acc.checked_add(i.line_total).unwrap_or(Paise(i64::MAX))
    });
    Priced {
        items,
        subtotal,
        coupon_code: None,
        discount: Paise::ZERO,
    }
}

/// The order's lines at the prices it is placed at, and the coupon it uses.
struct Priced {
    items: Vec<OrderItem>,
    subtotal: Paise,
    coupon_code: Option<String>,
    discount: Paise,
}

impl Priced {
    fn with_coupon(self, code: String, discount: Paise) -> Priced {
        Priced {
            coupon_code: Some(code),
            discount,
            ..self
        }
    }
}

/// Prices and taxes the order, and writes it with its mails, in the checkout transaction.
/// Both paths have taken the stock by now.
async fn write_order(
    req: &Request<'_>,
    session: &mut ClientSession,
    priced: Priced,
    products: &HashMap<ProductId, Product>,
) -> Result<Order> {
    req.fail_at(Fault::AfterStockDecrement)?;
    let db = req.db;
    let Priced {
        items,
        subtotal,
        coupon_code,
        discount,
    } = priced;
    // The same function priced the cart and the coupon quote, so checkout charges exactly
    // what the shopper was shown.
    let price = pricing::quote(subtotal, discount, req.seller.shipping);
    let tax = order_tax(req, &items, products, price)?;
    let t = now();
    let mut status_history = vec![StatusChange {
        status: OrderStatus::Created,
        at: t,
        note: None,
        by: Some("customer".into()),
    }];
    // Nothing to collect (a coupon covered the goods, shipping free): PhonePe would refuse
    // a zero amount, so the order is paid the moment it exists.
    let free = price.total == Paise::ZERO;
    let (status, payment) = if free {
        status_history.push(StatusChange {
            status: OrderStatus::Paid,
            at: t,
            note: Some("nothing to pay".into()),
            by: Some("customer".into()),
        });
        let payment = Payment {
            provider: "none".into(),
            status: PaymentStatus::NotRequired,
            ..Payment::pending()
        };
        (OrderStatus::Paid, payment)
    } else {
        (OrderStatus::Created, Payment::pending())
    };
    let order = Order {
        id: req.order_id,
        number: Some(req.number.clone()),
        user_id: req.user.id.clone(),
        email: req.checkout.email.clone(),
        items,
        subtotal: price.subtotal,
        discount: price.discount,
        shipping_fee: price.shipping_fee,
        total: price.total,
        tax: Some(tax),
        coupon_code,
        currency: "INR".into(),
        status,
        status_history,
        payment,
        shipping: Shipping {
            address: req.checkout.address.clone(),
            carrier: None,
            tracking_number: None,
            tracking_url: None,
            description: None,
        },
        refunds: Vec::new(),
        notes: req.checkout.notes.clone(),
        invoice: None,
        created_at: t,
        updated_at: t,
    };
    db.collection::<Order>(ORDERS)
        .insert_one(&order)
        .session(&mut *session)
        .await?;
    for event in queued_mails(&order) {
        outbox::enqueue(db, session, order.id, *event).await?;
    }
    Ok(order)
}

/// The mails a new order queues, in the order they leave.
fn queued_mails(order: &Order) -> &'static [MailEvent] {
    if order.status == OrderStatus::Paid {
        &[MailEvent::OrderPlaced, MailEvent::PaymentSuccess]
    } else {
        &[MailEvent::OrderPlaced]
    }
}

/// Claims the Idempotency-Key in the checkout transaction, with the order: a concurrent twin
/// either conflicts here and retries (then finds this key) or fails on the unique index;
/// either way it cannot make a second order.
async fn claim_key(req: &Request<'_>, session: &mut ClientSession, keyed: &Keyed) -> Result<()> {
    let made = MadeOrder {
        order_id: req.order_id.oid(),
    };
    idempotency::save(req.db, session, req.user.id.as_str(), keyed, &made).await
}

/// The order's GST, locked in at checkout from the prices and discount just settled.
fn order_tax(
    req: &Request<'_>,
    items: &[OrderItem],
    products: &HashMap<ProductId, Product>,
    price: pricing::Quote,
) -> Result<OrderTax> {
    let lines: Vec<TaxLineInput> = items
        .iter()
        .map(|i| {
            let p = &products[&i.product_id];
            TaxLineInput {
                product_id: i.product_id,
                // `untaxable` has refused any product without these.
                hsn: p.hsn.clone().expect("checked by untaxable"),
                rate: p.gst_rate.expect("checked by untaxable"),
                line_total: i.line_total,
            }
        })
        .collect();
    let state = &req.checkout.address.state;
    tax::compute_tax(
        &req.seller.gstin,
        state,
        &lines,
        price.discount,
        price.shipping_fee,
    )
    .map_err(|e| match e {
        TaxError::NoStateCode(_) => Error::field(
            "shippingAddress.state",
            "is not a state or union territory of India",
        ),
        other => Error::Internal(anyhow::anyhow!("taxing order: {other}")),
    })
}

/// Snapshots today's names, prices and images into the cart and commits just that, so the
/// shopper sees what they would pay before trying again.
async fn refresh_cart(
    db: &Db,
    session: &mut ClientSession,
    mut cart: Cart,
    products: &HashMap<ProductId, Product>,
    moved: Vec<serde_json::Value>,
) -> Result<Placed> {
    for line in &mut cart.items {
        let p = &products[&line.product_id];
        line.name = p.name.clone();
        line.price = p.price;
        line.image = p.images.first().cloned();
    }
    let t = now();
    cart.updated_at = Some(t);
    db.docs(CARTS)
        .update_one(
            doc! { "userId": &cart.user_id },
            doc! { "$set": { "items": to_bson(&cart.items)?, "updatedAt": t } },
        )
        .session(&mut *session)
        .await?;
    Ok(Placed::PriceChanged(cart, moved))
}

/// Takes one use of the coupon, never past its limits, and returns the discount it gives;
/// `None` when it is missing, inactive, used up (by everyone or by this customer) or does not
/// apply (the careful path then says which).
async fn claim_coupon_quickly(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
    subtotal: Paise,
    at: DateTime,
) -> Result<Option<(String, Paise)>> {
    let Some(coupon) = db
        .collection::<Coupon>(COUPONS)
        .find_one_and_update(
            doc! {
                "code": code,
                "isActive": true,
                "$or": [
                    { "usageLimit": null },
                    { "$expr": { "$lt": ["$usedCount", "$usageLimit"] } },
                ],
            },
            doc! { "$inc": { "usedCount": 1_i64 } },
        )
        .return_document(ReturnDocument::Before)
        .session(&mut *session)
        .await?
    else {
        return Ok(None);
    };
    let uses = common::shop::coupon_uses::take_in(db, session, &coupon.code, user_id).await?;
    Ok(pricing::evaluate(&coupon, subtotal, at, uses)
        .ok()
        .map(|discount| (coupon.code, discount)))
}

/// Checks the coupon as apply-coupon does and takes one use of it, never past its limits.
/// Returns the stored code and the discount it locks in.
async fn claim_coupon(
    db: &Db,
    session: &mut ClientSession,
    code: &str,
    user_id: &str,
    subtotal: Paise,
    at: DateTime,
) -> Result<(String, Paise)> {
    let coupon = db
        .collection::<Coupon>(COUPONS)
        .find_one(doc! { "code": code })
        .session(&mut *session)
        .await?
        .ok_or_else(|| pricing::coupon_not_found(code))?;
    // The customer's use is taken first and judged by the count it had: a refusal aborts the
    // transaction and takes the increment back, and a concurrent checkout of the same
    // customer writes the same counter, so it conflicts and retries rather than both passing.
    let uses = common::shop::coupon_uses::take_in(db, session, &coupon.code, user_id).await?;
    let discount = pricing::evaluate(&coupon, subtotal, at, uses)?;
    let mut filter = doc! { "code": &coupon.code, "isActive": true };
    if let Some(limit) = coupon.usage_limit {
        // The guard, not the read above, is what keeps the count within the limit.
        filter.insert("usageLimit", limit);
        filter.insert("usedCount", doc! { "$lt": limit });
    }
    let claimed = db
        .docs(COUPONS)
        .update_one(filter, doc! { "$inc": { "usedCount": 1_i64 } })
        .session(&mut *session)
        .await?;
    if claimed.matched_count == 0 {
        return Err(pricing::exhausted(&coupon.code));
    }
    Ok((coupon.code, discount))
}

/// Takes every line's quantity from stock, or refuses naming every line that is short.
async fn take_stock(
    db: &Db,
    session: &mut ClientSession,
    cart: &Cart,
    products: &HashMap<ProductId, Product>,
    order_id: OrderId,
    user_id: &str,
) -> Result<()> {
    let mut short = Vec::new();
    for line in &cart.items {
        // Each take writes its ledger entry in this transaction, so a refused checkout
        // leaves neither stock nor ledger changed.
        let take = common::shop::catalog::StockMove {
            product_id: line.product_id,
            delta: -line.quantity,
            reason: common::shop::catalog::CHECKOUT,
            order_id: Some(order_id),
            by: user_id,
        };
        let taken = common::shop::catalog::try_move_stock_in(db, session, &take, true).await?;
        if taken.is_none() {
            let p = &products[&line.product_id];
            short.push((p, line.quantity));
        }
    }
    if short.is_empty() {
        return Ok(());
    }
    let detail = match short.as_slice() {
        [(p, _)] if p.stock <= 0 => format!("'{}' is out of stock", p.name),
        [(p, _)] => format!("Only {} of '{}' left", p.stock, p.name),
        many => format!("{} items do not have enough stock", many.len()),
    };
    let lines: Vec<_> = short
        .iter()
        .map(|(p, requested)| {
            json!({
                "productId": p.id.to_hex(),
                "name": p.name,
                "requested": requested,
                "available": p.stock.max(0),
            })
        })
        .collect();
    Err(Error::new(ProblemCode::InsufficientStock, detail).with("lines", lines))
}

async fn by_id(
    State(db): State<Services>,
    user: User,
    Path(id): Path<String>,
) -> Result<Json<OrderView>> {
    let mut filter = common::shop::orders::filter_for(&id)?;
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
    let mut filter = common::shop::orders::filter_for(id)?;
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
