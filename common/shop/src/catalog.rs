//! Catalog writes: creating and changing products, and every change of a
//! product's stock together with its ledger entry. Used by `admin-ship` (HTTP routes and
//! direct invocations), by checkout and cancellation, and by `make seed`.
//!
//! Stock is never set, only moved: each move is a conditional `$inc` (never below zero)
//! and one `stock_movements` entry in the same transaction, so for every product the
//! ledger sums to its stock.

mod import_writes;
mod product;

pub use import_writes::{
    insert_imported_product, update_imported_product, ImportedUpdate, VariantChange, IMPORTED_STOCK,
};
pub use product::{
    legacy_sku, DimensionsCm, PriceRange, Product, ProductOption, ProductView, Variant,
    VariantView, DEFAULT_VARIANT_TITLE, MAX_OPTIONS, MAX_OPTION_VALUES,
};

use crate::tax::{GstRate, Hsn};
use crate::vocabulary::ids::{OrderId, ProductId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::{now, rfc3339};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, retry_transaction, Db, IndexSpec};
use platform::error::{Error, FieldError, Result};
use platform::problem_codes::ProblemCode;
use platform::text::{self, Rule};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The products, one document per slug.
pub const PRODUCTS: &str = "products";
/// One entry per change of a product's stock, written in the transaction of the change.
pub const STOCK_MOVEMENTS: &str = "stock_movements";

pub fn indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::unique(PRODUCTS, doc! { "slug": 1 }),
        IndexSpec::plain(PRODUCTS, doc! { "isActive": 1, "_id": -1 }),
        IndexSpec::plain(STOCK_MOVEMENTS, doc! { "productId": 1, "at": -1 }),
    ]
}

/// Units a product may hold, and the most one adjustment may move.
pub const MAX_STOCK: i64 = 1_000_000;
/// The most paise any amount the owner types may be (₹10 crore): far above any brassware
/// price, and far below 2^53, so every client (JavaScript's numbers included) reads it exactly.
pub const MAX_PAISE: i64 = 10_000_000_000;
/// The most uses a coupon limit may name; a larger one means "no limit", which is `null`.
pub const MAX_USES: i64 = 1_000_000_000;

/// True for `brass-diya-large`: lower-case ASCII words joined by single hyphens. Anything
/// else (unicode look-alikes, spaces, operators) can never name a product.
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 80
        && s.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Tells a field sent as `null` (`Some(None)`, "clear it") from a field not sent (`None`,
/// "keep it").
pub(crate) fn present<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A new product (`POST /admin/products`) or an `upsertProduct` by slug. Every field is
/// optional here so that every missing one is named at once; which are required depends on
/// whether the slug is new.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default)]
    pub images: Option<Vec<String>>,
    #[serde(default)]
    pub stock: Option<i64>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub hsn: Option<String>,
    #[serde(default)]
    pub gst_rate: Option<i64>,
}

/// `PATCH /admin/products/{id}`: only the fields named change.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub price: Option<i64>,
    #[serde(default)]
    pub images: Option<Vec<String>>,
    #[serde(default)]
    pub is_active: Option<bool>,
    #[serde(default)]
    pub hsn: Option<String>,
    #[serde(default)]
    pub gst_rate: Option<i64>,
    /// Accepted by the parser only to be refused with a message naming the stock route,
    /// instead of a bare "unknown field".
    #[serde(default)]
    pub stock: Option<Value>,
}

pub(crate) fn check(errors: &mut Vec<FieldError>, ok: bool, field: &str, message: &str) {
    if !ok {
        errors.push(FieldError::new(field, message));
    }
}

fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 2048
        && !s.chars().any(char::is_whitespace)
}

/// The fields a creation, an upsert and a patch share, validated into the `$set` of the
/// write: only the fields given appear in it.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    description: Option<String>,
    price: Option<i64>,
    images: Option<Vec<String>>,
    is_active: Option<bool>,
    hsn: Option<String>,
    gst_rate: Option<i64>,
}

