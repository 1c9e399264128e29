//! The import's one step that touches the database: read what the file's products meet,
//! plan, and (unless it is a dry run) write each product in its own transaction through the
//! catalog's import writes. A product that changed between planning and writing is planned
//! again once against what is stored now.

use super::plan::{plan, plan_product, Action, Existing, Outcome};
use super::{Level, Parsed, Report, RowProblem, ShopifyProduct};
use crate::catalog::{
    insert_imported_product, legacy_sku, update_imported_product, Product, PRODUCTS,
};
use crate::vocabulary::ids::ProductId;
use crate::vocabulary::time::now;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use platform::db::Db;
use platform::error::Result;
use std::collections::HashMap;

/// Imports a parsed Shopify file: the report of what was done, or with `dry_run` of what
/// would be, having written nothing.
pub async fn import(db: &Db, parsed: &Parsed, dry_run: bool, by: &str) -> Result<Report> {
    let existing = existing(db, parsed).await?;
    let mut plan = plan(parsed, &existing, now());
    if !dry_run {
        let by_handle: HashMap<&str, &ShopifyProduct> = parsed
            .products
            .iter()
            .map(|p| (p.handle.as_str(), p))
            .collect();
        for outcome in &mut plan.outcomes {
            let file = by_handle[outcome.handle.as_str()];
            if !write(db, outcome, by).await? {
                // Changed (or created) meanwhile: once more against what is there now.
                let stored = stored(db, &outcome.handle).await?;
                *outcome = plan_product(
                    file,
                    stored.as_ref(),
                    &existing.skus_elsewhere,
                    plan.dialect,
                    now(),
                );
                if !write(db, outcome, by).await? {
                    outcome.action = None;
                    outcome.problems.push(RowProblem {
                        row: file.row,
                        handle: file.handle.clone(),
                        column: None,
                        level: Level::Error,
                        message: "changed in the shop while it was being imported: nothing of it was written; import again".to_owned(),
                    });
                }
            }
        }
    }
    Ok(plan.report(dry_run))
}

/// Writes one product's outcome; `false` when what it was planned on is no longer there.
async fn write(db: &Db, outcome: &Outcome, by: &str) -> Result<bool> {
    match &outcome.action {
        Some(Action::Create(product)) => insert_imported_product(db, product, by).await,
        Some(Action::Update(change)) => update_imported_product(db, change, by).await,
        Some(Action::Unchanged) | None => Ok(true),
    }
}

async fn stored(db: &Db, slug: &str) -> Result<Option<Product>> {
    Ok(db
        .collection::<Product>(PRODUCTS)
        .find_one(doc! { "slug": slug })
        .await?)
}

/// The stored products under the file's handles, and the file's SKUs other products use.
async fn existing(db: &Db, parsed: &Parsed) -> Result<Existing> {
    let handles: Vec<&str> = parsed.products.iter().map(|p| p.handle.as_str()).collect();
    let products: Vec<Product> = db
        .collection::<Product>(PRODUCTS)
        .find(doc! { "slug": { "$in": &handles } })
        .await?
        .try_collect()
        .await?;
    // Every other product's SKUs, compared here rather than by a `$in` of the file's
    // thousands of SKUs, which a database without an index on `variants.sku` (none is
    // declared yet) matches against every variant of every product, one by one; and the
    // SKUs the import makes up for variants without one must be free too.
    let others: Vec<Document> = db
        .docs(PRODUCTS)
        .find(doc! { "slug": { "$nin": &handles } })
        .projection(doc! { "slug": 1, "variants.sku": 1 })
        .await?
        .try_collect()
        .await?;
    let mut skus_elsewhere = HashMap::new();
    for other in others {
        let slug = other.get_str("slug").unwrap_or_default();
        let skus: Vec<String> = match other.get_array("variants") {
            Ok(variants) => variants
                .iter()
                .filter_map(|v| v.as_document()?.get_str("sku").ok().map(str::to_owned))
                .collect(),
            // Stored before variants: its one variant's SKU is derived from its id.
            Err(_) => other
                .get_object_id("_id")
                .map(|id| legacy_sku(ProductId(id)))
                .into_iter()
                .collect(),
        };
        for sku in skus {
            skus_elsewhere.insert(sku, slug.to_owned());
        }
    }
    Ok(Existing {
        products,
        skus_elsewhere,
    })
}
