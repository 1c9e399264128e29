//! Checkout: the transaction that turns a shopper's cart into an order (`POST /orders/create`
//! calls `place` with a validated request).
//!
//! The coupon's use (through `coupons::uses`) and the Idempotency-Key (`claim_key`, `replay`)
//! are claimed in the checkout's transaction too.

use super::lifecycle::allocate_number;
use super::model::{Order, OrderItem, Payment, PaymentStatus, Shipping, StatusChange, ORDERS};
use super::status::OrderStatus;
use crate::cart::{Cart, CartLine, CARTS};
use crate::catalog::{CheckoutTake, Product, Variant, PRODUCTS};
use crate::coupons::{self, pricing};
use crate::messages::outbox::{self, MailEvent};
use crate::tax::seller::SellerConfig;
use crate::tax::{self, OrderTax, TaxError, TaxLineInput};
use crate::vocabulary::address::Address;
use crate::vocabulary::ids::{OrderId, ProductId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::auth::User;
use platform::clock::Clock;
use platform::db::{retry_transaction, Db};
use platform::email::Email;
use platform::error::{Error, Result};
use platform::idempotency::{self, Keyed, NextAction};
use platform::problem_codes::ProblemCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// A validated checkout request.
#[derive(Debug)]
pub struct Checkout {
    pub address: Address,
    pub email: Email,
    /// Normalised (`catalog::normalize_coupon_code`).
    pub coupon_code: Option<String>,
    pub notes: Option<String>,
}

/// Where a checkout fails on purpose when a test asks for it (`TEST_FAULTS=1` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    AfterStockDecrement,
    BeforeCommit,
}

impl Request<'_> {
    /// Fails here when the request asked for this fault (tests only, `TEST_FAULTS=1`).
    fn fail_at(&self, point: Fault) -> Result<()> {
        if self.placing.fault != Some(point) {
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

/// What `place` did.
pub enum Placed {
    Created(Order),
    /// An earlier request with the same Idempotency-Key made this order.
    Replayed(Order),
    /// Some price moved since the cart was filled; the cart now shows today's prices.
    PriceChanged(Cart, Vec<serde_json::Value>),
}

struct Request<'a> {
    db: &'a Db,
    placing: &'a Placing<'a>,
    order_id: OrderId,
    number: String,
    /// Set once the quick path found the world not as it assumes; every later run of the
    /// transaction body takes the careful path.
    careful: AtomicBool,
}

/// Everything a checkout is placed with.
pub struct Placing<'a> {
    pub user: &'a User,
    pub checkout: &'a Checkout,
    /// The request's Idempotency-Key, with its fingerprint.
    pub key: Option<&'a Keyed>,
    pub fault: Option<Fault>,
    pub seller: &'a SellerConfig,
    /// The order numbers' prefix (`PIT`).
    pub number_prefix: &'a str,
    /// A coupon's `expiresAt` is judged by it.
    pub clock: &'a dyn Clock,
}

/// Places the order: one transaction re-prices the cart from the catalog, takes the stock and
/// the coupon use, writes the order and its "order placed" mail and empties the cart — all of
/// it or none of it, however many shoppers race for the last unit. A request whose key an
/// earlier one used answers with that one's order.
pub async fn place(db: &Db, placing: &Placing<'_>) -> Result<Placed> {
    let number = allocate_number(db, placing.number_prefix).await?;
    let req = Request {
        db,
        placing,
        order_id: OrderId::new(),
        number,
        careful: AtomicBool::new(false),
    };
    match platform::transaction!(db, |session| { place_in(&req, session).await }) {
        // The concurrent twin committed between our check and our claim: answer with its order.
        Err(e) if e.is(ProblemCode::IdempotencyKeyInUse) => match req.placing.key {
            Some(keyed) => match replay(db, None, req.placing.user, keyed).await? {
                NextAction::ReturnSavedResponse(order) => Ok(Placed::Replayed(order)),
                NextAction::StartProcessing => Err(e),
            },
            None => Err(e),
        },
        placed => placed,
    }
}

/// The order an earlier request with this Idempotency-Key made, if there was one; a key
/// used with another request is refused.
pub async fn replayed(db: &Db, user: &User, keyed: &Keyed) -> Result<NextAction<Order>> {
    replay(db, None, user, keyed).await
}