impl Fields {
    fn validate(self, errors: &mut Vec<FieldError>) -> Document {
        let mut set = Document::new();
        // The shop, the cart, the order, the mail and the invoice print these: the rule for
        // every text a person reads.
        if let Some(name) = self.name {
            let name = text::field(errors, "name", Some(&name), Rule::line(200));
            set.insert("name", name.unwrap_or_default());
        }
        if let Some(description) = self.description {
            let description = text::field(
                errors,
                "description",
                Some(&description),
                Rule::paragraphs(5000),
            );
            set.insert("description", description.unwrap_or_default());
        }
        if let Some(price) = self.price {
            check(
                errors,
                (100..=MAX_PAISE).contains(&price),
                "price",
                "must be paise from 100 to 10,00,00,000.00",
            );
            set.insert("price", price);
        }
        if let Some(images) = self.images {
            check(errors, images.len() <= 10, "images", "at most 10 images");
            for (i, url) in images.iter().enumerate() {
                check(
                    errors,
                    is_http_url(url),
                    &format!("images[{i}]"),
                    "must be an http(s) URL",
                );
            }
            set.insert("images", images);
        }
        if let Some(active) = self.is_active {
            set.insert("isActive", active);
        }
        if let Some(raw) = self.hsn {
            match Hsn::parse("hsn", &raw) {
                Ok(hsn) => {
                    set.insert("hsn", hsn.as_str());
                }
                Err(e) => errors.push(e),
            }
        }
        if let Some(bps) = self.gst_rate {
            match GstRate::parse("gstRate", bps) {
                Ok(rate) => {
                    set.insert("gstRate", i64::from(rate));
                }
                Err(e) => errors.push(e),
            }
        }
        set
    }
}

fn required(errors: &mut Vec<FieldError>, missing: bool, field: &str) {
    if missing {
        errors.push(FieldError::new(field, "is required"));
    }
}

fn slug_field(errors: &mut Vec<FieldError>, slug: Option<&str>) -> String {
    match slug {
        None => {
            errors.push(FieldError::new("slug", "is required"));
            String::new()
        }
        Some(s) => {
            check(
                errors,
                is_valid_slug(s),
                "slug",
                "must be lower-case words joined by '-', at most 80",
            );
            s.to_owned()
        }
    }
}

fn stock_field(errors: &mut Vec<FieldError>, stock: Option<i64>) -> i64 {
    match stock {
        None => {
            errors.push(FieldError::new("stock", "is required"));
            0
        }
        Some(n) => {
            check(
                errors,
                (0..=MAX_STOCK).contains(&n),
                "stock",
                "must be 0 to 1,000,000",
            );
            n
        }
    }
}

fn product_not_found() -> Error {
    Error::new(ProblemCode::ProductNotFound, "No such product")
}

fn slug_taken(slug: &str) -> Error {
    Error::new(
        ProblemCode::SlugTaken,
        format!("A product with the slug '{slug}' already exists"),
    )
}

/// Splits a creation input into its validated parts; `errors` collects every problem.
fn creation(errors: &mut Vec<FieldError>, input: ProductInput) -> (String, i64, Document) {
    let slug = slug_field(errors, input.slug.as_deref());
    required(errors, input.name.is_none(), "name");
    required(errors, input.price.is_none(), "price");
    required(errors, input.hsn.is_none(), "hsn");
    required(errors, input.gst_rate.is_none(), "gstRate");
    let stock = stock_field(errors, input.stock);
    let mut set = Fields {
        name: input.name,
        description: Some(input.description.unwrap_or_default()),
        price: input.price,
        images: Some(input.images.unwrap_or_default()),
        is_active: Some(input.is_active.unwrap_or(true)),
        hsn: input.hsn,
        gst_rate: input.gst_rate,
    }
    .validate(errors);
    set.insert("slug", slug.as_str());
    (slug, stock, set)
}

