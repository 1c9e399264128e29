//! What an import does to the catalog, decided without touching it: for each product of a
//! parsed file, given the product the shop already has under its handle (if any), create it,
//! change what differs, or leave it alone; and the report the owner reads, dry run or not.
//!
//! The rules the owner relies on when importing the same file again:
//! - a variant is the stored one with its SKU, else the one with its option values;
//! - an existing variant's stock never changes (the shop has sold since the export): a
//!   different quantity in the file is a warning naming both numbers;
//! - a product whose rows hold an error is left out whole, and the others still import;
//! - planning the same file against what its import wrote finds nothing to change.

use super::{
    format_rupees, Dialect, Level, Parsed, RowProblem, ShopifyProduct, ShopifyVariant, Status,
};
use crate::catalog::{
    imported_field_errors, ImportedUpdate, Product, ProductOption, Variant, VariantChange,
    MAX_OPTION_VALUES,
};
use crate::vocabulary::ids::{ProductId, VariantId};
use crate::vocabulary::money::Paise;
use mongodb::bson::DateTime;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// What the shop holds that the file's products meet.
#[derive(Debug, Clone, Default)]
pub struct Existing {
    /// The stored products whose slugs are handles of the file.
    pub products: Vec<Product>,
    /// The SKUs of the shop's other products (those not in the file): SKU → that product's
    /// slug.
    pub skus_elsewhere: HashMap<String, String>,
}

/// What happens to one product.
#[derive(Debug, Clone)]
pub enum Action {
    Create(Box<Product>),
    Update(Box<ImportedUpdate>),
    Unchanged,
}

/// One product's part of the plan: `action` is `None` when an error leaves it out.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub handle: String,
    pub action: Option<Action>,
    /// The plan's own problems for this product (the parser's are in [`Plan::parsed`]).
    pub problems: Vec<RowProblem>,
    pub variants: VariantCounts,
    /// Image URLs this product's write stores.
    pub images: u64,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub outcomes: Vec<Outcome>,
    /// The parser's problems, less those that do not apply to a product the shop has.
    pub parsed_problems: Vec<RowProblem>,
    pub ignored_columns: Vec<String>,
    pub dialect: Dialect,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProductCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Left out for an error in their rows.
    pub skipped: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VariantCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// The import's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub dry_run: bool,
    pub products: ProductCounts,
    pub variants: VariantCounts,
    /// Image URLs written (all of a created product's, and an updated product's when they
    /// changed).
    pub images: u64,
    pub ignored_columns: Vec<String>,
    /// In row order.
    pub problems: Vec<RowProblem>,
}

impl Plan {
    pub fn report(&self, dry_run: bool) -> Report {
        let mut products = ProductCounts::default();
        let mut variants = VariantCounts::default();
        let mut images = 0;
        let mut problems = self.parsed_problems.clone();
        for o in &self.outcomes {
            match &o.action {
                Some(Action::Create(_)) => products.created += 1,
                Some(Action::Update(_)) => products.updated += 1,
                Some(Action::Unchanged) => products.unchanged += 1,
                None => {}
            }
            if o.action.is_some() {
                variants.created += o.variants.created;
                variants.updated += o.variants.updated;
                variants.unchanged += o.variants.unchanged;
                images += o.images;
            }
            problems.extend(o.problems.iter().cloned());
        }
        // Every product with an error, whether the parser or the plan found it; rows
        // without a handle belong to no product.
        products.skipped = problems
            .iter()
            .filter(|p| p.level == Level::Error && !p.handle.is_empty())
            .map(|p| p.handle.as_str())
            .collect::<HashSet<_>>()
            .len() as u64;
        problems.sort_by_key(|p| p.row);
        Report {
            dry_run,
            products,
            variants,
            images,
            ignored_columns: self.ignored_columns.clone(),
            problems,
        }
    }
}

/// Plans every product of the file. `at` stamps the products it would create.
pub fn plan(parsed: &Parsed, existing: &Existing, at: DateTime) -> Plan {
    let stored: HashMap<&str, &Product> = existing
        .products
        .iter()
        .map(|p| (p.slug.as_str(), p))
        .collect();
    let outcomes = parsed
        .products
        .iter()
        .map(|p| {
            plan_product(
                p,
                stored.get(p.handle.as_str()).copied(),
                &existing.skus_elsewhere,
                parsed.dialect,
                at,
            )
        })
        .collect();
    let parsed_problems = parsed
        .problems
        .iter()
        .filter(|p| !(p.is_missing_tax() && stored.contains_key(p.handle.as_str())))
        .cloned()
        .collect();
    Plan {
        outcomes,
        parsed_problems,
        ignored_columns: parsed.ignored_columns.clone(),
        dialect: parsed.dialect,
    }
}

