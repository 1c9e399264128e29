//! The owner's catalog: every product (inactive ones too) with its stock and ledger
//! (`/admin/products`), and stock adjustments (`POST /admin/products/{id}/stock`, the
//! `adjustStock` action). Writes go through `common::shop::catalog`, which the direct
//! `upsertProduct` and `openStockLedgers` and `make seed` use too.

use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use common::platform::auth::Admin;
use common::platform::db::regex_literal;
use common::platform::error::FieldError;
use common::platform::http::{List, Page};
use common::platform::problem_codes::ProblemCode;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::catalog::{
    self, ProductInput, ProductPatch, ProductRef, StockMovement, StockMovementView, VariantInput,
    PRODUCTS, STOCK_MOVEMENTS,
};
use common::shop::catalog::{Product, ProductView};
use common::shop::vocabulary::ids::{ProductId, VariantId};
use futures::TryStreamExt;
use mongodb::bson::{doc, Regex};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/products", get(list_products).post(create_product))
        .route("/admin/products/{id}", patch(patch_product))
        .route("/admin/products/{id}/stock", post(adjust_stock))
        .route("/admin/products/{id}/variants", post(add_variant))
        .route(
            "/admin/products/{id}/variants/{variantId}",
            patch(patch_variant),
        )
        .route(
            "/admin/products/{id}/variants/{variantId}/stock",
            post(adjust_variant_stock),
        )
        .route("/admin/products/{id}/stock-movements", get(stock_movements))
}

/// `q` and `isActive`, besides `limit` and `cursor`.
fn product_query(uri: &Uri) -> Result<(Option<String>, Option<bool>, Page)> {
    let (page, filters) = Page::parse_with(uri.query(), &["q", "isActive"])?;
    let mut errors = Vec::new();
    let (mut q, mut active) = (None, None);
    for (k, v) in filters {
        if k == "q" {
            let v = v.trim();
            if v.chars().count() > 100 {
                errors.push(FieldError::new("q", "must be at most 100 characters"));
            } else if v.chars().any(char::is_control) {
                // A NUL cannot reach the database's regex engine: found by the fuzzer.
                errors.push(FieldError::new("q", "must not contain control characters"));
            } else if !v.is_empty() {
                q = Some(v.to_owned());
            }
        } else {
            match v.as_str() {
                "true" => active = Some(true),
                "false" => active = Some(false),
                "" => {}
                _ => errors.push(FieldError::new("isActive", "must be true or false")),
            }
        }
    }
    if errors.is_empty() {
        Ok((q, active, page))
    } else {
        Err(Error::validation(errors))
    }
}

async fn list_products(
    State(services): State<Services>,
    _: Admin,
    uri: Uri,
) -> Result<List<ProductView>> {
    let (q, active, page) = product_query(&uri)?;
    let mut filter = doc! {};
    if let Some(q) = q {
        let pattern = Regex {
            pattern: regex_literal(&q),
            options: "i".into(),
        };
        filter.insert(
            "$or",
            vec![doc! { "name": pattern.clone() }, doc! { "slug": pattern }],
        );
    }
    if let Some(active) = active {
        filter.insert("isActive", active);
    }
    let rows: Vec<Product> = page
        .newest_first(&services.db.collection::<Product>(PRODUCTS), filter)
        .await?;
    Ok(List::from_rows(
        rows,
        page,
        |p| p.id.oid(),
        ProductView::from,
    ))
}