/// Inserts a validated new product and its opening ledger entry in the caller's
/// transaction. `Ok(None)` when the slug is already taken.
async fn insert_in(
    db: &Db,
    session: &mut ClientSession,
    mut product: Document,
    stock: i64,
    by: &str,
) -> Result<Option<Product>> {
    let id = ProductId::new();
    let t = now();
    product.insert("_id", id);
    product.insert("stock", 0_i64);
    product.insert("createdAt", t);
    product.insert("updatedAt", t);
    match db
        .docs(PRODUCTS)
        .insert_one(product)
        .session(&mut *session)
        .await
    {
        Ok(_) => {}
        Err(e) if is_duplicate_key(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // Inserted at zero and moved up, so the initial stock is a ledger entry like any other.
    move_stock_in(db, session, id, stock, "initial stock", None, by).await?;
    load_in(db, session, id).await.map(Some)
}

/// `POST /admin/products`: a new product, or `409 SLUG_TAKEN`.
pub async fn create_product(db: &Db, input: ProductInput, by: &str) -> Result<Product> {
    let mut errors = Vec::new();
    let (slug, stock, set) = creation(&mut errors, input);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    platform::transaction!(db, |session| {
        insert_in(db, session, set.clone(), stock, by)
            .await?
            .ok_or_else(|| slug_taken(&slug))
    })
}

/// `upsertProduct`: creates the product with its initial stock, or changes only the fields
/// named on the product that has this slug. Stock of an existing product only moves
/// (`adjustStock`), so naming it there is refused.
pub async fn upsert_product(db: &Db, input: ProductInput, by: &str) -> Result<Product> {
    // What is wrong whether or not the slug exists is reported before looking.
    let mut errors = Vec::new();
    let slug = slug_field(&mut errors, input.slug.as_deref());
    if input.stock.is_some() {
        stock_field(&mut errors, input.stock);
    }
    fields_of(&input).validate(&mut errors);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    platform::transaction!(db, |session| {
        let existing = db
            .collection::<Product>(PRODUCTS)
            .find_one(doc! { "slug": &slug })
            .session(&mut *session)
            .await?;
        match existing {
            None => {
                let mut errors = Vec::new();
                let (_, stock, set) = creation(&mut errors, input.clone());
                if !errors.is_empty() {
                    return Err(Error::validation(errors));
                }
                // A concurrent upsert created it first: run again and update theirs.
                insert_in(db, session, set, stock, by)
                    .await?
                    .ok_or_else(retry_transaction)
            }
            Some(product) => {
                let mut errors = Vec::new();
                check(
                    &mut errors,
                    input.stock.is_none(),
                    "stock",
                    "an existing product's stock only moves: use the adjustStock action",
                );
                let set = fields_of(&input).validate(&mut errors);
                if !errors.is_empty() {
                    return Err(Error::validation(errors));
                }
                update_in(db, session, product.id, set).await
            }
        }
    })
}

fn fields_of(i: &ProductInput) -> Fields {
    Fields {
        name: i.name.clone(),
        description: i.description.clone(),
        price: i.price,
        images: i.images.clone(),
        is_active: i.is_active,
        hsn: i.hsn.clone(),
        gst_rate: i.gst_rate,
    }
}

async fn update_in(
    db: &Db,
    session: &mut ClientSession,
    id: ProductId,
    mut set: Document,
) -> Result<Product> {
    if set.is_empty() {
        return load_in(db, session, id).await;
    }
    set.insert("updatedAt", now());
    db.collection::<Product>(PRODUCTS)
        .find_one_and_update(doc! { "_id": id }, doc! { "$set": set })
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?
        .ok_or_else(product_not_found)
}

async fn load_in(db: &Db, session: &mut ClientSession, id: ProductId) -> Result<Product> {
    db.collection::<Product>(PRODUCTS)
        .find_one(doc! { "_id": id })
        .session(&mut *session)
        .await?
        .ok_or_else(product_not_found)
}

/// `PATCH /admin/products/{id}`.
pub async fn patch_product(db: &Db, id: ProductId, patch: ProductPatch) -> Result<Product> {
    let mut errors = Vec::new();
    check(
        &mut errors,
        patch.stock.is_none(),
        "stock",
        "stock only moves: use POST /admin/products/{id}/stock",
    );
    let set = Fields {
        name: patch.name,
        description: patch.description,
        price: patch.price,
        images: patch.images,
        is_active: patch.is_active,
        hsn: patch.hsn,
        gst_rate: patch.gst_rate,
    }
    .validate(&mut errors);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    platform::transaction!(db, |session| {
        update_in(db, session, id, set.clone()).await
    })
}

/// One entry of a product's stock ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockMovement {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub product_id: ProductId,
    pub delta: i64,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub by: String,
    pub at: DateTime,
    pub stock_after: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockMovementView {
    pub id: String,
    pub product_id: String,
    pub delta: i64,
    pub reason: String,
    pub order_id: Option<String>,
    pub by: String,
    pub at: String,
    pub stock_after: i64,
}

impl From<StockMovement> for StockMovementView {
    fn from(m: StockMovement) -> Self {
        StockMovementView {
            id: m.id.to_hex(),
            product_id: m.product_id.to_hex(),
            delta: m.delta,
            reason: m.reason,
            order_id: m.order_id.map(|o| o.to_hex()),
            by: m.by,
            at: rfc3339(m.at),
            stock_after: m.stock_after,
        }
    }
}

/// A stock move, for [`try_move_stock_in`].
#[derive(Debug, Clone, Copy)]
pub struct StockMove<'a> {
    pub product_id: ProductId,
    pub delta: i64,
    pub reason: &'a str,
    pub order_id: Option<OrderId>,
    pub by: &'a str,
}

/// Moves a product's stock by `delta` and writes its ledger entry, in the caller's
/// transaction. `Ok(None)`, with nothing written, when the product does not exist, the move
/// would take it below zero, or `only_active` is set and the product is inactive.
pub async fn try_move_stock_in(
    db: &Db,
    session: &mut ClientSession,
    mv: &StockMove<'_>,
    only_active: bool,
) -> Result<Option<StockMovement>> {
    let mut filter = doc! { "_id": mv.product_id };
    if mv.delta < 0 {
        // Callers pass validated deltas; should one ever slip through unchecked, i64::MIN has
        // no negation, and no product holds that many units anyway.
        let Some(needed) = mv.delta.checked_neg() else {
            return Ok(None);
        };
        filter.insert("stock", doc! { "$gte": needed });
    }
    if only_active {
        filter.insert("isActive", true);
    }
    let Some(after) = db
        .docs(PRODUCTS)
        .find_one_and_update(filter, doc! { "$inc": { "stock": mv.delta } })
        .projection(doc! { "stock": 1 })
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?
    else {
        return Ok(None);
    };
    let stock_after = match after.get("stock") {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(f)) => *f as i64,
        _ => mv.delta,
    };
    let movement = StockMovement {
        id: ObjectId::new(),
        product_id: mv.product_id,
        delta: mv.delta,
        reason: mv.reason.to_owned(),
        order_id: mv.order_id,
        by: mv.by.to_owned(),
        at: now(),
        stock_after,
    };
    db.collection::<StockMovement>(STOCK_MOVEMENTS)
        .insert_one(&movement)
        .session(&mut *session)
        .await?;
    Ok(Some(movement))
}

