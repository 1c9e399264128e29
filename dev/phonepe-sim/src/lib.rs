//! A PhonePe Standard Checkout v2 simulator that speaks PhonePe's real HTTP API.
//!
//! It serves the OAuth and PG "hosts" at its root, so a client (or the official SDK with its
//! `BaseUrl` constants patched) only needs its base URLs pointed at the simulator. State lives in
//! memory. Tests start it in-process with [`spawn`] and steer it through [`SimHandle`]; `make dev`
//! runs the `phonepe-sim` binary, steered over HTTP under `/simulator/*`.

mod api;
mod page;
mod store;
mod webhook;

pub use webhook::authorization as webhook_authorization;

use std::future::IntoFuture;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Deref;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use store::{Attempt, Attempts, ErrorCodes, State, Store};

/// Simulator settings. `Default` suits in-process tests (port 0, fast refunds, no webhook URL).
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub client_id: String,
    pub client_secret: String,
    pub client_version: String,
    pub merchant_id: String,
    /// Where webhooks go; can also be changed at runtime with [`SimState::set_webhook_url`].
    pub webhook_url: Option<String>,
    pub webhook_username: String,
    pub webhook_password: String,
    /// The URL browsers reach the simulator at (used for `redirectUrl`). Empty means
    /// `http://<bound address>`, which is what tests on port 0 want.
    pub public_base_url: String,
    pub token_ttl_secs: i64,
    /// Port [`spawn`] binds on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// How long a refund stays PENDING before it completes (or fails).
    pub refund_delay_ms: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            client_id: "PITALYASIM_CLIENT".into(),
            client_secret: "pitalya-sim-secret".into(),
            client_version: "1".into(),
            merchant_id: "PITALYASIM".into(),
            webhook_url: None,
            webhook_username: "pitalyasim".into(),
            webhook_password: "pitalyasim123".into(),
            public_base_url: String::new(),
            token_ttl_secs: 3600,
            port: 0,
            refund_delay_ms: 1000,
        }
    }
}

