//! `make dev`'s return page (`GET /dev/return?orderId=…`), where the PhonePe simulator sends
//! the shopper back by default: it shows the order's status and reloads itself until the
//! payment is settled.

use crate::payments::{app_with_sim, initiate, initiate_mid, insert_order};
use std::time::Duration;

const REFRESH: &str = r#"<meta http-equiv="refresh""#;

async fn page(app: &crate::support::TestApp, order_id: &str) -> (u16, String) {
    let res = app
        .http
        .get(format!("{}/dev/return", app.base))
        .query(&[("orderId", order_id)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/html; charset=utf-8",
        "{res:?}"
    );
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_return_page_waits_for_the_payment_and_then_shows_the_order_paid() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_returning", 129_900).await;
    let started = initiate(&app, "user_returning", order).await;

    let (status, html) = page(&app, &order.to_hex()).await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"data-status="payment_pending""#), "{html}");
    assert!(
        html.contains(REFRESH),
        "an unsettled order is polled: {html}"
    );

    let pay_page = started["redirectUrl"].as_str().unwrap();
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    no_follow
        .post(format!("{pay_page}/complete"))
        .send()
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;

    let (status, html) = page(&app, &order.to_hex()).await;
    assert_eq!(status, 200);
    assert!(
        html.contains(r#"data-status="paid""#) && html.contains(r#"data-payment="paid""#),
        "{html}"
    );
    assert!(html.contains("₹1,299.00"), "{html}");
    assert!(
        !html.contains(REFRESH),
        "a paid order is not polled: {html}"
    );
}

#[tokio::test]
async fn the_return_page_says_a_failed_payment_failed_and_stops_polling() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_declined", 50_000).await;
    let mid = initiate_mid(&app, "user_declined", order).await;
    let failed = app
        .http
        .post(format!("{}/simulator/orders/{mid}/fail", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(failed.status().is_success(), "{failed:?}");
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;

    let (_, html) = page(&app, &order.to_hex()).await;
    assert!(html.contains(r#"data-payment="failed""#), "{html}");
    assert!(html.contains("payment failed"), "{html}");
    assert!(!html.contains(REFRESH), "{html}");
}

#[tokio::test]
async fn the_return_page_escapes_whatever_the_link_carries() {
    let app = crate::support::TestApp::spawn().await;
    for raw in [
        r#"<script>alert(1)</script>"#,
        r#"PIT-1"><img src=x onerror=alert(1)>"#,
        "",
    ] {
        let (status, html) = page(&app, raw).await;
        assert_eq!(status, 404, "{raw}: {html}");
        assert!(
            !html.contains("<script") && !html.contains("<img"),
            "{raw} came back as markup: {html}"
        );
    }
    // Shown as text: escaped, not dropped.
    let (_, html) = page(&app, "<script>alert(1)</script>").await;
    assert!(
        html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
        "{html}"
    );
}
