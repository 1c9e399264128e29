//! The shop's data migrations, in the order `platform::migrate` runs them: each rewrites
//! what an older release stored into what the code stores now. Run as one step of a deploy,
//! after the new code (which reads both shapes) is live: `docs/deployment.md`.
//!
//! Every rewrite matches only the old shape (a missing field), so a step run again, or
//! resumed after a crash part-way, rewrites only what is left. The items are read as raw
//! documents: a step must keep working on whatever the types of later releases become.

use crate::cart::CARTS;
use crate::catalog::{self, legacy_sku, DEFAULT_VARIANT_TITLE, STOCK_MOVEMENTS};
use crate::order::model::ORDERS;
use crate::vocabulary::ids::ProductId;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, Document};
use platform::db::Db;
use platform::migrate::{Budget, Step};
use platform::Result;

/// Every step, numbered above `platform::migrate::BASELINE`.
pub const STEPS: &[Step] = &[Step {
    version: 2,
    name: "products carry variants",
    run: products_carry_variants,
}];

/// The version this code brings the data to.
pub fn latest() -> i64 {
    STEPS
        .iter()
        .map(|s| s.version)
        .fold(platform::migrate::BASELINE, i64::max)
}

/// Runs every step the database has not had, on behalf of `by`, within `budget`.
pub async fn run(
    db: &Db,
    clock: &dyn platform::clock::Clock,
    by: &str,
    budget: Budget,
) -> Result<platform::migrate::Report> {
    // One name per run, so two runs by the same actor do not share the lease.
    let holder = format!("{by} ({})", ObjectId::new().to_hex());
    platform::migrate::run(db, clock, STEPS, &holder, budget).await
}

/// Documents read per query; the budget is checked between batches.
const BATCH: u64 = 100;

/// Each product stored before variants gets its single variant (id: the product's, SKU:
/// `legacy_sku`), and everything that names such a product by its id alone (ledger entries,
/// cart lines, order items and the lines of refunds) gains that variant's id.
fn products_carry_variants<'a>(db: &'a Db, budget: &'a Budget) -> BoxFuture<'a, Result<u64>> {
    Box::pin(async move {
        let mut documents = 0;
        loop {
            let rewritten = catalog::give_legacy_products_variants(db, Some(BATCH)).await?;
            documents += rewritten;
            if rewritten == 0 {
                break;
            }
            if budget.spent() {
                return Ok(documents);
            }
        }
        documents += catalog::fold_stray_stock(db).await?;
        documents += label_ledger(db, budget).await?;
        for collection in [CARTS, ORDERS] {
            if budget.spent() {
                break;
            }
            documents += label_lines(db, collection, budget).await?;
        }
        Ok(documents)
    })
}

/// Ledger entries without a variant, one update per product they name.
async fn label_ledger(db: &Db, budget: &Budget) -> Result<u64> {
    let products = db
        .docs(STOCK_MOVEMENTS)
        .distinct("productId", doc! { "variantId": { "$exists": false } })
        .await?;
    let mut labelled = 0;
    for product in products.iter().filter_map(Bson::as_object_id) {
        if budget.spent() {
            break;
        }
        let done = db
            .docs(STOCK_MOVEMENTS)
            .update_many(
                doc! { "productId": product, "variantId": { "$exists": false } },
                doc! { "$set": {
                    "variantId": product,
                    "sku": legacy_sku(ProductId(product)),
                } },
            )
            .await?;
        labelled += done.modified_count;
    }
    Ok(labelled)
}

/// Carts' or orders' `items`, and orders' refund lines, without a variant. Each document is
/// one update guarded by the arrays as read, so a cart changed meanwhile is read again.
async fn label_lines(db: &Db, collection: &str, budget: &Budget) -> Result<u64> {
    let unlabelled = doc! { "$elemMatch": { "variantId": { "$exists": false } } };
    let mut labelled = 0;
    let mut retries = 0;
    loop {
        let found: Vec<Document> = db
            .docs(collection)
            .find(doc! { "$or": [
                { "items": unlabelled.clone() },
                { "refunds.lines": unlabelled.clone() },
            ] })
            .projection(doc! { "items": 1, "refunds": 1 })
            .limit(BATCH as i64)
            .await?
            .try_collect()
            .await?;
        if found.is_empty() || budget.spent() {
            return Ok(labelled);
        }
        let (mut missed, mut progressed) = (false, false);
        for stored in found {
            let Ok(id) = stored.get_object_id("_id") else {
                continue;
            };
            let mut filter = doc! { "_id": id };
            let mut set = Document::new();
            for field in ["items", "refunds"] {
                let Some(Bson::Array(before)) = stored.get(field) else {
                    continue;
                };
                let mut after = before.clone();
                let mut changed = false;
                if field == "items" {
                    changed = label_all(&mut after, true);
                } else {
                    for lines in after
                        .iter_mut()
                        .filter_map(|r| r.as_document_mut()?.get_array_mut("lines").ok())
                    {
                        changed |= label_all(lines, false);
                    }
                }
                if changed {
                    filter.insert(field, before.clone());
                    set.insert(field, after);
                }
            }
            if set.is_empty() {
                continue;
            }
            let done = db
                .docs(collection)
                .update_one(filter, doc! { "$set": set })
                .await?;
            labelled += done.modified_count;
            missed |= done.modified_count == 0;
            progressed |= done.modified_count > 0;
        }
        // Lines without a product id have no variant to be given: left as they are.
        if !missed && !progressed {
            return Ok(labelled);
        }
        // A document changed between read and write is found again by the next query (unless
        // the change labelled it). Batches that keep missing mean documents changing faster
        // than this loop: the run stops with TRY_AGAIN, and the next picks them up.
        retries = if missed { retries + 1 } else { 0 };
        if retries > 20 {
            return Err(platform::Error::new(
                platform::problem_codes::ProblemCode::TryAgain,
                format!("{collection} kept changing while they were migrated"),
            ));
        }
    }
}

/// Gives every line of `lines` that has a product and no variant the product's single
/// variant; `titled` for lines that show the variant (cart lines, order items). True if it
/// changed one.
fn label_all(lines: &mut [Bson], titled: bool) -> bool {
    let mut changed = false;
    for line in lines.iter_mut().filter_map(Bson::as_document_mut) {
        if line.contains_key("variantId") {
            continue;
        }
        // Lines written through `to_bson` (a refreshed cart, a refund's lines) hold the id as
        // its hex string.
        let product = match line.get("productId") {
            Some(Bson::ObjectId(id)) => *id,
            Some(Bson::String(hex)) => match ObjectId::parse_str(hex) {
                Ok(id) => id,
                Err(_) => continue,
            },
            _ => continue,
        };
        line.insert("variantId", product);
        line.insert("sku", legacy_sku(ProductId(product)));
        if titled {
            line.insert("variantTitle", DEFAULT_VARIANT_TITLE);
        }
        changed = true;
    }
    changed
}