impl SimConfig {
    /// Reads `SIM_*` variables, falling back to the app's `PHONEPE_*` names so one environment
    /// configures both sides; anything absent keeps its [`Default`] value.
    pub fn from_env() -> anyhow::Result<Self> {
        fn var(names: &[&str]) -> Option<String> {
            names.iter().find_map(|n| {
                std::env::var(n)
                    .ok()
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
        }
        fn num<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T> {
            match var(&[name]) {
                Some(v) => v
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={v:?} is not a valid number")),
                None => Ok(default),
            }
        }
        let d = Self::default();
        let port = num("SIM_PORT", 4010u16)?;
        Ok(Self {
            client_id: var(&["SIM_CLIENT_ID", "PHONEPE_CLIENT_ID"]).unwrap_or(d.client_id),
            client_secret: var(&["SIM_CLIENT_SECRET", "PHONEPE_CLIENT_SECRET"])
                .unwrap_or(d.client_secret),
            client_version: var(&["SIM_CLIENT_VERSION"]).unwrap_or(d.client_version),
            merchant_id: var(&["SIM_MERCHANT_ID"]).unwrap_or(d.merchant_id),
            webhook_url: var(&["SIM_WEBHOOK_URL"]),
            webhook_username: var(&["SIM_WEBHOOK_USERNAME", "PHONEPE_WEBHOOK_USERNAME"])
                .unwrap_or(d.webhook_username),
            webhook_password: var(&["SIM_WEBHOOK_PASSWORD", "PHONEPE_WEBHOOK_PASSWORD"])
                .unwrap_or(d.webhook_password),
            // Port 0 is only known after binding, so leave it to `spawn`.
            public_base_url: var(&["SIM_PUBLIC_URL"]).unwrap_or_else(|| match port {
                0 => String::new(),
                p => format!("http://127.0.0.1:{p}"),
            }),
            token_ttl_secs: num("SIM_TOKEN_TTL_SECS", d.token_ttl_secs)?,
            port,
            refund_delay_ms: num("SIM_REFUND_DELAY_MS", d.refund_delay_ms)?,
        })
    }
}

/// Fault-injection switches, also served as JSON at `/simulator/config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Switches {
    /// Record webhooks but never send them (tests reconciliation by polling).
    pub drop_webhooks: bool,
    pub webhook_delay_ms: u64,
    /// Extra copies of every webhook, sent concurrently with the original.
    pub duplicate_webhooks: u32,
    /// Makes pay, status and refund calls fail.
    pub fail_api: Option<FailMode>,
    /// Makes `/v1/oauth/token` answer 500.
    pub fail_oauth: bool,
    /// Refunds end FAILED (with `pg.refund.failed`) instead of COMPLETED.
    pub fail_refunds: bool,
    /// Holds each refund request this long before registering it, as a slow PhonePe does:
    /// the request is in flight, and a status call in the meantime answers "not found".
    pub slow_refund_ms: u64,
    /// Holds each order-status and refund-status answer this long.
    pub slow_status_ms: u64,
    /// Holds each pay request this long before creating the PhonePe order.
    pub slow_pay_ms: u64,
    /// Settles each new order (`"COMPLETED"` or `"FAILED"`) and delivers its webhook before
    /// answering pay: a shopper so quick that the webhook beats the merchant's own record of
    /// PhonePe's answer.
    pub settle_on_pay: Option<SettleOnPay>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SettleOnPay {
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailMode {
    /// Answer 500 INTERNAL_SERVER_ERROR at once.
    #[serde(rename = "500")]
    ServerError,
    /// Hold the request for 30 s, then answer 500, so client timeouts fire first.
    #[serde(rename = "timeout")]
    Timeout,
}

/// One webhook delivery (each duplicate copy is its own record).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRecord {
    pub seq: u64,
    pub event: String,
    pub merchant_order_id: String,
    pub merchant_refund_id: Option<String>,
    pub url: Option<String>,
    pub authorization: String,
    pub body: Value,
    /// 0 for the original, 1.. for duplicates.
    pub copy: u32,
    /// True when `dropWebhooks` swallowed it: nothing went over the wire.
    pub dropped: bool,
    /// HTTP status the receiver answered, if it answered.
    pub status: Option<u16>,
    /// Transport error, timeout, or "no webhook URL configured".
    pub error: Option<String>,
    pub sent_at: i64,
}

impl WebhookRecord {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Options for the complete/fail script hooks (`POST /simulator/orders/{id}/complete|fail` body).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookOptions {
    /// Amount (paise) to put in the webhook payload instead of the order's, to test mismatches.
    pub amount: Option<i64>,
    /// Failure codes for `fail` (default INSUFFICIENT_BALANCE / Z9).
    pub error_code: Option<String>,
    pub detailed_error_code: Option<String>,
    /// Send the webhook again when the order is already in the requested state.
    #[serde(default)]
    pub resend_webhook: bool,
}

/// A PhonePe-shaped error: `{code, message, data}` with its HTTP status.
#[derive(Clone, Debug)]
pub struct SimError {
    pub status: StatusCode,
    pub body: Value,
}

impl SimError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({ "code": code, "message": message.into(), "data": {} }),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    pub(crate) fn order_not_found() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MERCHANT_ORDER_MAPPING_NOT_FOUND",
            "No entry found for Merchant",
        )
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl std::error::Error for SimError {}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Shared simulator state; cheap to clone. [`SimHandle`] derefs to it.
#[derive(Clone)]
pub struct SimState {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    store: Mutex<Store>,
    switches: Mutex<Switches>,
    webhook_url: Mutex<Option<String>>,
    webhooks: Mutex<Vec<WebhookRecord>>,
    webhook_seq: AtomicU64,
    /// Bumped by `reset` so webhooks still in flight from before it neither send nor record.
    generation: AtomicU64,
    /// How far a test has moved this simulator's clock past the system's (`advance_clock`).
    ahead_ms: AtomicI64,
    http: reqwest::Client,
}

/// A poisoned lock only means another request panicked mid-update; the simulator keeps serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SimState {
    pub fn new(config: SimConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Self {
            inner: Arc::new(Inner {
                webhook_url: Mutex::new(config.webhook_url.clone()),
                config,
                store: Mutex::default(),
                switches: Mutex::default(),
                webhooks: Mutex::default(),
                webhook_seq: AtomicU64::new(1),
                generation: AtomicU64::new(0),
                ahead_ms: AtomicI64::new(0),
                http,
            }),
        })
    }

    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    pub fn switches(&self) -> Switches {
        lock(&self.inner.switches).clone()
    }

    pub fn set_switches(&self, switches: Switches) {
        *lock(&self.inner.switches) = switches;
    }

    pub fn update_switches(&self, f: impl FnOnce(&mut Switches)) {
        f(&mut lock(&self.inner.switches));
    }

    pub fn webhook_url(&self) -> Option<String> {
        lock(&self.inner.webhook_url).clone()
    }

    /// Lets tests point webhooks at an app that was started after the simulator.
    pub fn set_webhook_url(&self, url: Option<String>) {
        *lock(&self.inner.webhook_url) = url;
    }

    /// Every webhook record so far, oldest first.
    pub fn webhooks(&self) -> Vec<WebhookRecord> {
        lock(&self.inner.webhooks).clone()
    }

