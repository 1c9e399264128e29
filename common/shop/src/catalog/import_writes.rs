//! The catalog writes of a Shopify import: a whole product created with its variants, and an
//! existing product's fields, options and variants changed, each with the ledger entries of
//! the stock it brings, in one transaction per product.
//!
//! They take plain catalog types (the import's plan is built above the catalog, in
//! `shopify`), and are kept apart from `catalog.rs` so that they fold into the owner's
//! variant writes (create with variants, add a variant, patch a variant) once those exist:
//! the shapes written here (variants inside the product, no top-level `stock`, ledger
//! entries with `variantId` and `sku`) are the same.
//!
//! Stock is never changed here on a variant that exists: a new variant is written with its
//! initial stock and, in the same transaction, the ledger entry that brings it there, so for
//! every variant the ledger still sums to its stock.

use super::{Product, ProductOption, StockMovement, Variant, PRODUCTS, STOCK_MOVEMENTS};
use crate::vocabulary::ids::{ProductId, VariantId};
use crate::vocabulary::money::Paise;
use crate::vocabulary::time::now;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::ClientSession;
use platform::db::{is_duplicate_key, to_stored, Db};
use platform::error::{FieldError, Result};

/// The catalog's own rules (those of the owner's writes) for what an import brings: the
/// fields given, as the field errors `name`, `description`, `price`, `images`.
pub fn imported_field_errors(
    name: Option<&str>,
    description: Option<&str>,
    price: Option<Paise>,
    images: Option<&[String]>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    super::Fields {
        name: name.map(str::to_owned),
        description: description.map(str::to_owned),
        images: images.map(<[String]>::to_vec),
        ..super::Fields::default()
    }
    .validate(&mut errors);
    if let Some(price) = price {
        super::check_price(&mut errors, "price", price.get());
    }
    errors
}

/// The ledger reason of the stock a variant arrives with from an import.
pub const IMPORTED_STOCK: &str = "initial stock (Shopify import)";

/// What an import changes on one stored product: only the fields named (`Some`) change.
/// Nothing here can name an existing variant's stock.
#[derive(Debug, Clone)]
pub struct ImportedUpdate {
    pub id: ProductId,
    /// The product's `updatedAt` when the change was planned: the write happens only if it
    /// is still that, so a change made meanwhile is never overwritten by a stale plan.
    pub read_at: DateTime,
    pub name: Option<String>,
    pub description: Option<String>,
    pub images: Option<Vec<String>>,
    pub is_active: Option<bool>,
    /// The product's options with the new values appended (never reordered: the stored
    /// variants' `optionValues` are aligned to them).
    pub options: Option<Vec<ProductOption>>,
    /// The lowest active variant price after the change.
    pub price: Option<Paise>,
    pub variants: Vec<VariantChange>,
    /// Each with its initial stock, which gets its ledger entry.
    pub new_variants: Vec<Variant>,
}

/// The changed fields of one stored variant, found at `index` in the product's `variants`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariantChange {
    pub index: usize,
    pub id: VariantId,
    pub sku: Option<String>,
    /// With the title they give.
    pub option_values: Option<(Vec<String>, String)>,
    pub price: Option<Paise>,
    pub compare_at_price: Option<Option<Paise>>,
    pub weight_grams: Option<Option<i64>>,
    pub image: Option<Option<String>>,
}

impl ImportedUpdate {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.images.is_none()
            && self.is_active.is_none()
            && self.options.is_none()
            && self.price.is_none()
            && self.variants.is_empty()
            && self.new_variants.is_empty()
    }

    /// The product as the write leaves it (but for `updatedAt`): what the import's plan
    /// prices from, and what a test's in-memory store does in place of the database.
    pub fn apply_to(&self, p: &mut Product) {
        if let Some(name) = &self.name {
            p.name.clone_from(name);
        }
        if let Some(d) = &self.description {
            p.description.clone_from(d);
        }
        if let Some(images) = &self.images {
            p.images.clone_from(images);
        }
        if let Some(active) = self.is_active {
            p.is_active = active;
        }
        if let Some(options) = &self.options {
            p.options.clone_from(options);
        }
        if let Some(price) = self.price {
            p.price = price;
        }
        for c in &self.variants {
            let Some(v) = p.variants.get_mut(c.index) else {
                continue;
            };
            if let Some(sku) = &c.sku {
                v.sku.clone_from(sku);
            }
            if let Some((values, title)) = &c.option_values {
                v.option_values.clone_from(values);
                v.title.clone_from(title);
            }
            if let Some(price) = c.price {
                v.price = price;
            }
            if let Some(compare_at) = c.compare_at_price {
                v.compare_at_price = compare_at;
            }
            if let Some(grams) = c.weight_grams {
                v.weight_grams = grams;
            }
            if let Some(image) = &c.image {
                v.image.clone_from(image);
            }
        }
        p.variants.extend(self.new_variants.iter().cloned());
    }

    /// The `$set` of the write: the product's fields, and each changed variant's fields by
    /// its position (which the `updatedAt` guard keeps where it was planned).
    fn set(&self) -> Result<Document> {
        let mut set = Document::new();
        if let Some(name) = &self.name {
            set.insert("name", name);
        }
        if let Some(d) = &self.description {
            set.insert("description", d);
        }
        if let Some(images) = &self.images {
            set.insert("images", images);
        }
        if let Some(active) = self.is_active {
            set.insert("isActive", active);
        }
        if let Some(options) = &self.options {
            set.insert("options", to_stored(options)?);
        }
        if let Some(price) = self.price {
            set.insert("price", price.get());
        }
        for c in &self.variants {
            let at = |field: &str| format!("variants.{}.{field}", c.index);
            if let Some(sku) = &c.sku {
                set.insert(at("sku"), sku);
            }
            if let Some((values, title)) = &c.option_values {
                set.insert(at("optionValues"), values);
                set.insert(at("title"), title);
            }
            if let Some(price) = c.price {
                set.insert(at("price"), price.get());
            }
            if let Some(compare_at) = c.compare_at_price {
                set.insert(at("compareAtPrice"), compare_at.map(Paise::get));
            }
            if let Some(grams) = c.weight_grams {
                set.insert(at("weightGrams"), grams);
            }
            if let Some(image) = &c.image {
                set.insert(at("image"), image.as_deref());
            }
        }
        Ok(set)
    }
}