/// The checkout transaction. It may run several times (write conflicts retry it), so it
/// reads everything afresh each time and its only effects are writes in `session`.
///
/// Most checkouts find the cart as the shopper left it: every price still current, the
/// stock there, the coupon valid. The quick path assumes so and writes straight away, each
/// write guarded by that assumption, so it needs no reads of its own (every command is a
/// network round trip). When a guard misses, the transaction is aborted and run again on
/// the careful path, which reads first and answers each of those cases exactly.
async fn place_in(req: &Request<'_>, session: &mut ClientSession) -> Result<Placed> {
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
    let user_id = req.placing.user.id.as_str();
    if let Some(keyed) = req.placing.key {
        // First, so a twin that committed before us fails us here rather than on the cart
        // it emptied; `place` then answers with the twin's order.
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
            variant_id: l.variant_id,
            quantity: l.quantity,
            price: l.price,
        })
        .collect();
    let Some(taken) =
        crate::catalog::take_for_checkout_in(db, session, &takes, req.order_id, user_id).await?
    else {
        return Ok(None);
    };
    let products: HashMap<ProductId, Product> = taken.into_iter().map(|p| (p.id, p)).collect();
    let priced = order_items(&cart, &products);
    let priced = match &req.placing.checkout.coupon_code {
        None => priced,
        Some(code) => {
            match coupons::uses::claim_quickly_in(
                db,
                session,
                code,
                user_id,
                priced.subtotal,
                req.placing.clock.now(),
            )
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
    let user_id = req.placing.user.id.as_str();
    if let Some(keyed) = req.placing.key {
        if let NextAction::ReturnSavedResponse(order) =
            replay(db, Some(&mut *session), req.placing.user, keyed).await?
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

    crate::cart::check_orderable(&cart, &products)?;

    // Every line is on sale from here on, so the lookups below cannot miss.
    let moved: Vec<serde_json::Value> = cart
        .items
        .iter()
        .filter_map(|l| {
            let v = variant_of(&products, l);
            (v.price != l.price).then(|| {
                json!({
                    "productId": l.product_id.to_hex(),
                    "variantId": l.variant_id.to_hex(),
                    "name": v.display_name(&products[&l.product_id].name),
                    "previousPrice": l.price,
                    "price": v.price,
                })
            })
        })
        .collect();
    if !moved.is_empty() {
        return refresh_cart(db, session, cart, &products, moved).await;
    }

    let priced = order_items(&cart, &products);
    let priced = match &req.placing.checkout.coupon_code {
        None => priced,
        Some(code) => {
            let (code, discount) = coupons::uses::claim_in(
                db,
                session,
                code,
                user_id,
                priced.subtotal,
                req.placing.clock.now(),
            )
            .await?;
            priced.with_coupon(code, discount)
        }
    };
    // Taxed before stock is taken, so an address without a GST state code is refused with
    // its field error rather than a stock problem.
    let price = pricing::quote(
        priced.subtotal,
        priced.discount,
        req.placing.seller.shipping,
    );
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
    if let Some(keyed) = req.placing.key {
        claim_key(req, session, keyed).await?;
    }
    req.fail_at(Fault::BeforeCommit)?;
    Ok(Placed::Created(order))
}

/// The variant a line names, in products read for the cart (or taken for it), where
/// `check_orderable` or the take has found every line's variant.
fn variant_of(products: &HashMap<ProductId, Product>, line: &CartLine) -> Variant {
    products[&line.product_id]
        .variant(line.variant_id)
        .expect("every line's variant was found")
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
            let v = variant_of(products, l);
            OrderItem {
                product_id: p.id,
                variant_id: v.id,
                sku: Some(v.sku.clone()),
                name: p.name.clone(),
                variant_title: v.title.clone(),
                price: v.price,
                image: v.image.clone().or_else(|| p.images.first().cloned()),
                quantity: l.quantity,
                line_total: v.price.checked_mul(l.quantity).unwrap_or(Paise(i64::MAX)),
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
    let price = pricing::quote(subtotal, discount, req.placing.seller.shipping);
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
        user_id: req.placing.user.id.clone(),
        email: req.placing.checkout.email.clone(),
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
            address: req.placing.checkout.address.clone(),
            carrier: None,
            tracking_number: None,
            tracking_url: None,
            description: None,
        },
        refunds: Vec::new(),
        notes: req.placing.checkout.notes.clone(),
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
pub fn queued_mails(order: &Order) -> &'static [MailEvent] {
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
    idempotency::save(req.db, session, req.placing.user.id.as_str(), keyed, &made).await
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
    let state = &req.placing.checkout.address.state;
    tax::compute_tax(
        &req.placing.seller.gstin,
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
        let v = variant_of(products, line);
        line.name = p.name.clone();
        line.variant_title = v.title.clone();
        line.sku = v.sku.clone();
        line.price = v.price;
        line.image = v.image.clone().or_else(|| p.images.first().cloned());
    }
    let t = now();
    cart.updated_at = Some(t);
    db.docs(CARTS)
        .update_one(
            doc! { "userId": &cart.user_id },
            doc! { "$set": { "items": platform::db::to_stored(&cart.items)?, "updatedAt": t } },
        )
        .session(&mut *session)
        .await?;
    Ok(Placed::PriceChanged(cart, moved))
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
        let take = crate::catalog::StockMove {
            product_id: line.product_id,
            variant_id: line.variant_id,
            delta: -line.quantity,
            reason: crate::catalog::CHECKOUT,
            order_id: Some(order_id),
            by: user_id,
        };
        let taken = crate::catalog::try_move_stock_in(db, session, &take, true).await?;
        if taken.is_none() {
            let p = &products[&line.product_id];
            short.push((p, variant_of(products, line), line.quantity));
        }
    }
    if short.is_empty() {
        return Ok(());
    }
    let detail = match short.as_slice() {
        [(p, v, _)] if v.stock <= 0 => format!("'{}' is out of stock", v.display_name(&p.name)),
        [(p, v, _)] => format!("Only {} of '{}' left", v.stock, v.display_name(&p.name)),
        many => format!("{} items do not have enough stock", many.len()),
    };
    let lines: Vec<_> = short
        .iter()
        .map(|(p, v, requested)| {
            json!({
                "productId": p.id.to_hex(),
                "variantId": v.id.to_hex(),
                "sku": v.sku,
                "name": v.display_name(&p.name),
                "requested": requested,
                "available": v.stock.max(0),
            })
        })
        .collect();
    Err(Error::new(ProblemCode::InsufficientStock, detail).with("lines", lines))
}