/// How the file spells a column, in its dialect.
fn column(dialect: Dialect, legacy: &str, current: &str) -> Option<String> {
    let name = match dialect {
        Dialect::Legacy => legacy,
        Dialect::Current => current,
    };
    Some(name.to_owned())
}

struct Planning<'a> {
    p: &'a ShopifyProduct,
    dialect: Dialect,
    skus_elsewhere: &'a HashMap<String, String>,
    problems: Vec<RowProblem>,
}

impl Planning<'_> {
    fn problem(&mut self, row: u64, column: Option<String>, level: Level, message: String) {
        self.problems.push(RowProblem {
            row,
            handle: self.p.handle.clone(),
            column,
            level,
            message,
        });
    }

    fn has_error(&self) -> bool {
        self.problems.iter().any(|p| p.level == Level::Error)
    }

    /// The catalog's rules the parser does not know (name, description, price, images), as
    /// the catalog states them; the images it keeps.
    fn check_fields(&mut self) -> Vec<String> {
        let (p, dialect) = (self.p, self.dialect);
        let texts = imported_field_errors(Some(&p.title), Some(&p.description_html), None, None);
        for e in texts {
            let (col, rule) = if e.field == "name" {
                (
                    Some("Title".to_owned()),
                    "the shop's rule for a product's name",
                )
            } else {
                (
                    column(dialect, "Body (HTML)", "Description"),
                    "once only the safe HTML is kept",
                )
            };
            self.problem(p.row, col, Level::Error, format!("{} ({rule})", e.message));
        }
        for v in &p.variants {
            if let Some(e) = imported_field_errors(None, None, Some(v.price), None).first() {
                let col = column(dialect, "Variant Price", "Price");
                let message = format!(
                    "'{}' is {} paise: a price {}",
                    format_rupees(v.price),
                    v.price.get(),
                    e.message
                );
                self.problem(v.row, col, Level::Error, message);
            }
        }
        let all: Vec<String> = p.images.iter().map(|i| i.url.clone()).collect();
        let mut images = all.clone();
        while !images.is_empty()
            && !imported_field_errors(None, None, None, Some(&images)).is_empty()
        {
            images.pop();
        }
        if images.len() < all.len() {
            let message = format!(
                "the product has {} images; the shop keeps the first {}",
                all.len(),
                images.len()
            );
            let col = column(dialect, "Image Src", "Product image URL");
            self.problem(p.row, col, Level::Warning, message);
        }
        images
    }

    /// A SKU of the file that another product of the shop already uses.
    fn check_skus(&mut self) {
        let dialect = self.dialect;
        for v in &self.p.variants {
            let Some(sku) = &v.sku else { continue };
            if let Some(slug) = self.skus_elsewhere.get(sku) {
                let col = column(dialect, "Variant SKU", "SKU");
                let message = format!("'{sku}' is the SKU of a variant of '{slug}' in the shop");
                self.problem(v.row, col, Level::Error, message);
            }
        }
    }

    /// A different stock in the file than in the shop: the shop's stands.
    fn stock_warning(&mut self, v: &ShopifyVariant, stored: &Variant, product: ProductId) {
        let Some(q) = v.inventory_quantity else {
            return;
        };
        if q == stored.stock {
            return;
        }
        let col = column(self.dialect, "Variant Inventory Qty", "Inventory quantity");
        let message = format!(
            "the shop has {} in stock and the file says {q}: an import never changes an existing variant's stock (move it with POST /admin/products/{}/stock)",
            stored.stock,
            product.to_hex()
        );
        self.problem(v.row, col, Level::Warning, message);
    }
}

/// Plans one product of the file against the product the shop has under its handle.
pub fn plan_product(
    p: &ShopifyProduct,
    stored: Option<&Product>,
    skus_elsewhere: &HashMap<String, String>,
    dialect: Dialect,
    at: DateTime,
) -> Outcome {
    let mut planning = Planning {
        p,
        dialect,
        skus_elsewhere,
        problems: Vec::new(),
    };
    let images = planning.check_fields();
    planning.check_skus();
    let (action, variants, written_images) = if planning.has_error() {
        (None, VariantCounts::default(), 0)
    } else {
        match stored {
            None => {
                let product = new_product(&mut planning, images, at);
                let counts = VariantCounts {
                    created: product.variants.len() as u64,
                    ..VariantCounts::default()
                };
                let written = product.images.len() as u64;
                (Some(Action::Create(Box::new(product))), counts, written)
            }
            Some(stored) => changes(&mut planning, stored, images),
        }
    };
    let action = if planning.has_error() { None } else { action };
    Outcome {
        handle: p.handle.clone(),
        action,
        problems: planning.problems,
        variants,
        images: written_images,
    }
}

