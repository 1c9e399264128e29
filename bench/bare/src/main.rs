//! `bench-bare`: serves `bench_bare`'s routes on 127.0.0.1:$PORT for the load comparison.
//! The caller is named by `x-user-id` / `x-user-email` instead of a verified token.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bench_bare::Bare;
use mongodb::bson::{oid::ObjectId, Document};
use serde_json::Value;

type Reply = Result<Json<Value>, (StatusCode, String)>;

fn fail(e: anyhow::Error) -> (StatusCode, String) {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn json(v: impl serde::Serialize) -> Reply {
    serde_json::to_value(v)
        .map(Json)
        .map_err(|e| fail(e.into()))
}

async fn list(State(bare): State<Bare>) -> Reply {
    json(bare.list_products(20).await.map_err(fail)?)
}

async fn by_slug(State(bare): State<Bare>, Path(slug): Path<String>) -> Reply {
    match bare.product(&slug).await.map_err(fail)? {
        Some(p) => json(p),
        None => Err((StatusCode::NOT_FOUND, String::new())),
    }
}

async fn cart_add(State(bare): State<Bare>, h: HeaderMap, Json(body): Json<Value>) -> Reply {
    let pid = body["productId"]
        .as_str()
        .and_then(|s| ObjectId::parse_str(s).ok())
        .ok_or((StatusCode::BAD_REQUEST, String::new()))?;
    let q = body["quantity"].as_i64().unwrap_or(1);
    json(
        bare.cart_add(header(&h, "x-user-id"), pid, q)
            .await
            .map_err(fail)?,
    )
}

async fn checkout(State(bare): State<Bare>, h: HeaderMap, Json(body): Json<Value>) -> Reply {
    let address: Document =
        mongodb::bson::to_document(&body["shippingAddress"]).map_err(|e| fail(e.into()))?;
    let order = bare
        .checkout(header(&h, "x-user-id"), header(&h, "x-user-email"), address)
        .await
        .map_err(fail)?;
    json(order)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(k).map_err(|_| anyhow::anyhow!("{k} must be set"));
    let bare = Bare::connect(
        &var("MONGODB_URI")?,
        &var("MONGODB_DB")?,
        std::env::var("AWS_ENDPOINT_URL_SES").ok(),
        var("SES_FROM")?,
    )
    .await?;
    let app = Router::new()
        .route("/products", get(list))
        .route("/products/{slug}", get(by_slug))
        .route("/cart/add", post(cart_add))
        .route("/orders/create", post(checkout))
        .with_state(bare);
    let port: u16 = var("PORT")?.parse()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