/// The ledger entry that brings a variant from nothing to its initial stock.
fn opening_entry(product: ProductId, v: &Variant, by: &str, at: DateTime) -> StockMovement {
    StockMovement {
        id: ObjectId::new(),
        product_id: product,
        stored_variant_id: Some(v.id),
        sku: Some(v.sku.clone()),
        delta: v.stock,
        reason: IMPORTED_STOCK.to_owned(),
        order_id: None,
        by: by.to_owned(),
        at,
        stock_after: v.stock,
    }
}

async fn write_opening_entries_in(
    db: &Db,
    session: &mut ClientSession,
    product: ProductId,
    variants: &[Variant],
    by: &str,
) -> Result<()> {
    if variants.is_empty() {
        return Ok(());
    }
    let at = now();
    let entries: Vec<StockMovement> = variants
        .iter()
        .map(|v| opening_entry(product, v, by, at))
        .collect();
    db.collection::<StockMovement>(STOCK_MOVEMENTS)
        .insert_many(entries)
        .session(&mut *session)
        .await?;
    Ok(())
}

/// Creates an imported product with its variants (each with its initial stock and one
/// ledger entry) in one transaction. `Ok(false)`, with nothing written, when its slug was
/// taken meanwhile.
pub async fn insert_imported_product(db: &Db, product: &Product, by: &str) -> Result<bool> {
    // New-shape documents keep stock on their variants only (see `Product::stock`).
    debug_assert!(product.stock.is_none() && !product.variants.is_empty());
    platform::transaction!(db, |session| {
        match db
            .collection::<Product>(PRODUCTS)
            .insert_one(product)
            .session(&mut *session)
            .await
        {
            Ok(_) => {}
            Err(e) if is_duplicate_key(&e) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        write_opening_entries_in(db, session, product.id, &product.variants, by).await?;
        Ok(true)
    })
}

/// Applies an import's change to a stored product in one transaction: its `$set`, the new
/// variants pushed with their ledger entries. `Ok(false)`, with nothing written, when the
/// product changed (or went) since `read_at`.
pub async fn update_imported_product(db: &Db, change: &ImportedUpdate, by: &str) -> Result<bool> {
    if change.is_empty() {
        return Ok(true);
    }
    let mut set = change.set()?;
    set.insert("updatedAt", now());
    let mut filter = doc! { "_id": change.id, "updatedAt": change.read_at };
    for c in &change.variants {
        // The position was planned on this document; the guard above keeps it, this says so.
        filter.insert(format!("variants.{}._id", c.index), c.id);
    }
    // A second update: MongoDB refuses `$push` to `variants` beside a `$set` of a path in it.
    let push = if change.new_variants.is_empty() {
        None
    } else {
        let pushed: Vec<Bson> = change
            .new_variants
            .iter()
            .map(to_stored)
            .collect::<Result<_>>()?;
        Some(doc! { "$push": { "variants": { "$each": pushed } } })
    };
    platform::transaction!(db, |session| {
        let res = db
            .docs(PRODUCTS)
            .update_one(filter.clone(), doc! { "$set": set.clone() })
            .session(&mut *session)
            .await?;
        if res.matched_count == 0 {
            return Ok(false);
        }
        if let Some(push) = &push {
            db.docs(PRODUCTS)
                .update_one(doc! { "_id": change.id }, push.clone())
                .session(&mut *session)
                .await?;
        }
        write_opening_entries_in(db, session, change.id, &change.new_variants, by).await?;
        Ok(true)
    })
}
