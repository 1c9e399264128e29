//! `cart`: the server-side cart, one document per Clerk user in `carts`.
//!
//! Every write is a single conditional update of that document, so two tabs adding the same
//! product at once can neither lose an increment nor create a second line, and no write
//! ever takes a line past its per-line limit or the stock it was checked against.

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::platform::auth::{Auth, User};
use common::platform::config::Config;
use common::platform::db::{is_duplicate_key, Db};
use common::platform::error::FieldError;
use common::platform::problem_codes::ProblemCode;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::cart::CARTS;
use common::shop::cart::{Cart, CartView, MAX_LINES, MAX_QUANTITY_PER_LINE};
use common::shop::catalog::Product;
use common::shop::catalog::PRODUCTS;
use common::shop::tax::seller::{SellerConfig, ShippingConfig};
use common::shop::vocabulary::ids::ProductId;
use common::shop::vocabulary::time::now;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, from_document};
use mongodb::options::ReturnDocument;
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::sync::Arc;

/// The settings this function reads at cold start: the cart shows its shipping fee, which is
/// a seller setting. `main.rs` and the tests read this one type, so they cannot drift apart.
pub type Settings = (Config, SellerConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/cart"),
    ("POST", "/cart/add"),
    ("POST", "/cart/update"),
    ("POST", "/cart/remove"),
    ("DELETE", "/cart/clear"),
];

/// An add only loops when another request changed the same line between our two writes;
/// each pass either writes, refuses, or sees that change, so a few passes always settle.
const MAX_ADD_ATTEMPTS: usize = 8;

#[derive(Clone, FromRef)]
struct AppState {
    db: Db,
    auth: Auth,
    seller: Arc<SellerConfig>,
}

/// The shop's shipping rates, which every cart view is priced with.
struct Rates(ShippingConfig);

impl<S> FromRequestParts<S> for Rates
where
    Arc<SellerConfig>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(_: &mut Parts, state: &S) -> Result<Self> {
        Ok(Rates(Arc::<SellerConfig>::from_ref(state).shipping))
    }
}

pub fn router(services: &Services, seller: Arc<SellerConfig>) -> Router {
    Router::new()
        .route("/cart", get(show))
        .route("/cart/add", post(add))
        .route("/cart/update", post(update))
        .route("/cart/remove", post(remove))
        .route("/cart/clear", delete(clear))
        .with_state(AppState {
            db: services.db.clone(),
            auth: services.auth.clone(),
            seller,
        })
}

/// `{productId, quantity}`. Both are optional here only so that a missing one is reported
/// under its own name rather than as a nameless "missing field" of the body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LineBody {
    #[serde(default)]
    product_id: Option<String>,
    /// A raw number so that 2.5 and 1e20 get the same clear message as 11.
    #[serde(default)]
    quantity: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RemoveBody {
    #[serde(default)]
    product_id: Option<String>,
}

fn product_id_field(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<ProductId> {
    let message = match raw {
        None => "is required",
        Some(s) => match ObjectId::parse_str(s) {
            Ok(id) => return Some(ProductId(id)),
            Err(_) => "must be a 24-character hex id",
        },
    };
    errors.push(FieldError::new("productId", message));
    None
}

impl LineBody {
    fn validate(&self, allowed: RangeInclusive<i64>) -> Result<(ProductId, i64)> {
        let mut errors = Vec::new();
        let product_id = product_id_field(self.product_id.as_deref(), &mut errors);
        let quantity = match self.quantity.as_ref().map(serde_json::Number::as_i64) {
            Some(Some(q)) if allowed.contains(&q) => Some(q),
            None => {
                errors.push(FieldError::new("quantity", "is required"));
                None
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "quantity",
                    format!(
                        "must be a whole number from {} to {}",
                        allowed.start(),
                        allowed.end()
                    ),
                ));
                None
            }
        };
        match (product_id, quantity) {
            (Some(p), Some(q)) => Ok((p, q)),
            _ => Err(Error::validation(errors)),
        }
    }
}

impl RemoveBody {
    fn validate(&self) -> Result<ProductId> {
        let mut errors = Vec::new();
        product_id_field(self.product_id.as_deref(), &mut errors)
            .ok_or_else(|| Error::validation(errors))
    }
}

fn view(rates: &Rates, cart: &Cart) -> Json<CartView> {
    Json(CartView::new(cart, rates.0))
}

async fn load(db: &Db, user: &User) -> Result<Option<Cart>> {
    Ok(db
        .collection::<Cart>(CARTS)
        .find_one(doc! { "userId": user.id.as_str() })
        .await?)
}

/// The caller's cart, or an empty one that is not written: reading never creates a cart.
async fn load_or_empty(db: &Db, user: &User) -> Result<Cart> {
    Ok(load(db, user)
        .await?
        .unwrap_or_else(|| Cart::empty(user.id.as_str())))
}