/// One line of a checkout's stock take: the product, how many, and the price the shopper
/// saw for it.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutTake {
    pub product_id: ProductId,
    pub quantity: i64,
    pub price: Paise,
}

/// Checkout's stock take, in the caller's transaction, in one round trip per line plus one
/// for the whole ledger: each product's stock goes down only while it is active, taxable
/// (an HSN code and a GST rate), has the stock, and still costs what the shopper saw. Returns the products as they are after the
/// take, or `Ok(None)` as soon as a line does not match — the caller must then abort the
/// transaction, since the lines before it were taken.
pub async fn take_for_checkout_in(
    db: &Db,
    session: &mut ClientSession,
    lines: &[CheckoutTake],
    order_id: OrderId,
    by: &str,
) -> Result<Option<Vec<Product>>> {
    let mut taken = Vec::with_capacity(lines.len());
    let mut movements = Vec::with_capacity(lines.len());
    for line in lines {
        let Some(product) = db
            .collection::<Product>(PRODUCTS)
            .find_one_and_update(
                doc! {
                    "_id": line.product_id,
                    "isActive": true,
                    "hsn": { "$ne": null },
                    "gstRate": { "$ne": null },
                    "stock": { "$gte": line.quantity },
                    "price": line.price.get(),
                },
                doc! { "$inc": { "stock": -line.quantity } },
            )
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await?
        else {
            return Ok(None);
        };
        movements.push(StockMovement {
            id: ObjectId::new(),
            product_id: line.product_id,
            delta: -line.quantity,
            reason: CHECKOUT.to_owned(),
            order_id: Some(order_id),
            by: by.to_owned(),
            at: now(),
            stock_after: product.total_stock(),
        });
        taken.push(product);
    }
    if !movements.is_empty() {
        db.collection::<StockMovement>(STOCK_MOVEMENTS)
            .insert_many(&movements)
            .session(&mut *session)
            .await?;
    }
    Ok(Some(taken))
}