async fn create_product(
    State(services): State<Services>,
    Admin(user): Admin,
    common::platform::http::Json(input): common::platform::http::Json<ProductInput>,
) -> Result<(StatusCode, Json<ProductView>)> {
    let product = catalog::create_product(&services.db, input, user.id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

async fn add_variant(
    State(services): State<Services>,
    Admin(user): Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<VariantInput>,
) -> Result<(StatusCode, Json<ProductView>)> {
    let id = ProductId::from_path(&id)?;
    let product = catalog::add_variant(&services.db, id, input, user.id.as_str()).await?;
    Ok((StatusCode::CREATED, Json(product.into())))
}

async fn patch_variant(
    State(services): State<Services>,
    _: Admin,
    Path((id, variant_id)): Path<(String, String)>,
    common::platform::http::Json(input): common::platform::http::Json<VariantInput>,
) -> Result<Json<ProductView>> {
    let id = ProductId::from_path(&id)?;
    let variant_id = VariantId::from_path(&variant_id)?;
    let product = catalog::patch_variant(&services.db, id, variant_id, input).await?;
    Ok(Json(product.into()))
}

async fn adjust_variant_stock(
    State(services): State<Services>,
    Admin(user): Admin,
    Path((id, variant_id)): Path<(String, String)>,
    common::platform::http::Json(input): common::platform::http::Json<StockInput>,
) -> Result<Json<Value>> {
    let target = ProductRef::Id(ProductId::from_path(&id)?);
    let variant_id = VariantId::from_path(&variant_id)?;
    Ok(Json(
        adjust(
            &services,
            &target,
            Some(variant_id),
            input,
            user.id.as_str(),
        )
        .await?,
    ))
}

async fn patch_product(
    State(services): State<Services>,
    _: Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<ProductPatch>,
) -> Result<Json<ProductView>> {
    let id = ProductId::from_path(&id)?;
    let product = catalog::patch_product(&services.db, id, input).await?;
    Ok(Json(product.into()))
}

/// `POST /admin/products/{id}/stock` body, and the fields of the direct `adjustStock`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StockInput {
    #[serde(default)]
    pub delta: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

async fn adjust_stock(
    State(services): State<Services>,
    Admin(user): Admin,
    Path(id): Path<String>,
    common::platform::http::Json(input): common::platform::http::Json<StockInput>,
) -> Result<Json<Value>> {
    let target = ProductRef::Id(ProductId::from_path(&id)?);
    Ok(Json(
        adjust(&services, &target, None, input, user.id.as_str()).await?,
    ))
}

/// Moves a variant's stock by a delta, with its ledger entry: the routes and the direct
/// `adjustStock` action. Without a variant, the product's only one. Answers
/// `{"product", "movement"}`.
pub(crate) async fn adjust(
    services: &Services,
    target: &ProductRef,
    variant: Option<VariantId>,
    input: StockInput,
    by: &str,
) -> Result<Value> {
    let (delta, reason) = catalog::validate_adjustment(input.delta, input.reason.as_deref())?;
    let (product, movement) =
        catalog::adjust_stock(&services.db, target, variant, delta, &reason, by).await?;
    Ok(json!({
        "product": ProductView::from(product),
        "movement": StockMovementView::from(movement),
    }))
}

/// The direct `adjustStock` action names the product by `productId` or by `slug`.
pub(crate) fn product_named(
    product_id: Option<String>,
    slug: Option<String>,
) -> Result<ProductRef> {
    match (product_id, slug) {
        (Some(id), None) => Ok(ProductRef::Id(ProductId::from_field("productId", &id)?)),
        (None, Some(slug)) => Ok(ProductRef::Slug(slug)),
        (None, None) => Err(Error::field("productId", "productId or slug is required")),
        (Some(_), Some(_)) => Err(Error::field(
            "slug",
            "name the product by productId or slug, not both",
        )),
    }
}

/// The direct `upsertProduct` action: `{"product": <ProductInput>}` (see
/// `common::shop::catalog::upsert_product`).
pub(crate) async fn upsert(services: &Services, input: ProductInput) -> Result<Value> {
    let product = catalog::upsert_product(&services.db, input, crate::DIRECT_ACTOR).await?;
    Ok(json!({ "product": ProductView::from(product) }))
}

/// The direct `openStockLedgers` action, run once after deploying the ledger to a shop with
/// products: `{"ok": true, "opened": <products given an opening entry>}`.
pub(crate) async fn open_ledgers(services: &Services) -> Result<Value> {
    let opened = catalog::open_stock_ledgers(&services.db, crate::DIRECT_ACTOR).await?;
    Ok(json!({ "opened": opened }))
}

/// Newest first, of every variant or (`?variantId=`) of one. Entries of one millisecond are
/// ordered by `_id`, so the cursor (the last entry's id) resumes exactly where the page
/// ended.
async fn stock_movements(
    State(services): State<Services>,
    _: Admin,
    Path(id): Path<String>,
    uri: Uri,
) -> Result<List<StockMovementView>> {
    let id = ProductId::from_path(&id)?;
    let (page, filters) = Page::parse_with(uri.query(), &["variantId"])?;
    let variant = filters
        .iter()
        .find(|(k, v)| k == "variantId" && !v.is_empty())
        .map(|(_, v)| VariantId::from_field("variantId", v))
        .transpose()?;
    let db = &services.db;
    db.docs(PRODUCTS)
        .find_one(doc! { "_id": id.oid() })
        .projection(doc! { "_id": 1 })
        .await?
        .ok_or_else(|| Error::new(ProblemCode::ProductNotFound, "No such product"))?;
    let ledger = db.collection::<StockMovement>(STOCK_MOVEMENTS);
    let mut filter = doc! { "productId": id.oid() };
    if let Some(v) = variant {
        // Entries written before variants have no `variantId` and moved the product's
        // single variant, whose id is the product's.
        if v == VariantId::from(id) {
            filter.insert("variantId", doc! { "$in": [v, mongodb::bson::Bson::Null] });
        } else {
            filter.insert("variantId", v);
        }
    }
    if let Some(after) = page.after {
        let last = ledger
            .find_one(doc! { "_id": after, "productId": id.oid() })
            .await?
            .ok_or_else(|| Error::field("cursor", "is not a cursor this API issued"))?;
        filter.insert(
            "$or",
            vec![
                doc! { "at": { "$lt": last.at } },
                doc! { "at": last.at, "_id": { "$lt": after } },
            ],
        );
    }
    let rows: Vec<StockMovement> = ledger
        .find(filter)
        .sort(doc! { "at": -1, "_id": -1 })
        .limit(page.limit + 1)
        .await?
        .try_collect()
        .await?;
    Ok(List::from_rows(
        rows,
        page,
        |m| m.id,
        StockMovementView::from,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_literal() {
        assert_eq!(regex_literal("a.b (2)"), r"a\.b \(2\)");
        assert_eq!(regex_literal("brass"), "brass");
    }

    #[test]
    fn product_queries_leave_paging_to_page() {
        let uri: Uri = "/admin/products?q=Brass%20Diya&isActive=false&limit=5"
            .parse()
            .unwrap();
        let (q, active, page) = product_query(&uri).unwrap();
        assert_eq!(
            (q.as_deref(), active, page.limit),
            (Some("Brass Diya"), Some(false), 5)
        );
        let bad: Uri = "/admin/products?isActive=yes&colour=gold".parse().unwrap();
        assert!(product_query(&bad).is_err());
    }
}