fn quantity_in(cart: Option<&Cart>, product_id: ProductId) -> Option<i64> {
    cart?
        .items
        .iter()
        .find(|l| l.product_id == product_id)
        .map(|l| l.quantity)
}

async fn active_product(db: &Db, product_id: ProductId) -> Result<Option<Product>> {
    Ok(db
        .collection::<Product>(PRODUCTS)
        .find_one(doc! { "_id": product_id.oid(), "isActive": true })
        .await?)
}

fn product_not_found(product_id: ProductId) -> Error {
    Error::new(
        ProblemCode::ProductNotFound,
        format!("No product {product_id}"),
    )
}

fn not_in_cart(product_id: ProductId) -> Error {
    Error::new(
        ProblemCode::NotInCart,
        format!("Product {product_id} is not in the cart"),
    )
}

/// Why a line of `product` cannot hold `wanted` items, if it cannot. The per-line limit is
/// reported first: it holds whatever the stock, so it is the answer that stays true.
fn refusal(product: &Product, wanted: i64) -> Option<Error> {
    if wanted > MAX_QUANTITY_PER_LINE {
        return Some(Error::new(
            ProblemCode::CartLimit,
            format!(
                "A cart holds at most {MAX_QUANTITY_PER_LINE} of '{}'",
                product.name
            ),
        ));
    }
    let stock = product.total_stock();
    if wanted > stock {
        let detail = if stock == 0 {
            format!("'{}' is out of stock", product.name)
        } else {
            format!("Only {stock} of '{}' left", product.name)
        };
        return Some(Error::new(ProblemCode::InsufficientStock, detail).with("available", stock));
    }
    None
}

fn too_many_lines() -> Error {
    Error::new(
        ProblemCode::CartLimit,
        format!("A cart holds at most {MAX_LINES} different products"),
    )
}

async fn show(State(db): State<Db>, user: User, rates: Rates) -> Result<Json<CartView>> {
    Ok(view(&rates, &load_or_empty(&db, &user).await?))
}

async fn add(
    State(db): State<Db>,
    user: User,
    rates: Rates,
    common::platform::http::Json(body): common::platform::http::Json<LineBody>,
) -> Result<Json<CartView>> {
    let (product_id, quantity) = body.validate(1..=MAX_QUANTITY_PER_LINE)?;
    let (product, mut cart) = product_and_cart(&db, product_id, &user).await?;
    let product = product.ok_or_else(|| product_not_found(product_id))?;
    // The read above decides which single write to try; each write is guarded by what it
    // assumed, so a change by another request in between makes it miss, never overshoot,
    // and the loop decides again from the cart as it is then.
    for _ in 0..MAX_ADD_ATTEMPTS {
        let held = quantity_in(cart.as_ref(), product_id);
        if let Some(e) = refusal(&product, held.unwrap_or(0) + quantity) {
            return Err(e);
        }
        let written = match &cart {
            None => create_with_line(&db, &user, &product, quantity).await?,
            Some(_) if held.is_some() => add_to_line(&db, &user, &product, quantity).await?,
            Some(c) if c.items.len() >= MAX_LINES => return Err(too_many_lines()),
            Some(_) => push_line(&db, &user, &product, quantity).await?,
        };
        if let Some(cart) = written {
            return Ok(view(&rates, &cart));
        }
        cart = load(&db, &user).await?;
    }
    Err(Error::Internal(anyhow::anyhow!(
        "cart add did not settle after {MAX_ADD_ATTEMPTS} attempts"
    )))
}

/// The active product and the shopper's cart, in one round trip.
async fn product_and_cart(
    db: &Db,
    product_id: ProductId,
    user: &User,
) -> Result<(Option<Product>, Option<Cart>)> {
    // Carts first: there are many more carts than products (see `find_one_each`).
    let [cart, product] = db
        .find_one_each([
            (CARTS, doc! { "userId": user.id.as_str() }),
            (PRODUCTS, doc! { "_id": product_id.oid(), "isActive": true }),
        ])
        .await?;
    let product = product.map(from_document::<Product>).transpose()?;
    let cart = cart.map(from_document::<Cart>).transpose()?;
    Ok((product, cart))
}

fn new_line(product: &Product, quantity: i64) -> mongodb::bson::Document {
    doc! {
        "productId": product.id,
        "name": &product.name,
        "price": product.price.get(),
        "image": product.images.first().cloned(),
        "quantity": quantity,
    }
}