/// The ledger reason of stock taken by an order.
pub const CHECKOUT: &str = "checkout";

/// Moves a product's stock by `delta` (never below zero) and writes its ledger entry, in
/// the caller's transaction; returns the stock after the move. `404 PRODUCT_NOT_FOUND` or
/// `409 STOCK_WOULD_GO_NEGATIVE`, with nothing changed, otherwise.
pub async fn move_stock_in(
    db: &Db,
    session: &mut ClientSession,
    product_id: ProductId,
    delta: i64,
    reason: &str,
    order_id: Option<OrderId>,
    by: &str,
) -> Result<i64> {
    let mv = StockMove {
        product_id,
        delta,
        reason,
        order_id,
        by,
    };
    Ok(move_or_refuse_in(db, session, &mv).await?.stock_after)
}

async fn move_or_refuse_in(
    db: &Db,
    session: &mut ClientSession,
    mv: &StockMove<'_>,
) -> Result<StockMovement> {
    let (product_id, delta) = (mv.product_id, mv.delta);
    if let Some(m) = try_move_stock_in(db, session, mv, false).await? {
        return Ok(m);
    }
    let current = load_in(db, session, product_id).await?;
    Err(Error::new(
        ProblemCode::StockWouldGoNegative,
        format!(
            "'{}' has {} in stock; removing {} would go below zero",
            current.name,
            current.total_stock(),
            delta.unsigned_abs()
        ),
    )
    .with("stock", current.total_stock()))
}

/// The reason of the entry that gives a product stored before the ledger existed its
/// opening balance.
pub const OPENING_BALANCE: &str = "opening balance (stock before the ledger)";

