//! The hosted payment page behind `redirectUrl`: Pay / Fail buttons, then back to the merchant.

use axum::extract::State as Sim;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::api::Id;
use crate::store::State;
use crate::{lock, HookOptions, SimState};

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/pay/{token}", get(show))
        .route("/pay/{token}/complete", post(complete))
        .route("/pay/{token}/fail", post(fail))
}

struct PageOrder {
    merchant_order_id: String,
    amount: i64,
    state: State,
    redirect_url: Option<String>,
}

fn lookup(sim: &SimState, token: &str) -> Option<PageOrder> {
    sim.sweep_expired();
    let store = lock(&sim.inner.store);
    let order = store
        .by_page_token
        .get(token)
        .and_then(|id| store.orders.get(id))?;
    Some(PageOrder {
        merchant_order_id: order.merchant_order_id.clone(),
        amount: order.amount,
        state: order.state,
        redirect_url: order.redirect_url.clone(),
    })
}

async fn show(Sim(sim): Sim<SimState>, Id(token): Id) -> Response {
    let Some(order) = lookup(&sim, &token) else {
        return unknown_page();
    };
    let body = if order.state == State::Pending {
        format!(
            r#"<form method="post" action="/pay/{token}/complete"><button class="pay" type="submit">Pay</button></form>
<form method="post" action="/pay/{token}/fail"><button class="fail" type="submit">Fail</button></form>"#,
            token = escape(&token)
        )
    } else {
        format!(
            "<p>This payment is already <strong>{}</strong>.</p>{}",
            order.state.as_str(),
            back_link(order.redirect_url.as_deref())
        )
    };
    page(StatusCode::OK, &order, &body)
}

async fn complete(sim: Sim<SimState>, token: Id) -> Response {
    finish(sim, token, true).await
}

async fn fail(sim: Sim<SimState>, token: Id) -> Response {
    finish(sim, token, false).await
}

/// Settles the order like PhonePe would, then sends the shopper back to the merchant. A second
/// click (or a click after expiry) changes nothing but still redirects, as the real page would.
async fn finish(Sim(sim): Sim<SimState>, Id(token): Id, pay: bool) -> Response {
    let Some(order) = lookup(&sim, &token) else {
        return unknown_page();
    };
    let id = &order.merchant_order_id;
    let result = if pay {
        sim.complete_order(id, HookOptions::default()).await
    } else {
        sim.fail_order(id, HookOptions::default()).await
    };
    if let Err(e) = &result {
        tracing::info!(merchant_order_id = %id, error = %e, "hosted page action ignored");
    }
    let order = lookup(&sim, &token).unwrap_or(order);
    match &order.redirect_url {
        Some(url) => (StatusCode::SEE_OTHER, [(header::LOCATION, url.as_str())]).into_response(),
        None => {
            let body = format!(
                "<p>Payment {}.</p><p>You can close this window.</p>",
                if order.state == State::Completed {
                    "complete"
                } else {
                    "failed"
                }
            );
            page(StatusCode::OK, &order, &body)
        }
    }
}

fn back_link(url: Option<&str>) -> String {
    url.map(|u| {
        format!(
            r#"<p><a href="{}">Return to the merchant</a></p>"#,
            escape(u)
        )
    })
    .unwrap_or_default()
}

fn unknown_page() -> Response {
    let html = layout("<h1>Payment link not found</h1><p>This payment link is invalid.</p>");
    (StatusCode::NOT_FOUND, Html(html)).into_response()
}

fn page(status: StatusCode, order: &PageOrder, body: &str) -> Response {
    let html = layout(&format!(
        r#"<h1>PhonePe Simulator</h1>
<p class="muted">Merchant order</p><p class="id">{id}</p>
<p class="amount">{amount}</p>
{body}"#,
        id = escape(&order.merchant_order_id),
        amount = format_inr(order.amount),
    ));
    (status, Html(html)).into_response()
}

fn layout(content: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>PhonePe Simulator</title>
<style>
body{{font-family:system-ui,sans-serif;background:#f3f0fa;margin:0;display:flex;justify-content:center}}
main{{background:#fff;margin:3rem 1rem;padding:2rem;border-radius:12px;max-width:24rem;width:100%;box-shadow:0 2px 12px #0002}}
h1{{color:#5f259f;font-size:1.25rem}} .muted{{color:#666;margin:0}} .id{{font-family:monospace;margin-top:.25rem}}
.amount{{font-size:2rem;font-weight:600}} form{{display:inline}}
button{{font-size:1rem;padding:.75rem 1.5rem;border:0;border-radius:8px;margin-right:.5rem;cursor:pointer;color:#fff}}
.pay{{background:#5f259f}} .fail{{background:#b3261e}}
</style></head><body><main>
{content}
</main></body></html>"#
    )
}

fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Paise as rupees with Indian digit grouping: 12990000 → `₹1,29,900.00`.
fn format_inr(paise: i64) -> String {
    let sign = if paise < 0 { "-" } else { "" };
    let paise = paise.unsigned_abs();
    let rupees = (paise / 100).to_string();
    let (head, last3) = rupees.split_at(rupees.len().saturating_sub(3));
    let mut groups: Vec<&str> = Vec::new();
    let mut rest = head;
    while rest.len() > 2 {
        let (h, t) = rest.split_at(rest.len() - 2);
        groups.insert(0, t);
        rest = h;
    }
    if !rest.is_empty() {
        groups.insert(0, rest);
    }
    groups.push(last3);
    format!("{sign}₹{}.{:02}", groups.join(","), paise % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_use_indian_grouping() {
        assert_eq!(format_inr(100), "₹1.00");
        assert_eq!(format_inr(99_999), "₹999.99");
        assert_eq!(format_inr(100_000), "₹1,000.00");
        assert_eq!(format_inr(12_990_000), "₹1,29,900.00");
        assert_eq!(format_inr(1_234_567_890), "₹1,23,45,678.90");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
