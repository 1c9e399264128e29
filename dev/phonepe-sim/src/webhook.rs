//! Outgoing S2S callbacks, signed the way PhonePe signs them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{lock, store::now_ms, SimState, Switches, WebhookRecord};

pub(crate) struct Event {
    pub name: &'static str,
    pub merchant_order_id: String,
    pub merchant_refund_id: Option<String>,
    pub payload: Value,
}

impl Event {
    pub(crate) fn order(name: &'static str, merchant_order_id: &str, payload: Value) -> Self {
        Self {
            name,
            merchant_order_id: merchant_order_id.to_owned(),
            merchant_refund_id: None,
            payload,
        }
    }

    pub(crate) fn refund(
        name: &'static str,
        merchant_order_id: &str,
        merchant_refund_id: &str,
        payload: Value,
    ) -> Self {
        Self {
            merchant_refund_id: Some(merchant_refund_id.to_owned()),
            ..Self::order(name, merchant_order_id, payload)
        }
    }
}

/// The deprecated-but-still-sent `type` field that accompanies each `event`.
fn legacy_type(event: &str) -> &'static str {
    match event {
        "checkout.order.completed" => "CHECKOUT_ORDER_COMPLETED",
        "checkout.order.failed" => "CHECKOUT_ORDER_FAILED",
        "pg.refund.accepted" => "PG_REFUND_ACCEPTED",
        "pg.refund.completed" => "PG_REFUND_COMPLETED",
        _ => "PG_REFUND_FAILED",
    }
}

/// PhonePe's callback `Authorization`: lowercase hex SHA-256 of `username:password`, no prefix.
pub fn authorization(username: &str, password: &str) -> String {
    hex::encode(Sha256::digest(format!("{username}:{password}")))
}

impl SimState {
    /// Sends `events` in order on a background task. Switches and URL are read now, not at send
    /// time, so a test that flips a switch right after triggering an event gets what it expects.
    pub(crate) fn dispatch(&self, events: Vec<Event>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no Tokio runtime: webhooks not sent");
            return;
        };
        let switches = self.switches();
        let url = self.webhook_url();
        let generation = self.inner.generation.load(Ordering::SeqCst);
        let state = self.clone();
        rt.spawn(async move {
            for event in events {
                state
                    .deliver(event, &switches, url.as_deref(), generation)
                    .await;
            }
        });
    }

    async fn deliver(&self, event: Event, switches: &Switches, url: Option<&str>, generation: u64) {
        if switches.webhook_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(switches.webhook_delay_ms)).await;
        }
        if self.inner.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        let config = self.config();
        let auth = authorization(&config.webhook_username, &config.webhook_password);
        let body = json!({
            "event": event.name,
            "type": legacy_type(event.name),
            "payload": event.payload,
        });
        let copies = (0..=switches.duplicate_webhooks).map(|copy| {
            let record = WebhookRecord {
                seq: 0,
                event: event.name.to_owned(),
                merchant_order_id: event.merchant_order_id.clone(),
                merchant_refund_id: event.merchant_refund_id.clone(),
                url: url.map(str::to_owned),
                authorization: auth.clone(),
                body: body.clone(),
                copy,
                dropped: switches.drop_webhooks,
                status: None,
                error: None,
                sent_at: now_ms(),
            };
            self.send(record, generation)
        });
        futures::future::join_all(copies).await;
    }

    async fn send(&self, mut record: WebhookRecord, generation: u64) {
        match (&record.url, record.dropped) {
            (_, true) => {}
            (None, false) => record.error = Some("no webhook URL configured".into()),
            (Some(url), false) => {
                let result = self
                    .inner
                    .http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("authorization", &record.authorization)
                    .body(record.body.to_string())
                    .send()
                    .await;
                match result {
                    Ok(resp) => record.status = Some(resp.status().as_u16()),
                    Err(e) => record.error = Some(e.to_string()),
                }
            }
        }
        tracing::info!(
            event = %record.event,
            merchant_order_id = %record.merchant_order_id,
            copy = record.copy,
            dropped = record.dropped,
            status = ?record.status,
            error = ?record.error,
            "webhook"
        );
        let mut webhooks = lock(&self.inner.webhooks);
        if self.inner.generation.load(Ordering::SeqCst) == generation {
            record.seq = self.inner.webhook_seq.fetch_add(1, Ordering::Relaxed);
            webhooks.push(record);
        }
    }
}
