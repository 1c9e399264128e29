//! Catalog writes: creating and changing products, and every change of a
//! product's stock together with its ledger entry. Used by `admin-ship` (HTTP routes and
//! direct invocations), by checkout and cancellation, and by `make seed`.
//!
//! Stock lives on the variant and is never set, only moved: each move is a conditional
//! `$inc` of one variant (never below zero, in `inc_stock_in`) and one `stock_movements`
//! entry in the same transaction, so for every variant the ledger sums to its stock. A
//! document stored before variants keeps its stock at the top level until the migration
//! rewrites it; the same mover moves it there, as its single variant (id = the product's).

mod import_writes;
mod product;
mod variant_input;

pub use import_writes::{
    imported_field_errors, insert_imported_product, update_imported_product, ImportedUpdate,
    VariantChange, IMPORTED_STOCK,
};
pub use product::{
    display_name, legacy_sku, DimensionsCm, PriceRange, Product, ProductOption, ProductView,
    Variant, VariantView, DEFAULT_VARIANT_TITLE, MAX_OPTIONS, MAX_OPTION_VALUES,
};
use variant_input::{apply, check_options, check_price, check_stock, check_together, new_variant};
pub use variant_input::{generated_sku, is_valid_sku, VariantInput, MAX_VARIANTS};

use crate::tax::{GstRate, Hsn};
use crate::vocabulary::ids::{OrderId, ProductId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::{now, rfc3339};
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, retry_transaction, to_stored, Db, IndexSpec};
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
        // A SKU names one variant in the whole catalog. Partial, so the documents stored
        // before variants (no `variants.sku`) do not all collide on null.
        IndexSpec::unique_where(
            PRODUCTS,
            doc! { "variants.sku": 1 },
            doc! { "variants.sku": { "$type": "string" } },
        ),
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
/// whether the slug is new, and on whether the product has options.
///
/// With `options`, each of `variants` carries its own price and initial stock. Without
/// them, the body of the release before variants (`price`, `stock`, and optionally `sku`,
/// `weightGrams`, `dimensionsCm`) makes the product's single variant, so its clients keep
/// working.
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
    #[serde(default)]
    pub cod_allowed: Option<bool>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub weight_grams: Option<i64>,
    #[serde(default)]
    pub dimensions_cm: Option<DimensionsCm>,
    #[serde(default)]
    pub options: Option<Vec<ProductOption>>,
    #[serde(default)]
    pub variants: Option<Vec<VariantInput>>,
}

/// `PATCH /admin/products/{id}`: only the fields named change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// The price of a product with one variant; a product with more prices each variant.
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
    #[serde(default)]
    pub cod_allowed: Option<bool>,
    /// The same options, in the same order, each keeping every value it had: a value may be
    /// added, never removed (a variant, maybe ordered already, may carry it).
    #[serde(default)]
    pub options: Option<Vec<ProductOption>>,
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