    /// Webhooks that went over the wire (whatever the receiver answered); dropped ones excluded.
    pub fn webhook_count(&self) -> usize {
        lock(&self.inner.webhooks)
            .iter()
            .filter(|w| !w.dropped && w.url.is_some())
            .count()
    }

    /// Waits until every webhook sent for `merchant_order_id` has been answered (or failed).
    pub(crate) async fn wait_for_delivery(&self, merchant_order_id: &str, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            let (sent, pending) = lock(&self.inner.webhooks)
                .iter()
                .filter(|w| w.merchant_order_id == merchant_order_id && !w.dropped)
                .fold((0, 0), |(sent, pending), w| {
                    let open = w.status.is_none() && w.error.is_none();
                    (sent + 1, pending + usize::from(open))
                });
            // Dispatch records a delivery from its own task: wait for it to appear too.
            if sent > 0 && pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until [`Self::webhook_count`] reaches `n` or `timeout` passes; returns all records
    /// either way so the caller's assertion can show what did arrive.
    pub async fn wait_for_webhooks(&self, n: usize, timeout: Duration) -> Vec<WebhookRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.webhook_count() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.webhooks()
    }

    /// Forgets orders, refunds and webhook records and clears the switches. Issued tokens and the
    /// webhook URL survive, so a running app's cached token keeps working across tests.
    pub fn reset(&self) {
        let mut store = lock(&self.inner.store);
        let tokens = std::mem::take(&mut store.tokens);
        *store = Store {
            tokens,
            ..Store::default()
        };
        drop(store);
        self.set_switches(Switches::default());
        let mut webhooks = lock(&self.inner.webhooks);
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
        webhooks.clear();
    }

    /// The time token and order expiry are judged by: the system's, plus `advance_clock`.
    pub(crate) fn now_ms(&self) -> i64 {
        store::now_ms() + self.inner.ahead_ms.load(Ordering::SeqCst)
    }

    /// Moves this simulator's clock on, so a test expires tokens and orders without sleeping.
    pub fn advance_clock(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).expect("a test advances by less than an age");
        self.inner.ahead_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Invalidates every issued token, to exercise clients' 401 handling.
    pub fn revoke_tokens(&self) {
        lock(&self.inner.store).tokens.clear();
    }

    /// The order as `GET /checkout/v2/order/{id}/status?details=true` would show it.
    pub fn order_status(&self, merchant_order_id: &str) -> Option<Value> {
        self.sweep_expired();
        let store = lock(&self.inner.store);
        let order = store.orders.get(merchant_order_id)?;
        Some(order.to_json(self.merchant_id(), Attempts::All, false))
    }

    /// Every refund registered against `merchant_order_id`, as the refund-status API shows
    /// each: how tests and `make prove` see what PhonePe was really asked to pay back.
    pub fn refunds_of(&self, merchant_order_id: &str) -> Vec<Value> {
        let store = lock(&self.inner.store);
        let mut refunds: Vec<&store::Refund> = store
            .refunds
            .values()
            .filter(|r| r.original_merchant_order_id == merchant_order_id)
            .collect();
        refunds.sort_by_key(|r| r.timestamp);
        refunds
            .into_iter()
            .map(|r| r.to_json(self.merchant_id()))
            .collect()
    }

    /// Same as the hosted page's Pay button (minus the redirect): a COMPLETED attempt and the
    /// `checkout.order.completed` webhook. Idempotent on an already completed order.
    pub async fn complete_order(
        &self,
        merchant_order_id: &str,
        opts: HookOptions,
    ) -> Result<Value, SimError> {
        self.settle(merchant_order_id, true, opts)
    }

    /// Same as the hosted page's Fail button: a FAILED attempt and `checkout.order.failed`.
    pub async fn fail_order(
        &self,
        merchant_order_id: &str,
        opts: HookOptions,
    ) -> Result<Value, SimError> {
        self.settle(merchant_order_id, false, opts)
    }

    /// Expires a pending order now (FAILED / TXN_AUTO_FAILED, with `checkout.order.failed`)
    /// instead of waiting out its `expireAfter`.
    pub async fn expire_order(&self, merchant_order_id: &str) -> Result<Value, SimError> {
        {
            let mut store = lock(&self.inner.store);
            let order = store
                .orders
                .get_mut(merchant_order_id)
                .ok_or_else(SimError::order_not_found)?;
            if order.state != State::Pending {
                return Err(SimError::bad_request(format!(
                    "Order is already {}",
                    order.state.as_str()
                )));
            }
            order.expire_at = self.now_ms();
        }
        self.sweep_expired();
        self.order_status(merchant_order_id)
            .ok_or_else(SimError::order_not_found)
    }

