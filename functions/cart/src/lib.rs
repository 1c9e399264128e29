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
use common::shop::catalog::PRODUCTS;
use common::shop::catalog::{variant_required, Product, Variant};
use common::shop::tax::seller::{SellerConfig, ShippingConfig};
use common::shop::vocabulary::ids::{ProductId, VariantId};
use common::shop::vocabulary::time::now;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, from_document, Bson, Document};
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

/// `{variantId, quantity}`, or `{productId, quantity}` for a product with one variant. All
/// are optional here only so that a missing one is reported under its own name rather than
/// as a nameless "missing field" of the body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LineBody {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    variant_id: Option<String>,
    /// A raw number so that 2.5 and 1e20 get the same clear message as 11.
    #[serde(default)]
    quantity: Option<serde_json::Number>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RemoveBody {
    #[serde(default)]
    product_id: Option<String>,
    #[serde(default)]
    variant_id: Option<String>,
}

/// What a body names: a variant, or a product (meaning its one variant).
#[derive(Debug, Clone, Copy)]
enum Named {
    Variant(VariantId),
    Product(ProductId),
}

fn named(
    product_id: Option<&str>,
    variant_id: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<Named> {
    let (field, raw) = match (variant_id, product_id) {
        (Some(v), _) => ("variantId", v),
        (None, Some(p)) => ("productId", p),
        (None, None) => {
            errors.push(FieldError::new(
                "variantId",
                "variantId or productId is required",
            ));
            return None;
        }
    };
    match ObjectId::parse_str(raw) {
        Ok(id) if field == "variantId" => Some(Named::Variant(VariantId(id))),
        Ok(id) => Some(Named::Product(ProductId(id))),
        Err(_) => {
            errors.push(FieldError::new(field, "must be a 24-character hex id"));
            None
        }
    }
}

impl LineBody {
    fn validate(&self, allowed: RangeInclusive<i64>) -> Result<(Named, i64)> {
        let mut errors = Vec::new();
        let target = named(
            self.product_id.as_deref(),
            self.variant_id.as_deref(),
            &mut errors,
        );
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
        match (target, quantity) {
            (Some(t), Some(q)) => Ok((t, q)),
            _ => Err(Error::validation(errors)),
        }
    }
}

impl RemoveBody {
    fn validate(&self) -> Result<Named> {
        let mut errors = Vec::new();
        named(
            self.product_id.as_deref(),
            self.variant_id.as_deref(),
            &mut errors,
        )
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

fn quantity_in(cart: Option<&Cart>, variant_id: VariantId) -> Option<i64> {
    cart?
        .items
        .iter()
        .find(|l| l.variant_id == variant_id)
        .map(|l| l.quantity)
}

/// The stored line of this variant. A line added before variants has no `variantId` and
/// names its product's single variant, whose id is the product's: `null` matches it too.
fn line_of(product_id: ProductId, variant_id: VariantId) -> Document {
    if variant_id == VariantId::from(product_id) {
        doc! { "productId": product_id, "variantId": { "$in": [variant_id, Bson::Null] } }
    } else {
        doc! { "productId": product_id, "variantId": variant_id }
    }
}

/// `line_of` as an array filter named `line`.
fn line_filter(product_id: ProductId, variant_id: VariantId) -> Document {
    line_of(product_id, variant_id)
        .into_iter()
        .map(|(k, v)| (format!("line.{k}"), v))
        .collect()
}

/// The active product that sells what the body names: a variant (of any product, or a
/// product stored before variants, whose single variant has its id), or a product.
fn product_filter(target: Named) -> Document {
    match target {
        Named::Product(p) => doc! { "_id": p, "isActive": true },
        Named::Variant(v) => doc! {
            "isActive": true,
            "$or": [
                { "variants._id": v },
                { "_id": v.oid(), "variants": { "$exists": false } },
            ],
        },
    }
}

/// The variant a shopper can be sold: the one named, active, or the product's one active
/// variant. `404 PRODUCT_NOT_FOUND`, or `422 VARIANT_REQUIRED` for a product with several.
fn variant_to_sell(product: Option<&Product>, target: Named) -> Result<(Product, Variant)> {
    let product = product.ok_or_else(|| not_found(target))?;
    let variant = match target {
        Named::Variant(v) => product.variant(v).filter(|v| v.is_active),
        Named::Product(_) => {
            let active = product.variants().iter().filter(|v| v.is_active).count();
            if active > 1 {
                return Err(variant_required(product));
            }
            product.only_active_variant()
        }
    };
    let variant = variant.ok_or_else(|| not_found(target))?;
    Ok((product.clone(), variant))
}

fn not_found(target: Named) -> Error {
    let detail = match target {
        Named::Product(p) => format!("No product {p}"),
        Named::Variant(v) => format!("No product variant {v}"),
    };
    Error::new(ProblemCode::ProductNotFound, detail)
}

fn not_in_cart(target: Named) -> Error {
    let detail = match target {
        Named::Product(p) => format!("Product {p} is not in the cart"),
        Named::Variant(v) => format!("Variant {v} is not in the cart"),
    };
    Error::new(ProblemCode::NotInCart, detail)
}

/// The cart's line of what the body names: by variant, or the one line of a product
/// (`422 VARIANT_REQUIRED` when the cart holds several of its variants).
fn line_in(cart: Option<&Cart>, target: Named) -> Result<Option<(ProductId, VariantId)>> {
    let Some(cart) = cart else {
        return Ok(None);
    };
    let mut lines = cart.items.iter().filter(|l| match target {
        Named::Variant(v) => l.variant_id == v,
        Named::Product(p) => l.product_id == p,
    });
    match (lines.next(), lines.next()) {
        (None, _) => Ok(None),
        (Some(l), None) => Ok(Some((l.product_id, l.variant_id))),
        (Some(l), Some(_)) => Err(Error::new(
            ProblemCode::VariantRequired,
            format!(
                "The cart holds several variants of '{}': name the line by variantId",
                l.name
            ),
        )
        .with("productId", l.product_id.to_hex())),
    }
}

/// Why a line of `variant` cannot hold `wanted` items, if it cannot. The per-line limit is
/// reported first: it holds whatever the stock, so it is the answer that stays true.
fn refusal(product: &Product, variant: &Variant, wanted: i64) -> Option<Error> {
    let name = variant.display_name(&product.name);
    if wanted > MAX_QUANTITY_PER_LINE {
        return Some(Error::new(
            ProblemCode::CartLimit,
            format!("A cart holds at most {MAX_QUANTITY_PER_LINE} of '{name}'"),
        ));
    }
    let stock = variant.stock.max(0);
    if wanted > stock {
        let detail = if stock == 0 {
            format!("'{name}' is out of stock")
        } else {
            format!("Only {stock} of '{name}' left")
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
    let (target, quantity) = body.validate(1..=MAX_QUANTITY_PER_LINE)?;
    let (product, mut cart) = product_and_cart(&db, target, &user).await?;
    let (product, variant) = variant_to_sell(product.as_ref(), target)?;
    // The read above decides which single write to try; each write is guarded by what it
    // assumed, so a change by another request in between makes it miss, never overshoot,
    // and the loop decides again from the cart as it is then.
    for _ in 0..MAX_ADD_ATTEMPTS {
        let held = quantity_in(cart.as_ref(), variant.id);
        if let Some(e) = refusal(&product, &variant, held.unwrap_or(0) + quantity) {
            return Err(e);
        }
        let line = (&product, &variant);
        let written = match &cart {
            None => create_with_line(&db, &user, line, quantity).await?,
            Some(_) if held.is_some() => add_to_line(&db, &user, line, quantity).await?,
            Some(c) if c.items.len() >= MAX_LINES => return Err(too_many_lines()),
            Some(_) => push_line(&db, &user, line, quantity).await?,
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
    target: Named,
    user: &User,
) -> Result<(Option<Product>, Option<Cart>)> {
    // Carts first: there are many more carts than products (see `find_one_each`).
    let [cart, product] = db
        .find_one_each([
            (CARTS, doc! { "userId": user.id.as_str() }),
            (PRODUCTS, product_filter(target)),
        ])
        .await?;
    let product = product.map(from_document::<Product>).transpose()?;
    let cart = cart.map(from_document::<Cart>).transpose()?;
    Ok((product, cart))
}

/// What a line snapshots of its variant; `variantId` too, so a line added before variants
/// names its variant from its next write on.
fn snapshot((product, variant): (&Product, &Variant)) -> Document {
    doc! {
        "variantId": variant.id,
        "sku": &variant.sku,
        "name": &product.name,
        "variantTitle": &variant.title,
        "price": variant.price.get(),
        "image": variant.image.clone().or_else(|| product.images.first().cloned()),
    }
}

fn new_line(line: (&Product, &Variant), quantity: i64) -> Document {
    let mut doc = doc! { "productId": line.0.id };
    doc.extend(snapshot(line));
    doc.insert("quantity", quantity);
    doc
}

/// A first add: the cart is created holding the line. A duplicate key means another
/// request created the cart first, and the loop goes on with that cart.
async fn create_with_line(
    db: &Db,
    user: &User,
    line: (&Product, &Variant),
    quantity: i64,
) -> Result<Option<Cart>> {
    let t = now();
    let cart = doc! {
        "userId": user.id.as_str(),
        "items": [new_line(line, quantity)],
        "createdAt": t,
        "updatedAt": t,
    };
    match db.docs(CARTS).insert_one(&cart).await {
        Ok(_) => Ok(Some(from_document(cart)?)),
        Err(e) if is_duplicate_key(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Adds to the variant's line, if it still has room for `quantity` under both the per-line
/// limit and the stock as the catalog shows it now (orders reserve stock for real later).
/// Re-snapshots the line: the shopper is adding at today's price.
async fn add_to_line(
    db: &Db,
    user: &User,
    line: (&Product, &Variant),
    quantity: i64,
) -> Result<Option<Cart>> {
    let (product, variant) = line;
    let room = variant.stock.min(MAX_QUANTITY_PER_LINE) - quantity;
    let mut this_line = line_of(product.id, variant.id);
    this_line.insert("quantity", doc! { "$lte": room });
    let mut set: Document = snapshot(line)
        .into_iter()
        .map(|(k, v)| (format!("items.$[line].{k}"), v))
        .collect();
    set.insert("updatedAt", now());
    Ok(db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! { "userId": user.id.as_str(), "items": { "$elemMatch": this_line } },
            doc! { "$inc": { "items.$[line].quantity": quantity }, "$set": set },
        )
        .array_filters(vec![line_filter(product.id, variant.id)])
        .return_document(ReturnDocument::After)
        .await?)
}

/// Pushes a new line, if the cart has none for the variant and room for one more line.
/// Never an upsert, so "no document" can only mean "the filter did not match"; an upsert
/// racing the unique userId index may be retried server-side and leave us unable to tell
/// whether it applied.
async fn push_line(
    db: &Db,
    user: &User,
    line: (&Product, &Variant),
    quantity: i64,
) -> Result<Option<Cart>> {
    let mut has_no_line_yet = doc! {
        "userId": user.id.as_str(),
        "items": { "$not": { "$elemMatch": line_of(line.0.id, line.1.id) } },
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
                "$push": { "items": new_line(line, quantity) },
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
    let (target, quantity) = body.validate(0..=MAX_QUANTITY_PER_LINE)?;
    let cart = load(&db, &user).await?;
    let (product_id, variant_id) =
        line_in(cart.as_ref(), target)?.ok_or_else(|| not_in_cart(target))?;
    let carts = db.collection::<Cart>(CARTS);
    let in_cart = doc! {
        "userId": user.id.as_str(),
        "items": { "$elemMatch": line_of(product_id, variant_id) },
    };
    if quantity == 0 {
        return carts
            .find_one_and_update(
                in_cart,
                doc! {
                    "$pull": { "items": line_of(product_id, variant_id) },
                    "$set": { "updatedAt": now() },
                },
            )
            .return_document(ReturnDocument::After)
            .await?
            .map(|c| view(&rates, &c))
            .ok_or_else(|| not_in_cart(target));
    }
    let product = db
        .collection::<Product>(PRODUCTS)
        .find_one(doc! { "_id": product_id, "isActive": true })
        .await?;
    let (product, variant) = variant_to_sell(product.as_ref(), Named::Variant(variant_id))?;
    if let Some(e) = refusal(&product, &variant, quantity) {
        return Err(e);
    }
    carts
        .find_one_and_update(
            in_cart,
            doc! { "$set": { "items.$[line].quantity": quantity, "updatedAt": now() } },
        )
        .array_filters(vec![line_filter(product_id, variant_id)])
        .return_document(ReturnDocument::After)
        .await?
        .map(|c| view(&rates, &c))
        .ok_or_else(|| not_in_cart(target))
}

async fn remove(
    State(db): State<Db>,
    user: User,
    rates: Rates,
    common::platform::http::Json(body): common::platform::http::Json<RemoveBody>,
) -> Result<Json<CartView>> {
    let target = body.validate()?;
    let cart = load(&db, &user).await?;
    let Some((product_id, variant_id)) = line_in(cart.as_ref(), target)? else {
        // Removing what is not there is already done; the client just gets the cart.
        return Ok(view(
            &rates,
            &cart.unwrap_or_else(|| Cart::empty(user.id.as_str())),
        ));
    };
    let removed = db
        .collection::<Cart>(CARTS)
        .find_one_and_update(
            doc! { "userId": user.id.as_str() },
            doc! {
                "$pull": { "items": line_of(product_id, variant_id) },
                "$set": { "updatedAt": now() },
            },
        )
        .return_document(ReturnDocument::After)
        .await?;
    match removed {
        Some(cart) => Ok(view(&rates, &cart)),
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