/// The product's own fields a creation, an upsert and a patch share, validated into the
/// `$set` of the write: only the fields given appear in it.
#[derive(Default)]
struct Fields {
    name: Option<String>,
    description: Option<String>,
    images: Option<Vec<String>>,
    is_active: Option<bool>,
    hsn: Option<String>,
    gst_rate: Option<i64>,
    cod_allowed: Option<bool>,
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
        if let Some(cod) = self.cod_allowed {
            set.insert("codAllowed", cod);
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

fn product_not_found() -> Error {
    Error::new(ProblemCode::ProductNotFound, "No such product")
}

fn variant_not_found() -> Error {
    Error::new(
        ProblemCode::ProductNotFound,
        "No such variant of this product",
    )
}

fn slug_taken(slug: &str) -> Error {
    Error::new(
        ProblemCode::SlugTaken,
        format!("A product with the slug '{slug}' already exists"),
    )
}

fn sku_taken(skus: &[String]) -> Error {
    Error::new(
        ProblemCode::SkuTaken,
        format!(
            "Another product already has the SKU {}",
            skus.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .with("skus", skus)
}

/// `422 VARIANT_REQUIRED`: the product has several variants and the caller named none.
pub fn variant_required(product: &Product) -> Error {
    Error::new(
        ProblemCode::VariantRequired,
        format!("'{}' comes in several variants: name one", product.name),
    )
    .with("productId", product.id.to_hex())
}

/// A product's variants and options, validated, at zero stock, with the initial stock of
/// each; `errors` collects every problem.
fn variants_of(
    errors: &mut Vec<FieldError>,
    input: &ProductInput,
) -> (Vec<ProductOption>, Vec<(Variant, i64)>) {
    let options = input.options.clone().unwrap_or_default();
    check_options(errors, &options);
    let made: Vec<(Variant, i64)> = match &input.variants {
        Some(variants) => {
            // Each variant carries these; naming them beside `variants` would say two things.
            for (given, field) in [
                (input.price.is_some(), "price"),
                (input.stock.is_some(), "stock"),
                (input.sku.is_some(), "sku"),
                (input.weight_grams.is_some(), "weightGrams"),
                (input.dimensions_cm.is_some(), "dimensionsCm"),
            ] {
                check(
                    errors,
                    !given,
                    field,
                    "a product with variants sets this on each variant",
                );
            }
            variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    new_variant(
                        errors,
                        &format!("variants[{i}]."),
                        v.clone(),
                        &options,
                        VariantId::new(),
                    )
                })
                .collect()
        }
        None if !options.is_empty() => {
            errors.push(FieldError::new(
                "variants",
                "is required: one variant per combination of option values sold",
            ));
            Vec::new()
        }
        None => {
            let single = VariantInput {
                sku: input.sku.clone(),
                price: input.price,
                stock: input.stock,
                weight_grams: input.weight_grams.map(Some),
                dimensions_cm: input.dimensions_cm.map(Some),
                ..VariantInput::default()
            };
            vec![new_variant(errors, "", single, &options, VariantId::new())]
        }
    };
    let variants: Vec<Variant> = made.iter().map(|(v, _)| v.clone()).collect();
    if input.variants.is_some() || !variants.is_empty() {
        check_together(errors, &variants, |i| {
            if input.variants.is_some() {
                format!("variants[{i}].")
            } else {
                String::new()
            }
        });
    }
    (options, made)
}

/// The lowest price among the active variants (among all when none is active): the
/// top-level `price` kept beside the variants for readers that list products.
fn lowest_price(variants: &[Variant]) -> Paise {
    let active = variants
        .iter()
        .filter(|v| v.is_active)
        .map(|v| v.price)
        .min();
    active
        .or_else(|| variants.iter().map(|v| v.price).min())
        .unwrap_or(Paise::ZERO)
}

/// Splits a creation input into its validated parts; `errors` collects every problem.
fn creation(
    errors: &mut Vec<FieldError>,
    input: ProductInput,
) -> (String, Vec<(VariantId, i64)>, Document) {
    let slug = slug_field(errors, input.slug.as_deref());
    required(errors, input.name.is_none(), "name");
    required(errors, input.hsn.is_none(), "hsn");
    required(errors, input.gst_rate.is_none(), "gstRate");
    let (options, made) = variants_of(errors, &input);
    let mut set = Fields {
        name: input.name,
        description: Some(input.description.unwrap_or_default()),
        images: Some(input.images.unwrap_or_default()),
        is_active: Some(input.is_active.unwrap_or(true)),
        hsn: input.hsn,
        gst_rate: input.gst_rate,
        cod_allowed: Some(input.cod_allowed.unwrap_or(true)),
    }
    .validate(errors);
    let variants: Vec<Variant> = made.iter().map(|(v, _)| v.clone()).collect();
    set.insert("slug", slug.as_str());
    set.insert("price", lowest_price(&variants).get());
    set.insert(
        "options",
        to_stored(&options).unwrap_or(Bson::Array(Vec::new())),
    );
    set.insert(
        "variants",
        to_stored(&variants).unwrap_or(Bson::Array(Vec::new())),
    );
    let stocks = made.into_iter().map(|(v, stock)| (v.id, stock)).collect();
    (slug, stocks, set)
}

/// `409 SKU_TAKEN` when another product holds one of `skus`. The unique index on
/// `variants.sku` is the last word for writes racing this; this names the SKUs.
async fn refuse_taken_skus_in(
    db: &Db,
    session: &mut ClientSession,
    skus: &[String],
    except: Option<ProductId>,
) -> Result<()> {
    let mut filter = doc! { "variants.sku": { "$in": skus } };
    if let Some(id) = except {
        filter.insert("_id", doc! { "$ne": id });
    }
    let Some(other) = db
        .collection::<Product>(PRODUCTS)
        .find_one(filter)
        .session(&mut *session)
        .await?
    else {
        return Ok(());
    };
    let taken: Vec<String> = other
        .variants
        .iter()
        .filter(|v| skus.contains(&v.sku))
        .map(|v| v.sku.clone())
        .collect();
    Err(sku_taken(&taken))
}

/// A duplicate key on a product's write: the slug's or a SKU's index.
fn duplicate(e: &mongodb::error::Error) -> Option<&'static str> {
    if !is_duplicate_key(e) {
        return None;
    }
    Some(if e.to_string().contains("sku") {
        "sku"
    } else {
        "slug"
    })
}

/// Inserts a validated new product and its opening ledger entries in the caller's
/// transaction. `Ok(None)` when the slug is already taken.
async fn insert_in(
    db: &Db,
    session: &mut ClientSession,
    mut product: Document,
    stocks: &[(VariantId, i64)],
    by: &str,
) -> Result<Option<Product>> {
    let id = ProductId::new();
    let t = now();
    product.insert("_id", id);
    product.insert("createdAt", t);
    product.insert("updatedAt", t);
    let skus: Vec<String> = product
        .get_array("variants")
        .map(|vs| {
            vs.iter()
                .filter_map(|v| v.as_document()?.get_str("sku").ok().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // A taken slug first: seeding and upserts treat it as "exists already", which a SKU
    // the existing product holds must not turn into a conflict.
    let slug = product.get_str("slug").unwrap_or_default().to_owned();
    if db
        .docs(PRODUCTS)
        .find_one(doc! { "slug": &slug })
        .projection(doc! { "_id": 1 })
        .session(&mut *session)
        .await?
        .is_some()
    {
        return Ok(None);
    }
    refuse_taken_skus_in(db, session, &skus, None).await?;
    match db
        .docs(PRODUCTS)
        .insert_one(product)
        .session(&mut *session)
        .await
    {
        Ok(_) => {}
        Err(e) if duplicate(&e) == Some("sku") => return Err(sku_taken(&skus)),
        Err(e) if is_duplicate_key(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    // Inserted at zero and moved up, so each initial stock is a ledger entry like any other.
    for (variant_id, stock) in stocks {
        let mv = StockMove {
            product_id: id,
            variant_id: *variant_id,
            delta: *stock,
            reason: "initial stock",
            order_id: None,
            by,
        };
        move_or_refuse_in(db, session, &mv).await?;
    }
    load_in(db, session, id).await.map(Some)
}

/// `POST /admin/products`: a new product, or `409 SLUG_TAKEN` / `409 SKU_TAKEN`.
pub async fn create_product(db: &Db, input: ProductInput, by: &str) -> Result<Product> {
    let mut errors = Vec::new();
    let (slug, stocks, set) = creation(&mut errors, input);
    if !errors.is_empty() {
        return Err(Error::validation(errors));
    }
    platform::transaction!(db, |session| {
        insert_in(db, session, set.clone(), &stocks, by)
            .await?
            .ok_or_else(|| slug_taken(&slug))
    })
}

/// `upsertProduct`: creates the product with its initial stock, or changes only the fields
/// named on the product that has this slug (as `PATCH /admin/products/{id}` does). Stock of
/// an existing product only moves (`adjustStock`), so naming it there is refused.
pub async fn upsert_product(db: &Db, input: ProductInput, by: &str) -> Result<Product> {
    // What is wrong whether or not the slug exists is reported before looking.
    let mut errors = Vec::new();
    let slug = slug_field(&mut errors, input.slug.as_deref());
    fields_of(&input).validate(&mut errors);
    if let Some(price) = input.price {
        check_price(&mut errors, "price", price);
    }
    if let Some(stock) = input.stock {
        check_stock(&mut errors, "stock", stock);
    }
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
                let (_, stocks, set) = creation(&mut errors, input.clone());
                if !errors.is_empty() {
                    return Err(Error::validation(errors));
                }
                // A concurrent upsert created it first: run again and update theirs.
                insert_in(db, session, set, &stocks, by)
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
                for (given, field) in [
                    (input.variants.is_some(), "variants"),
                    (input.sku.is_some(), "sku"),
                    (input.weight_grams.is_some(), "weightGrams"),
                    (input.dimensions_cm.is_some(), "dimensionsCm"),
                ] {
                    check(
                        &mut errors,
                        !given,
                        field,
                        "an existing product's variants change through the variant routes",
                    );
                }
                let patch = ProductPatch {
                    name: input.name.clone(),
                    description: input.description.clone(),
                    price: input.price,
                    images: input.images.clone(),
                    is_active: input.is_active,
                    hsn: input.hsn.clone(),
                    gst_rate: input.gst_rate,
                    cod_allowed: input.cod_allowed,
                    options: input.options.clone(),
                    stock: None,
                };
                let change = patch_of(&mut errors, &product, patch);
                if !errors.is_empty() {
                    return Err(Error::validation(errors));
                }
                change.write_in(db, session, &product).await
            }
        }
    })
}

fn fields_of(i: &ProductInput) -> Fields {
    Fields {
        name: i.name.clone(),
        description: i.description.clone(),
        images: i.images.clone(),
        is_active: i.is_active,
        hsn: i.hsn.clone(),
        gst_rate: i.gst_rate,
        cod_allowed: i.cod_allowed,
    }
}

async fn load_in(db: &Db, session: &mut ClientSession, id: ProductId) -> Result<Product> {
    db.collection::<Product>(PRODUCTS)
        .find_one(doc! { "_id": id })
        .session(&mut *session)
        .await?
        .ok_or_else(product_not_found)
}

/// A validated change of a product: its own fields, and its variants when they change.
struct Change {
    set: Document,
    variants: Option<Vec<Variant>>,
}

impl Change {
    /// Writes the change in the caller's transaction. Variants are written whole, with the
    /// stock read in this transaction (a stock move racing it conflicts and retries), and
    /// with the top-level `price` they imply; a document stored before variants becomes one
    /// with its single variant, its stock moving into it.
    async fn write_in(
        mut self,
        db: &Db,
        session: &mut ClientSession,
        product: &Product,
    ) -> Result<Product> {
        let mut update = Document::new();
        if let Some(variants) = &self.variants {
            let skus: Vec<String> = variants.iter().map(|v| v.sku.clone()).collect();
            refuse_taken_skus_in(db, session, &skus, Some(product.id)).await?;
            self.set.insert("variants", to_stored(variants)?);
            self.set.insert("price", lowest_price(variants).get());
            update.insert("$unset", doc! { "stock": "" });
        }
        if self.set.is_empty() {
            return Ok(product.clone());
        }
        self.set.insert("updatedAt", now());
        update.insert("$set", self.set);
        match db
            .collection::<Product>(PRODUCTS)
            .find_one_and_update(doc! { "_id": product.id }, update)
            .return_document(ReturnDocument::After)
            .session(&mut *session)
            .await
        {
            Ok(found) => found.ok_or_else(product_not_found),
            Err(e) if duplicate(&e).is_some() => Err(sku_taken(
                &self
                    .variants
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| v.sku)
                    .collect::<Vec<_>>(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

/// A patch of `product`, validated against it; `errors` collects every problem.
fn patch_of(errors: &mut Vec<FieldError>, product: &Product, patch: ProductPatch) -> Change {
    check(
        errors,
        patch.stock.is_none(),
        "stock",
        "stock only moves: use POST /admin/products/{id}/stock, or \
         POST /admin/products/{id}/variants/{variantId}/stock for one of several variants",
    );
    let mut variants: Option<Vec<Variant>> = None;
    if let Some(options) = &patch.options {
        check_options(errors, options);
        let same_names = options.len() == product.options.len()
            && options
                .iter()
                .zip(&product.options)
                .all(|(new, old)| new.name == old.name);
        check(
            errors,
            same_names,
            "options",
            "options keep their names and order; only values may be added",
        );
        for (i, (new, old)) in options.iter().zip(&product.options).enumerate() {
            check(
                errors,
                old.values.iter().all(|v| new.values.contains(v)),
                &format!("options[{i}].values"),
                "a value may be added, never removed: deactivate its variants instead",
            );
        }
    }
    if let Some(price) = patch.price {
        let current = product.variants();
        if let [single] = current.as_ref() {
            let mut single = single.clone();
            let input = VariantInput {
                price: Some(price),
                ..VariantInput::default()
            };
            apply(errors, "", &mut single, input, &product.options);
            variants = Some(vec![single]);
        } else {
            errors.push(FieldError::new(
                "price",
                "this product has several variants: set each one's price with \
                 PATCH /admin/products/{id}/variants/{variantId}",
            ));
        }
    }
    let mut set = Fields {
        name: patch.name,
        description: patch.description,
        images: patch.images,
        is_active: patch.is_active,
        hsn: patch.hsn,
        gst_rate: patch.gst_rate,
        cod_allowed: patch.cod_allowed,
    }
    .validate(errors);
    if let Some(options) = patch.options {
        set.insert(
            "options",
            to_stored(&options).unwrap_or(Bson::Array(Vec::new())),
        );
    }
    Change { set, variants }
}

/// `PATCH /admin/products/{id}`.
pub async fn patch_product(db: &Db, id: ProductId, patch: ProductPatch) -> Result<Product> {
    platform::transaction!(db, |session| {
        let product = load_in(db, session, id).await?;
        let mut errors = Vec::new();
        let change = patch_of(&mut errors, &product, patch.clone());
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        change.write_in(db, session, &product).await
    })
}

/// `POST /admin/products/{id}/variants`: a new variant, its initial stock a ledger entry.
pub async fn add_variant(db: &Db, id: ProductId, input: VariantInput, by: &str) -> Result<Product> {
    let variant_id = VariantId::new();
    platform::transaction!(db, |session| {
        let product = load_in(db, session, id).await?;
        let mut errors = Vec::new();
        let (variant, stock) =
            new_variant(&mut errors, "", input.clone(), &product.options, variant_id);
        let mut variants = product.variants().into_owned();
        variants.push(variant);
        let last = variants.len() - 1;
        check_together(&mut errors, &variants, |i| {
            if i == last {
                String::new()
            } else {
                format!("variants[{i}].")
            }
        });
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let change = Change {
            set: Document::new(),
            variants: Some(variants),
        };
        change.write_in(db, session, &product).await?;
        let mv = StockMove {
            product_id: id,
            variant_id,
            delta: stock,
            reason: "initial stock",
            order_id: None,
            by,
        };
        move_or_refuse_in(db, session, &mv).await?;
        load_in(db, session, id).await
    })
}

/// `PATCH /admin/products/{id}/variants/{variantId}`: its price, compare-at price, SKU,
/// weight, dimensions, image or `isActive`; never its stock.
pub async fn patch_variant(
    db: &Db,
    id: ProductId,
    variant_id: VariantId,
    input: VariantInput,
) -> Result<Product> {
    platform::transaction!(db, |session| {
        let product = load_in(db, session, id).await?;
        let mut variants = product.variants().into_owned();
        let i = variants
            .iter()
            .position(|v| v.id == variant_id)
            .ok_or_else(variant_not_found)?;
        let mut errors = Vec::new();
        check(
            &mut errors,
            input.options.is_none(),
            "options",
            "a variant keeps its option values: add a variant for another combination",
        );
        apply(
            &mut errors,
            "",
            &mut variants[i],
            input.clone(),
            &product.options,
        );
        check_together(&mut errors, &variants, |j| {
            if j == i {
                String::new()
            } else {
                format!("variants[{j}].")
            }
        });
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let change = Change {
            set: Document::new(),
            variants: Some(variants),
        };
        change.write_in(db, session, &product).await
    })
}

/// One entry of a variant's stock ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StockMovement {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub product_id: ProductId,
    /// Absent on entries written before variants: see [`StockMovement::variant_id`].
    #[serde(default, rename = "variantId", skip_serializing_if = "Option::is_none")]
    pub stored_variant_id: Option<VariantId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub delta: i64,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
    pub by: String,
    pub at: DateTime,
    pub stock_after: i64,
}

impl StockMovement {
    /// The variant moved; an entry written before variants moved the product's single
    /// variant, whose id is the product's.
    pub fn variant_id(&self) -> VariantId {
        self.stored_variant_id
            .unwrap_or_else(|| VariantId::from(self.product_id))
    }

    fn new(mv: &StockMove<'_>, sku: &str, stock_after: i64) -> Self {
        StockMovement {
            id: ObjectId::new(),
            product_id: mv.product_id,
            stored_variant_id: Some(mv.variant_id),
            sku: Some(sku.to_owned()),
            delta: mv.delta,
            reason: mv.reason.to_owned(),
            order_id: mv.order_id,
            by: mv.by.to_owned(),
            at: now(),
            stock_after,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StockMovementView {
    pub id: String,
    pub product_id: String,
    pub variant_id: String,
    pub sku: Option<String>,
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
            variant_id: m.variant_id().to_hex(),
            sku: m
                .sku
                .clone()
                .or_else(|| (m.stored_variant_id.is_none()).then(|| legacy_sku(m.product_id))),
            delta: m.delta,
            reason: m.reason,
            order_id: m.order_id.map(|o| o.to_hex()),
            by: m.by,
            at: rfc3339(m.at),
            stock_after: m.stock_after,
        }
    }
}

/// A stock move of one variant, for [`try_move_stock_in`].
#[derive(Debug, Clone, Copy)]
pub struct StockMove<'a> {
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub delta: i64,
    pub reason: &'a str,
    pub order_id: Option<OrderId>,
    pub by: &'a str,
}

/// What a move requires of the product and the variant besides enough stock.
#[derive(Debug, Clone, Copy, Default)]
struct Guard {
    /// The product and the variant are active.
    active: bool,
    /// The product has an HSN code and a GST rate.
    taxable: bool,
    /// The variant costs this.
    price: Option<Paise>,
}

/// The one write of a variant's stock: `$inc` by `delta`, never below zero, only while
/// `guard` holds. A document stored before variants keeps its stock at the top level, and
/// its single variant (id = the product's) moves there, so unmigrated products sell on.
/// Returns the product after the move, or `Ok(None)` with nothing written.
async fn inc_stock_in(
    db: &Db,
    session: &mut ClientSession,
    product_id: ProductId,
    variant_id: VariantId,
    delta: i64,
    guard: Guard,
) -> Result<Option<Product>> {
    // Callers pass validated deltas; should one ever slip through unchecked, i64::MIN has
    // no negation, and no variant holds that many units anyway.
    let needed = if delta < 0 {
        match delta.checked_neg() {
            Some(n) => Some(n),
            None => return Ok(None),
        }
    } else {
        None
    };
    let mut product = doc! { "_id": product_id };
    if guard.active {
        product.insert("isActive", true);
    }
    if guard.taxable {
        product.insert("hsn", doc! { "$ne": null });
        product.insert("gstRate", doc! { "$ne": null });
    }
    let mut variant = doc! { "_id": variant_id };
    if let Some(n) = needed {
        variant.insert("stock", doc! { "$gte": n });
    }
    if guard.active {
        variant.insert("isActive", true);
    }
    if let Some(price) = guard.price {
        variant.insert("price", price.get());
    }
    let mut filter = product.clone();
    filter.insert("variants", doc! { "$elemMatch": variant });
    let products = db.collection::<Product>(PRODUCTS);
    // An array filter rather than the positional `$`, which the database's findAndModify
    // does not resolve from an `$elemMatch`; variant ids are unique within a product, so
    // both name the same element.
    let moved = products
        .find_one_and_update(filter, doc! { "$inc": { "variants.$[v].stock": delta } })
        .array_filters(vec![doc! { "v._id": variant_id }])
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?;
    if moved.is_some() || variant_id != VariantId::from(product_id) {
        return Ok(moved);
    }
    let mut legacy = product;
    legacy.insert("variants", doc! { "$exists": false });
    if let Some(n) = needed {
        legacy.insert("stock", doc! { "$gte": n });
    }
    if let Some(price) = guard.price {
        legacy.insert("price", price.get());
    }
    Ok(products
        .find_one_and_update(legacy, doc! { "$inc": { "stock": delta } })
        .return_document(ReturnDocument::After)
        .session(&mut *session)
        .await?)
}

/// Moves a variant's stock by `delta` and writes its ledger entry, in the caller's
/// transaction. `Ok(None)`, with nothing written, when the variant does not exist, the move
/// would take it below zero, or `only_active` is set and the product or variant is inactive.
pub async fn try_move_stock_in(
    db: &Db,
    session: &mut ClientSession,
    mv: &StockMove<'_>,
    only_active: bool,
) -> Result<Option<StockMovement>> {
    let guard = Guard {
        active: only_active,
        ..Guard::default()
    };
    let Some(after) =
        inc_stock_in(db, session, mv.product_id, mv.variant_id, mv.delta, guard).await?
    else {
        return Ok(None);
    };
    let variant = after.variant(mv.variant_id).ok_or_else(variant_not_found)?;
    let movement = StockMovement::new(mv, &variant.sku, variant.stock);
    db.collection::<StockMovement>(STOCK_MOVEMENTS)
        .insert_one(&movement)
        .session(&mut *session)
        .await?;
    Ok(Some(movement))
}

/// One line of a checkout's stock take: the variant, how many, and the price the shopper
/// saw for it.
#[derive(Debug, Clone, Copy)]
pub struct CheckoutTake {
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub quantity: i64,
    pub price: Paise,
}

/// Checkout's stock take, in the caller's transaction, in one round trip per line plus one
/// for the whole ledger: each variant's stock goes down only while it and its product are
/// active, the product is taxable (an HSN code and a GST rate), the variant has the stock,
/// and it still costs what the shopper saw. Returns the products as they are after the
/// take, or `Ok(None)` as soon as a line does not match — the caller must then abort the
/// transaction, since the lines before it were taken.
pub async fn take_for_checkout_in(
    db: &Db,
    session: &mut ClientSession,
    lines: &[CheckoutTake],
    order_id: OrderId,
    by: &str,
) -> Result<Option<Vec<Product>>> {
    let mut taken: Vec<Product> = Vec::with_capacity(lines.len());
    let mut movements = Vec::with_capacity(lines.len());
    for line in lines {
        let guard = Guard {
            active: true,
            taxable: true,
            price: Some(line.price),
        };
        let Some(product) = inc_stock_in(
            db,
            session,
            line.product_id,
            line.variant_id,
            -line.quantity,
            guard,
        )
        .await?
        else {
            return Ok(None);
        };
        let variant = product
            .variant(line.variant_id)
            .ok_or_else(variant_not_found)?;
        let mv = StockMove {
            product_id: line.product_id,
            variant_id: line.variant_id,
            delta: -line.quantity,
            reason: CHECKOUT,
            order_id: Some(order_id),
            by,
        };
        movements.push(StockMovement::new(&mv, &variant.sku, variant.stock));
        // Two lines of one product: the later read has both takes.
        taken.retain(|p| p.id != product.id);
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

/// Moves a variant's stock by `delta` (never below zero) and writes its ledger entry, in
/// the caller's transaction; returns the stock after the move. `404 PRODUCT_NOT_FOUND` or
/// `409 STOCK_WOULD_GO_NEGATIVE`, with nothing changed, otherwise.
pub async fn move_stock_in(
    db: &Db,
    session: &mut ClientSession,
    mv: &StockMove<'_>,
) -> Result<i64> {
    Ok(move_or_refuse_in(db, session, mv).await?.stock_after)
}

async fn move_or_refuse_in(
    db: &Db,
    session: &mut ClientSession,
    mv: &StockMove<'_>,
) -> Result<StockMovement> {
    if let Some(m) = try_move_stock_in(db, session, mv, false).await? {
        return Ok(m);
    }
    let current = load_in(db, session, mv.product_id).await?;
    let variant = current
        .variant(mv.variant_id)
        .ok_or_else(variant_not_found)?;
    Err(Error::new(
        ProblemCode::StockWouldGoNegative,
        format!(
            "'{}' has {} in stock; removing {} would go below zero",
            variant.display_name(&current.name),
            variant.stock,
            mv.delta.unsigned_abs()
        ),
    )
    .with("stock", variant.stock))
}

/// The reason of the entry that gives a variant stored before the ledger existed its
/// opening balance.
pub const OPENING_BALANCE: &str = "opening balance (stock before the ledger)";

/// Each variant's ledger sum for one product; entries written before variants count for the
/// product's single variant, whose id is the product's.
async fn ledger_sums_in(
    db: &Db,
    session: &mut ClientSession,
    id: ProductId,
) -> Result<std::collections::HashMap<VariantId, i64>> {
    use futures::TryStreamExt;
    let entries: Vec<StockMovement> = db
        .collection::<StockMovement>(STOCK_MOVEMENTS)
        .find(doc! { "productId": id })
        .session(&mut *session)
        .await?
        .stream(&mut *session)
        .try_collect()
        .await?;
    let mut sums = std::collections::HashMap::new();
    for e in entries {
        *sums.entry(e.variant_id()).or_insert(0) += e.delta;
    }
    Ok(sums)
}

/// Gives every variant whose ledger does not sum to its stock (products stored before the
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
            let product = load_in(db, session, id).await?;
            let sums = ledger_sums_in(db, session, id).await?;
            let entries: Vec<StockMovement> = product
                .variants()
                .iter()
                .filter_map(|v| {
                    let sum = sums.get(&v.id).copied().unwrap_or(0);
                    (sum != v.stock).then(|| StockMovement {
                        id: ObjectId::new(),
                        product_id: id,
                        stored_variant_id: Some(v.id),
                        sku: Some(v.sku.clone()),
                        delta: v.stock - sum,
                        reason: OPENING_BALANCE.to_owned(),
                        order_id: None,
                        by: by.to_owned(),
                        at: now(),
                        stock_after: v.stock,
                    })
                })
                .collect();
            if entries.is_empty() {
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
            db.collection::<StockMovement>(STOCK_MOVEMENTS)
                .insert_many(&entries)
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

/// Gives up to `limit` (all without one) products stored before variants their single
/// variant, as `docs/deployment.md`'s migration does; returns how many it rewrote, fewer
/// than `limit` only when none is left. Each product is one update that matches only the
/// shape and the stock it was read with: a product rewritten meanwhile is skipped, and one
/// whose stock a Lambda of the previous release moved meanwhile is read again and rewritten
/// with the stock it has now.
pub async fn give_legacy_products_variants(db: &Db, limit: Option<u64>) -> Result<u64> {
    use futures::TryStreamExt;
    let mut rewritten = 0;
    loop {
        let room = limit.map_or(BATCH, |l| l.saturating_sub(rewritten).min(BATCH));
        if room == 0 {
            return Ok(rewritten);
        }
        let batch: Vec<Document> = db
            .docs(PRODUCTS)
            .find(doc! { "variants": { "$exists": false } })
            .projection(doc! { "_id": 1 })
            .limit(room as i64)
            .await?
            .try_collect()
            .await?;
        if batch.is_empty() {
            break;
        }
        for id in batch.iter().filter_map(|d| d.get_object_id("_id").ok()) {
            if give_variant(db, ProductId(id)).await? {
                rewritten += 1;
            }
        }
    }
    Ok(rewritten)
}

/// How many products one query of the migration names.
const BATCH: u64 = 100;

/// False when the product already has variants (or is gone).
async fn give_variant(db: &Db, id: ProductId) -> Result<bool> {
    // Each miss means a stock move landed between the read and the write; a handful in a
    // row means the product is moving faster than this loop, which a re-run will catch.
    for _ in 0..20 {
        let Some(stored) = db
            .docs(PRODUCTS)
            .find_one(doc! { "_id": id, "variants": { "$exists": false } })
            .await?
        else {
            return Ok(false);
        };
        let product: Product = mongodb::bson::from_document(stored.clone()).map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "product {} is unreadable: {e}",
                id.to_hex()
            ))
        })?;
        let variant = to_stored(&product.variants()[0])?;
        let mut filter = doc! {
            "_id": id,
            "variants": { "$exists": false },
            "stock": stored.get("stock").cloned().unwrap_or(Bson::Null),
        };
        let mut set = doc! { "variants": [variant] };
        for (field, value) in [
            ("options", Bson::Array(Vec::new())),
            ("codAllowed", true.into()),
        ] {
            if !stored.contains_key(field) {
                filter.insert(field, doc! { "$exists": false });
                set.insert(field, value);
            }
        }
        let done = db
            .docs(PRODUCTS)
            .update_one(filter, doc! { "$set": set, "$unset": { "stock": "" } })
            .await?;
        if done.modified_count == 1 {
            return Ok(true);
        }
    }
    Err(Error::new(
        ProblemCode::TryAgain,
        format!(
            "product {} kept changing while it was migrated",
            id.to_hex()
        ),
    ))
}

/// Moves into its variant any stock a Lambda of the previous release put back (`$inc` of the
/// top-level `stock`) on a product [`give_legacy_products_variants`] already rewritten: the
/// product's id is its variant's, so the units are that variant's. Returns how many
/// products it changed.
pub async fn fold_stray_stock(db: &Db) -> Result<u64> {
    use futures::TryStreamExt;
    let strays: Vec<Document> = db
        .docs(PRODUCTS)
        .find(doc! { "variants": { "$exists": true }, "stock": { "$exists": true } })
        .projection(doc! { "_id": 1, "stock": 1 })
        .await?
        .try_collect()
        .await?;
    let mut folded = 0;
    for stray in strays {
        let (Ok(id), Some(stock)) = (stray.get_object_id("_id"), stray.get("stock")) else {
            continue;
        };
        let units = match stock {
            Bson::Int64(n) => *n,
            Bson::Int32(n) => i64::from(*n),
            _ => continue,
        };
        // Matching the stock read makes a move landing meanwhile leave it for a re-run
        // rather than be counted twice.
        let done = db
            .docs(PRODUCTS)
            .update_one(
                doc! { "_id": id, "stock": stock.clone(), "variants._id": id },
                doc! {
                    "$inc": { "variants.$.stock": units },
                    "$unset": { "stock": "" },
                },
            )
            .await?;
        folded += done.modified_count;
    }
    Ok(folded)
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

/// The owner adds or removes units of a variant: atomically, never below zero, with its
/// ledger entry. Without a variant, the product must have exactly one (`422
/// VARIANT_REQUIRED` otherwise), as before variants.
pub async fn adjust_stock(
    db: &Db,
    product: &ProductRef,
    variant: Option<VariantId>,
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
        let variant_id = match variant {
            Some(v) => found.variant(v).ok_or_else(variant_not_found)?.id,
            None => {
                found
                    .only_variant()
                    .ok_or_else(|| variant_required(&found))?
                    .id
            }
        };
        let mv = StockMove {
            product_id: found.id,
            variant_id,
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
        assert_eq!(fields, ["slug", "name", "hsn", "gstRate", "price", "stock"]);
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
