//! `products`: the public catalog. `GET /products` and `GET /products/{slug}`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use common::platform::db::Db;
use common::platform::http::{List, Page};
use common::platform::problem_codes::ProblemCode;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::catalog::is_valid_slug;
use common::shop::catalog::PRODUCTS;
use common::shop::catalog::{Product, ProductView};
use mongodb::bson::{doc, Document};

/// The settings this function reads at cold start: the catalog needs only the core.
/// `main.rs` and the tests read this one type, so they cannot drift apart.
pub type Settings = common::platform::config::Config;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/products"),
    ("GET", "/products/{slug}"),
    ("GET", "/health"),
];

pub fn router(services: &Services) -> Router {
    Router::new()
        .route("/products", get(list))
        .route("/products/{slug}", get(by_slug))
        .with_state(services.db.clone())
        .merge(common::platform::health::router(services.db.clone()))
}

/// What a shopper may see: an active product with at least one active variant (a product
/// stored before variants has its one, always active).
fn on_sale() -> Document {
    doc! {
        "isActive": true,
        "$or": [
            { "variants": { "$exists": false } },
            { "variants": { "$elemMatch": { "isActive": true } } },
        ],
    }
}

async fn list(State(db): State<Db>, page: Page) -> Result<List<ProductView>> {
    let filter = on_sale();
    let rows: Vec<Product> = page
        .newest_first(&db.collection::<Product>(PRODUCTS), filter)
        .await?;
    Ok(List::from_rows(
        rows,
        page,
        |p| p.id.oid(),
        ProductView::for_shopper,
    ))
}

async fn by_slug(State(db): State<Db>, Path(slug): Path<String>) -> Result<Json<ProductView>> {
    let not_found = || {
        Error::new(
            ProblemCode::ProductNotFound,
            format!("No product '{}'", truncate(&slug)),
        )
    };
    if !is_valid_slug(&slug) {
        return Err(not_found());
    }
    db.collection::<Product>(PRODUCTS)
        .find_one({
            let mut filter = on_sale();
            filter.insert("slug", &slug);
            filter
        })
        .await?
        .map(|p| Json(ProductView::for_shopper(p)))
        .ok_or_else(not_found)
}

/// Echoing a hostile 10 KB path back in `detail` helps no one.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}