    fn merchant_id(&self) -> &str {
        &self.inner.config.merchant_id
    }

    /// Applies expiry to pending orders and sends `checkout.order.failed` for each one that
    /// expired. Runs on every API call and once a second in [`spawn`].
    pub(crate) fn sweep_expired(&self) {
        let payloads: Vec<(String, Value)> = {
            let mut store = lock(&self.inner.store);
            let expired = store.expire_due(self.now_ms());
            expired
                .into_iter()
                .filter_map(|id| {
                    let o = store.orders.get(&id)?;
                    Some((id, o.webhook_payload(self.merchant_id(), None)))
                })
                .collect()
        };
        for (id, payload) in payloads {
            self.dispatch(vec![webhook::Event::order(
                "checkout.order.failed",
                &id,
                payload,
            )]);
        }
    }

    fn settle(&self, id: &str, complete: bool, opts: HookOptions) -> Result<Value, SimError> {
        self.sweep_expired();
        let (event, payload, fresh, status) = {
            let mut store = lock(&self.inner.store);
            let store = &mut *store;
            let order = store
                .orders
                .get_mut(id)
                .ok_or_else(SimError::order_not_found)?;
            let target = if complete {
                State::Completed
            } else {
                State::Failed
            };
            let fresh = match order.state {
                State::Pending => {
                    let error = (!complete).then(|| {
                        ErrorCodes::new(
                            opts.error_code.as_deref().unwrap_or("INSUFFICIENT_BALANCE"),
                            opts.detailed_error_code.as_deref().unwrap_or("Z9"),
                        )
                    });
                    let attempt = Attempt::new(order.amount, target, error.clone());
                    store
                        .by_transaction
                        .insert(attempt.transaction_id.clone(), id.to_owned());
                    order.attempts.push(attempt);
                    order.state = target;
                    order.error = error;
                    true
                }
                s if s == target => false,
                s => {
                    return Err(SimError::bad_request(format!(
                        "Order is already {}",
                        s.as_str()
                    )))
                }
            };
            let event = if complete {
                "checkout.order.completed"
            } else {
                "checkout.order.failed"
            };
            (
                event,
                order.webhook_payload(self.merchant_id(), opts.amount),
                fresh,
                order.to_json(self.merchant_id(), Attempts::All, false),
            )
        };
        if fresh || opts.resend_webhook {
            self.dispatch(vec![webhook::Event::order(event, id, payload)]);
        }
        Ok(status)
    }
}

/// Handle to a simulator started by [`spawn`]; derefs to [`SimState`] for switches and hooks.
#[derive(Clone)]
pub struct SimHandle {
    state: SimState,
    addr: SocketAddr,
    server: Arc<Mutex<Option<RunningServer>>>,
}

/// Stop signal and serving task of a spawned simulator.
type RunningServer = (oneshot::Sender<()>, JoinHandle<()>);

impl Deref for SimHandle {
    type Target = SimState;
    fn deref(&self) -> &SimState {
        &self.state
    }
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for both the OAuth and the PG host, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> &SimState {
        &self.state
    }

    /// Stops accepting connections and waits for in-flight requests to finish.
    pub async fn shutdown(&self) {
        let server = lock(&self.server).take();
        if let Some((stop, task)) = server {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// The simulator's routes: PhonePe's API paths, the hosted page and the `/simulator` controls.
pub fn router(state: SimState) -> axum::Router {
    api::routes()
        .merge(page::routes())
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
}

/// Binds 127.0.0.1:`config.port` (0 = any free port) and serves in a background task until
/// [`SimHandle::shutdown`] (dropping the handle does not stop it).
pub async fn spawn(mut config: SimConfig) -> anyhow::Result<(SocketAddr, SimHandle)> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, config.port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
    let addr = listener.local_addr()?;
    if config.public_base_url.trim().is_empty() {
        config.public_base_url = format!("http://{addr}");
    }
    let state = SimState::new(config)?;
    let app = router(state.clone());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let sweeper = state.clone();
    let task = tokio::spawn(async move {
        let stop = async move {
            if stop_rx.await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        let server = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .into_future();
        // Expired orders must produce their webhook even when nobody polls them.
        let ticker = async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                sweeper.sweep_expired();
            }
        };
        tokio::select! {
            result = server => if let Err(e) = result {
                tracing::error!(error = %e, "phonepe-sim server stopped");
            },
            () = ticker => {}
        }
    });
    let handle = SimHandle {
        state,
        addr,
        server: Arc::new(Mutex::new(Some((stop_tx, task)))),
    };
    Ok((addr, handle))
}