/// A first add: the cart is created holding the line. A duplicate key means another
/// request created the cart first, and the loop goes on with that cart.
async fn create_with_line(
    db: &Db,
    user: &User,
    product: &Product,
    quantity: i64,
) -> Result<Option<Cart>> {
    let t = now();
    let cart = doc! {
        "userId": user.id.as_str(),
        "items": [new_line(product, quantity)],
        "createdAt": t,
        "updatedAt": t,
    };
    match db.docs(CARTS).insert_one(&cart).await {
        Ok(_) => Ok(Some(from_document(cart)?)),
        Err(e) if is_duplicate_key(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Adds to the product's line, if it still has room for `quantity` under both the per-line
/// limit and the stock as the catalog shows it now (orders reserve stock for real later).
/// Re-snapshots the line: the shopper is adding at today's price.
async fn add_to_line(
    db: &Db,
    user: &User,
    product: &Product,
    quantity: i64,
) -> Result<Option<Cart>> {
    let room = product.total_stock().min(MAX_QUANTITY_PER_LINE) - quantity;
    let pid = product.id;
    Ok(db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! {
                "userId": user.id.as_str(),
                "items": { "$elemMatch": { "productId": pid, "quantity": { "$lte": room } } },
            },
            doc! {
                "$inc": { "items.$[line].quantity": quantity },
                "$set": {
                    "items.$[line].name": &product.name,
                    "items.$[line].price": product.price.get(),
                    "items.$[line].image": product.images.first().cloned(),
                    "updatedAt": now(),
                },
            },
        )
        .array_filters(vec![doc! { "line.productId": pid }])
        .return_document(ReturnDocument::After)
        .await?)
}

/// Pushes a new line, if the cart has none for the product and room for one more line.
/// Never an upsert, so "no document" can only mean "the filter did not match"; an upsert
/// racing the unique userId index may be retried server-side and leave us unable to tell
/// whether it applied.
async fn push_line(db: &Db, user: &User, product: &Product, quantity: i64) -> Result<Option<Cart>> {
    let mut has_no_line_yet = doc! {
        "userId": user.id.as_str(),
        "items.productId": { "$ne": product.id },
    };
    has_no_line_yet.insert(
        format!("items.{}", MAX_LINES - 1),
        doc! { "$exists": false },
    );
    Ok(db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            has_no_line_yet,
            doc! {
                "$push": { "items": new_line(product, quantity) },
                "$set": { "updatedAt": now() },
            },
        )
        .return_document(ReturnDocument::After)
        .await?)
}

async fn update(
    State(db): State<Db>,
    user: User,
    rates: Rates,
    common::platform::http::Json(body): common::platform::http::Json<LineBody>,
) -> Result<Json<CartView>> {
    let (product_id, quantity) = body.validate(0..=MAX_QUANTITY_PER_LINE)?;
    let carts = db.collection::<Cart>(CARTS);
    let pid = product_id.oid();
    let in_cart = doc! { "userId": user.id.as_str(), "items.productId": pid };
    if quantity == 0 {
        return carts
            .find_one_and_update(
                in_cart,
                doc! {
                    "$pull": { "items": { "productId": pid } },
                    "$set": { "updatedAt": now() },
                },
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(|c| view(&rates, &c))
            .ok_or_else(|| not_in_cart(product_id));
    }
    let product = active_product(&db, product_id).await?;
    let refused = match &product {
        None => Some(product_not_found(product_id)),
        Some(p) => refusal(p, quantity),
    };
    if let Some(e) = refused {
        // Not being in the cart is the answer for a product the caller never added,
        // whatever the catalog says about it now.
        let cart = load(&db, &user).await?;
        return Err(match quantity_in(cart.as_ref(), product_id) {
            Some(_) => e,
            None => not_in_cart(product_id),
        });
    }
    carts
        .find_one_and_update(
            in_cart,
            doc! { "$set": { "items.$[line].quantity": quantity, "updatedAt": now() } },
        )
        .array_filters(vec![doc! { "line.productId": pid }])
        .return_document(ReturnDocument::After)
        .await?
        .map(|c| view(&rates, &c))
        .ok_or_else(|| not_in_cart(product_id))
}

async fn remove(
    State(db): State<Db>,
    user: User,
    rates: Rates,
    common::platform::http::Json(body): common::platform::http::Json<RemoveBody>,
) -> Result<Json<CartView>> {
    let product_id = body.validate()?;
    let pid = product_id.oid();
    let removed = db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! { "userId": user.id.as_str(), "items.productId": pid },
            doc! {
                "$pull": { "items": { "productId": pid } },
                "$set": { "updatedAt": now() },
            },
        )
        .return_document(ReturnDocument::After)
        .await?;
    match removed {
        Some(cart) => Ok(view(&rates, &cart)),
        // Removing what is not there is already done; the client just gets the cart.
        None => Ok(view(&rates, &load_or_empty(&db, &user).await?)),
    }
}

async fn clear(State(db): State<Db>, user: User, rates: Rates) -> Result<Json<CartView>> {
    let cleared = db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! { "userId": user.id.as_str() },
            doc! { "$set": { "items": [], "updatedAt": now() } },
        )
        .return_document(ReturnDocument::After)
        .await?;
    Ok(view(
        &rates,
        &cleared.unwrap_or_else(|| Cart::empty(user.id.as_str())),
    ))
}