/// Gives every product whose ledger does not sum to its stock (products stored before the
/// ledger existed) one entry making up the difference, so the invariant holds for old
/// products too. Returns how many products it opened; running it again finds none.
pub async fn open_stock_ledgers(db: &Db, by: &str) -> Result<usize> {
    use futures::TryStreamExt;
    let ids: Vec<ProductId> = db
        .docs(PRODUCTS)
        .find(doc! {})
        .projection(doc! { "_id": 1 })
        .await?
        .try_collect::<Vec<Document>>()
        .await?
        .iter()
        .filter_map(|d| d.get_object_id("_id").ok().map(ProductId))
        .collect();
    let mut opened = 0;
    for id in ids {
        let wrote = platform::transaction!(db, |session| {
            let stock = load_in(db, session, id).await?.total_stock();
            let mut sums = db
                .docs(STOCK_MOVEMENTS)
                .aggregate([
                    doc! { "$match": { "productId": id } },
                    doc! { "$group": { "_id": null, "sum": { "$sum": "$delta" } } },
                ])
                .session(&mut *session)
                .await?;
            let sum = match sums.next(&mut *session).await.transpose()? {
                Some(d) => match d.get("sum") {
                    Some(Bson::Int64(n)) => *n,
                    Some(Bson::Int32(n)) => i64::from(*n),
                    _ => 0,
                },
                None => 0,
            };
            drop(sums);
            if sum == stock {
                return Ok(false);
            }
            // Writing the product makes a stock move racing this one conflict and retry,
            // so the difference is taken from one consistent view of stock and ledger.
            db.docs(PRODUCTS)
                .update_one(
                    doc! { "_id": id },
                    doc! { "$set": { "stockLedgerOpenedAt": now() } },
                )
                .session(&mut *session)
                .await?;
            let entry = StockMovement {
                id: ObjectId::new(),
                product_id: id,
                delta: stock - sum,
                reason: OPENING_BALANCE.to_owned(),
                order_id: None,
                by: by.to_owned(),
                at: now(),
                stock_after: stock,
            };
            db.collection::<StockMovement>(STOCK_MOVEMENTS)
                .insert_one(&entry)
                .session(&mut *session)
                .await?;
            Ok(true)
        });
        match wrote {
            Ok(true) => opened += 1,
            Ok(false) => {}
            // A product deleted meanwhile has no ledger to open.
            Err(e)
                if e.code() == platform::problem_codes::ProblemCode::ProductNotFound.as_str() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(opened)
}

/// Names a product by id or by slug, as the direct `adjustStock` action allows.
#[derive(Debug, Clone)]
pub enum ProductRef {
    Id(ProductId),
    Slug(String),
}

/// Checks an owner's adjustment; every problem is named at once.
pub fn validate_adjustment(delta: Option<i64>, reason: Option<&str>) -> Result<(i64, String)> {
    let mut errors = Vec::new();
    let delta = match delta {
        None => {
            errors.push(FieldError::new("delta", "is required"));
            0
        }
        Some(d) => {
            check(
                &mut errors,
                // A range test, not `d.abs()`: the absolute value of i64::MIN overflows.
                d != 0 && (-MAX_STOCK..=MAX_STOCK).contains(&d),
                "delta",
                "must be a non-zero whole number of units, at most 1,000,000 either way",
            );
            d
        }
    };
    // The ledger shows the reason to whoever reads it later.
    let reason = text::field(&mut errors, "reason", reason, Rule::line(200)).unwrap_or_default();
    if errors.is_empty() {
        Ok((delta, reason))
    } else {
        Err(Error::validation(errors))
    }
}

/// The owner adds or removes units: atomically, never below zero, with its ledger entry.
pub async fn adjust_stock(
    db: &Db,
    product: &ProductRef,
    delta: i64,
    reason: &str,
    by: &str,
) -> Result<(Product, StockMovement)> {
    platform::transaction!(db, |session| {
        let filter = match product {
            ProductRef::Id(id) => doc! { "_id": id },
            ProductRef::Slug(slug) if is_valid_slug(slug) => doc! { "slug": slug },
            ProductRef::Slug(_) => return Err(product_not_found()),
        };
        let found = db
            .collection::<Product>(PRODUCTS)
            .find_one(filter)
            .session(&mut *session)
            .await?
            .ok_or_else(product_not_found)?;
        let mv = StockMove {
            product_id: found.id,
            delta,
            reason,
            order_id: None,
            by,
        };
        let movement = move_or_refuse_in(db, session, &mv).await?;
        Ok((load_in(db, session, found.id).await?, movement))
    })
}

/// Paise from a whole-rupee literal, for seed data readability.
pub const fn rupees(r: i64) -> Paise {
    Paise(r * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain_ascii_words() {
        for ok in ["brass-diya", "diya", "a1-b2-c3"] {
            assert!(is_valid_slug(ok), "{ok}");
        }
        for bad in [
            "",
            "Brass",
            "brass--diya",
            "-diya",
            "diya-",
            "bráss",
            "brass diya",
            "diya\u{200b}",
            "{$gt:''}",
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
    }

    fn fields_of(e: Error) -> Vec<String> {
        e.to_problem(None)["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_creation_names_every_missing_field() {
        let mut errors = Vec::new();
        creation(&mut errors, ProductInput::default());
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["slug", "name", "price", "hsn", "gstRate", "stock"]);
    }

    #[test]
    fn adjustments_are_non_zero_and_have_a_reason() {
        assert_eq!(
            validate_adjustment(Some(-3), Some(" damaged ")).unwrap(),
            (-3, "damaged".to_owned())
        );
        assert_eq!(
            fields_of(validate_adjustment(Some(0), Some("  ")).unwrap_err()),
            ["delta", "reason"]
        );
        assert_eq!(
            fields_of(validate_adjustment(Some(MAX_STOCK + 1), Some("x\ny")).unwrap_err()),
            ["delta", "reason"]
        );
        for edge in [i64::MIN, i64::MIN + 1, -MAX_STOCK - 1, i64::MAX] {
            assert_eq!(
                fields_of(validate_adjustment(Some(edge), Some("x")).unwrap_err()),
                ["delta"],
                "{edge}"
            );
        }
        assert!(validate_adjustment(Some(-MAX_STOCK), Some("x")).is_ok());
    }
}
