//! `GET /dev/return?orderId=…`: the page `make dev` sends the shopper back to after the
//! PhonePe simulator (its default `PHONEPE_REDIRECT_URL`), standing in for the storefront's own
//! return page. Only the dev server serves it; no Lambda and no deployed route does.
//!
//! A storefront's return page polls `GET /orders/{id}` with the shopper's Clerk session token
//! until the webhook has settled the payment (docs/storefront.md). The browser arriving here
//! from the simulator carries no token, and `make dev` has no sign-in to get one, so this page
//! reads the order straight from the database and shows only what the shopper just did: the
//! order's number, status, payment status and total. It polls by reloading itself every second
//! while the payment is unsettled; it has no script at all.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::platform::services::Services;
use common::shop::order::model::ORDERS;
use common::shop::order::model::{Order, PaymentStatus};
use common::shop::order::status::OrderStatus;
use std::collections::HashMap;

pub const PATH: &str = "/dev/return";

pub fn router(services: &Services) -> Router {
    Router::new()
        .route(PATH, get(show))
        .with_state(services.clone())
}

/// Every value is escaped by askama (an `.html` template): the order id comes from the query
/// string, which anyone can put in a link.
#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if waiting %}<meta http-equiv="refresh" content="1">{% endif %}
<title>{{ title }} · Pitalya (make dev)</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}code{background:#f3f0e8;padding:0 .2em}</style>
</head>
<body>
<main id="order" data-order="{{ order_ref }}" data-status="{{ status }}" data-payment="{{ payment }}">
<h1>{{ title }}</h1>
<p id="headline">{{ headline }}</p>
{% if found %}<p>Order status <code>{{ status }}</code>, payment <code>{{ payment }}</code>, total {{ total }}.</p>{% endif %}
<p><small>This is <code>make dev</code>'s stand-in for a storefront's return page (served only by
the dev server, at <code>PHONEPE_REDIRECT_URL</code>). It reads the order from the database,
as the browser coming back from PhonePe has no session token; a storefront polls
<code>GET /orders/{id}</code> with the shopper's token instead.</small></p>
</main>
</body>
</html>
"#
)]
struct ReturnPage {
    title: String,
    headline: &'static str,
    order_ref: String,
    status: &'static str,
    payment: &'static str,
    total: String,
    found: bool,
    waiting: bool,
}

async fn show(
    State(services): State<Services>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let raw = query.get("orderId").map(String::as_str).unwrap_or_default();
    let (status, page) = match find(&services, raw).await {
        Ok(Some(order)) => (StatusCode::OK, for_order(&order)),
        Ok(None) => (StatusCode::NOT_FOUND, not_found(raw)),
        Err(e) => return e.into_response(),
    };
    match page.render() {
        Ok(html) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                // No script, nothing from elsewhere: only the inline style above.
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; style-src 'unsafe-inline'",
                ),
            ],
            html,
        )
            .into_response(),
        Err(e) => {
            common::platform::Error::Internal(anyhow::anyhow!("return page: {e}")).into_response()
        }
    }
}

/// The order `raw` names (its id or its number), or `None` for anything that names none.
async fn find(services: &Services, raw: &str) -> common::platform::Result<Option<Order>> {
    let Ok(filter) = common::shop::order::lifecycle::filter_for(raw) else {
        return Ok(None);
    };
    Ok(services
        .db
        .collection::<Order>(ORDERS)
        .find_one(filter)
        .await?)
}

fn for_order(order: &Order) -> ReturnPage {
    let unsettled = matches!(
        order.status,
        OrderStatus::Created | OrderStatus::PaymentPending
    );
    let (headline, waiting) = match (order.status, order.payment.status) {
        (_, PaymentStatus::Failed) if unsettled => (
            "The payment failed. A storefront offers to pay again here (a new initiate).",
            false,
        ),
        _ if unsettled => (
            "Waiting for PhonePe to confirm the payment; this page checks again every second.",
            true,
        ),
        (OrderStatus::Cancelled, _) => ("This order was cancelled.", false),
        _ => ("Paid. Thank you for your order!", false),
    };
    ReturnPage {
        title: format!(
            "Order {}",
            order.number.clone().unwrap_or_else(|| order.id.to_hex())
        ),
        headline,
        order_ref: order.id.to_hex(),
        status: order.status.as_str(),
        payment: order.payment.status.as_str(),
        total: order.total.format_inr(),
        found: true,
        waiting,
    }
}

fn not_found(raw: &str) -> ReturnPage {
    ReturnPage {
        title: "No such order".into(),
        headline: "No order has that id or number.",
        order_ref: raw.into(),
        status: "",
        payment: "",
        total: String::new(),
        found: false,
        waiting: false,
    }
}