fn is_on_sale_in_shopify(p: &ShopifyProduct) -> bool {
    p.status == Status::Active && p.published
}

/// The SKU of a variant the file gives none: the handle and the variant's place, so that a
/// re-import (which matches it by its option values) never needs it again.
fn generated_sku(handle: &str, n: usize) -> String {
    let suffix = format!("-{n}");
    let room = 64 - suffix.len();
    let stem: String = handle.to_uppercase().chars().take(room).collect();
    format!("{}{suffix}", stem.trim_end_matches('-'))
}

impl Planning<'_> {
    /// A new variant; one the file gives no SKU gets one made up, which must be free too.
    fn new_variant(&mut self, n: usize, v: &ShopifyVariant) -> Variant {
        let sku = v.sku.clone().unwrap_or_else(|| {
            let sku = generated_sku(&self.p.handle, n);
            if let Some(slug) = self.skus_elsewhere.get(&sku) {
                let col = column(self.dialect, "Variant SKU", "SKU");
                let message = format!(
                    "is empty, and the SKU it would be given, '{sku}', is a variant's of '{slug}': give it one"
                );
                self.problem(v.row, col, Level::Error, message);
            }
            sku
        });
        new_variant(sku, v)
    }
}

fn new_variant(sku: String, v: &ShopifyVariant) -> Variant {
    Variant {
        id: VariantId::new(),
        sku,
        title: v.title(),
        option_values: v.option_values.clone(),
        price: v.price,
        compare_at_price: v.compare_at_price,
        stock: v.inventory_quantity.unwrap_or(0),
        weight_grams: v.weight_grams,
        dimensions_cm: None,
        image: v.image.clone(),
        is_active: true,
    }
}

fn lowest_active_price(variants: &[Variant]) -> Option<Paise> {
    variants
        .iter()
        .filter(|v| v.is_active)
        .map(|v| v.price)
        .min()
}

fn new_product(planning: &mut Planning<'_>, images: Vec<String>, at: DateTime) -> Product {
    let p = planning.p;
    let variants: Vec<Variant> = p
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| planning.new_variant(i + 1, v))
        .collect();
    Product {
        id: ProductId::new(),
        name: p.title.clone(),
        slug: p.handle.clone(),
        description: p.description_html.clone(),
        price: lowest_active_price(&variants).unwrap_or(Paise::ZERO),
        images,
        stock: None,
        is_active: p.is_active,
        hsn: p.hsn.clone(),
        gst_rate: p.gst_rate,
        cod_allowed: true,
        options: p
            .options
            .iter()
            .map(|o| ProductOption {
                name: o.name.clone(),
                values: o.values.clone(),
            })
            .collect(),
        variants,
        created_at: at,
        updated_at: at,
    }
}

/// What differs between the file's product and the stored one.
fn changes(
    planning: &mut Planning<'_>,
    stored: &Product,
    images: Vec<String>,
) -> (Option<Action>, VariantCounts, u64) {
    let p = planning.p;
    let mut update = ImportedUpdate {
        id: stored.id,
        read_at: stored.updated_at,
        name: None,
        description: None,
        images: None,
        is_active: None,
        options: None,
        price: None,
        variants: Vec::new(),
        new_variants: Vec::new(),
    };
    if p.title != stored.name {
        update.name = Some(p.title.clone());
    }
    if p.description_html != stored.description {
        update.description = Some(p.description_html.clone());
    }
    // A file without images leaves the shop's alone rather than clearing them.
    let mut written_images = 0;
    if !images.is_empty() && images != stored.images {
        written_images = images.len() as u64;
        update.images = Some(images);
    }
    // Taken off sale in Shopify is taken off sale here; the reverse is the owner's call
    // (the shop may have kept it inactive for want of an HSN code, say).
    if !is_on_sale_in_shopify(p) && stored.is_active {
        update.is_active = Some(false);
    }

    let names = |o: &[ProductOption]| o.iter().map(|o| o.name.to_lowercase()).collect::<Vec<_>>();
    let file_names: Vec<String> = p.options.iter().map(|o| o.name.to_lowercase()).collect();
    if file_names != names(&stored.options) {
        let shown = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        let message = format!(
            "its options ({}) are not the shop's ({}): change them in the shop or in the file, then import again",
            shown(p.options.iter().map(|o| o.name.clone()).collect()),
            shown(stored.options.iter().map(|o| o.name.clone()).collect()),
        );
        planning.problem(p.row, None, Level::Error, message);
        return (None, VariantCounts::default(), 0);
    }
    let mut options = stored.options.clone();
    for (option, file) in options.iter_mut().zip(&p.options) {
        for value in &file.values {
            if !option.values.contains(value) {
                option.values.push(value.clone());
            }
        }
        if option.values.len() > MAX_OPTION_VALUES {
            let message = format!(
                "'{}' would have {} values with the shop's; the shop allows at most {MAX_OPTION_VALUES}",
                option.name,
                option.values.len()
            );
            planning.problem(p.row, None, Level::Error, message);
        }
    }
    if options != stored.options {
        update.options = Some(options);
    }

    let stored_variants = stored.variants();
    let mut counts = VariantCounts::default();
    let mut matched = HashSet::new();
    for (n, fv) in p.variants.iter().enumerate() {
        let by_sku = fv.sku.as_ref().and_then(|sku| {
            stored_variants
                .iter()
                .position(|v| &v.sku == sku && !matched.contains(&v.id))
        });
        let found = by_sku.or_else(|| {
            stored_variants
                .iter()
                .position(|v| v.option_values == fv.option_values && !matched.contains(&v.id))
        });
        let Some(index) = found else {
            if let Some(taken) = fv
                .sku
                .as_ref()
                .filter(|s| stored_variants.iter().any(|v| &v.sku == *s))
            {
                let col = column(planning.dialect, "Variant SKU", "SKU");
                let message =
                    format!("'{taken}' is already the SKU of another of the product's variants");
                planning.problem(fv.row, col, Level::Error, message);
                continue;
            }
            update
                .new_variants
                .push(planning.new_variant(stored_variants.len() + n + 1, fv));
            counts.created += 1;
            continue;
        };
        let sv = &stored_variants[index];
        matched.insert(sv.id);
        planning.stock_warning(fv, sv, stored.id);
        let mut change = VariantChange {
            index,
            id: sv.id,
            ..VariantChange::default()
        };
        if let Some(sku) = fv.sku.as_ref().filter(|s| **s != sv.sku) {
            change.sku = Some(sku.clone());
        }
        if fv.option_values != sv.option_values {
            let taken = stored_variants
                .iter()
                .any(|v| v.id != sv.id && v.option_values == fv.option_values);
            if taken {
                let message = format!(
                    "its SKU is the shop's variant '{}', but its option values ({}) are another variant's",
                    sv.title,
                    fv.title()
                );
                planning.problem(fv.row, None, Level::Error, message);
                continue;
            }
            change.option_values = Some((fv.option_values.clone(), fv.title()));
        }
        if fv.price != sv.price {
            change.price = Some(fv.price);
        }
        if fv.compare_at_price != sv.compare_at_price {
            change.compare_at_price = Some(fv.compare_at_price);
        }
        // What Shopify leaves empty, the shop may have filled in since: kept.
        if fv.weight_grams.is_some() && fv.weight_grams != sv.weight_grams {
            change.weight_grams = Some(fv.weight_grams);
        }
        if fv.image.is_some() && fv.image != sv.image {
            change.image = Some(fv.image.clone());
        }
        if change
            == (VariantChange {
                index,
                id: sv.id,
                ..VariantChange::default()
            })
        {
            counts.unchanged += 1;
        } else {
            update.variants.push(change);
            counts.updated += 1;
        }
    }
    if stored.is_legacy() && (!update.variants.is_empty() || !update.new_variants.is_empty()) {
        let message = "the shop stores this product as it was before variants: run the variants migration (docs/deployment.md), then import again".to_owned();
        planning.problem(p.row, None, Level::Error, message);
    }
    if planning.has_error() {
        return (None, VariantCounts::default(), 0);
    }
    let mut after = stored.clone();
    update.apply_to(&mut after);
    if let Some(price) = lowest_active_price(&after.variants) {
        if price != stored.price && !stored.is_legacy() {
            update.price = Some(price);
        }
    }
    let action = if update.is_empty() {
        Action::Unchanged
    } else {
        Action::Update(Box::new(update))
    };
    (Some(action), counts, written_images)
}

#[cfg(test)]
mod tests;
