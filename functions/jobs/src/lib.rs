//! `jobs`: scheduled work — mail outbox delivery, PhonePe reconciliation and expiry of
//! unpaid orders. Triggered by an EventBridge schedule; each run does a bounded amount of work.

use common::integrations::phonepe::PhonePe;
use common::platform::clock::SharedClock;
use common::platform::config::{Config, MailConfig, PhonePeConfig};
use common::platform::db::Db;
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use common::shop::messages::outbox::MailStatus;
use common::shop::order::model::Order;
use common::shop::order::model::ORDERS;
use common::shop::order::settings::PaymentWindow;
use common::shop::order::transition::{self, Transition, UNPAID};
use common::shop::payments;
use common::shop::payments::AttemptState;
use common::shop::refunds;
use common::shop::vocabulary::ids::OrderId;
use futures::TryStreamExt;
use mongodb::bson::{doc, DateTime};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The settings this function reads at cold start: jobs reconciles with PhonePe and drains
/// the mail outbox; it prices nothing, so the seller settings are not its own. `main.rs` and
/// the tests read this one type, so they cannot drift apart.
pub type Settings = (Config, PhonePeConfig, MailConfig, PaymentWindow);

/// What a run is built from, once per cold start.
#[derive(Clone)]
pub struct Jobs {
    db: Db,
    /// Deadlines, back-off and the backlog's ages are read on it.
    clock: SharedClock,
    phonepe: Arc<PhonePe>,
    mailer: Arc<Mailer>,
    window: PaymentWindow,
}

impl Jobs {
    pub fn new(
        services: &Services,
        phonepe: Arc<PhonePe>,
        mailer: Arc<Mailer>,
        window: PaymentWindow,
    ) -> Self {
        Jobs {
            db: services.db.clone(),
            clock: services.clock.clone(),
            phonepe,
            mailer,
            window,
        }
    }

    async fn send_mail_now(&self, order_id: OrderId) {
        self.mailer.send_now(&self.db, order_id).await;
    }
}

/// Outbox entries one run may send. At SES's default 14 mails/s and four in flight this fits
/// comfortably in the mail step's time budget; a backlog drains over consecutive runs.
const MAIL_BATCH: usize = 200;

/// One scheduled run. Returns a summary that is logged and returned to the invoker.
pub async fn run_once(jobs: &Jobs) -> Value {
    // Payments first: a payment that landed must win over expiry, and the mail they queue
    // goes out in the same run.
    let reconciliation = reconcile_payments(jobs).await;
    let refunds = drive_refunds(jobs).await;
    let expiry = expire_unpaid_orders(jobs).await;
    let mail = deliver_mail(jobs).await;
    let backlog = match measure_backlog(jobs).await {
        Ok(b) => {
            // Only a real Lambda has CloudWatch behind its stdout; the dev server's loop
            // would just print the line every few seconds.
            if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
                b.publish();
            }
            json!(b)
        }
        Err(e) => {
            tracing::error!(error = %e, "could not measure the backlog");
            json!("unavailable")
        }
    };
    json!({ "ok": true, "reconciliation": reconciliation, "refunds": refunds, "expiry": expiry, "mail": mail, "backlog": backlog })
}

/// Work that should have been done by now. Every field is zero on a healthy shop; the
/// template's alarms fire when one stays above zero, which is how on-call learns that mail,
/// reconciliation or refunds are stuck even when no single run failed.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Backlog {
    /// Mails still queued 15 minutes after they were queued.
    pub mail_backlog: u64,
    /// Mails given up on (bad address, unverified sender, too many attempts) or whose sender
    /// died mid-send (`unconfirmed`): each needs a human to look.
    pub mail_failed: u64,
    /// Payment attempts still open two hours on: PhonePe links last an hour at most, so
    /// reconciliation is not getting answers.
    pub payments_unresolved: u64,
    /// Refunds (cancelled paid orders, extra charges) not finished within an hour.
    pub refunds_overdue: u64,
    /// Active products without an HSN code or GST rate: checkout refuses any cart holding
    /// one (`PRODUCT_NOT_TAXABLE`), so each is a sale lost until the owner fixes it.
    pub products_untaxed: u64,
}

pub async fn measure_backlog(jobs: &Jobs) -> common::platform::Result<Backlog> {
    use common::shop::catalog::PRODUCTS;
    use common::shop::messages::outbox::MAIL_OUTBOX;
    use common::shop::payments::PAYMENT_ATTEMPTS;
    let db = &jobs.db;
    let ago = |mins: i64| jobs.clock.after_ms(-mins * 60_000);
    let count =
        |coll: &'static str, filter| async move { db.docs(coll).count_documents(filter).await };
    Ok(Backlog {
        mail_backlog: count(
            MAIL_OUTBOX,
            doc! { "status": { "$in": [MailStatus::Pending, MailStatus::Sending] }, "createdAt": { "$lt": ago(15) } },
        )
        .await?,
        mail_failed: count(
            MAIL_OUTBOX,
            doc! { "status": { "$in": [MailStatus::Failed, MailStatus::Unconfirmed] } },
        )
        .await?,
        payments_unresolved: count(
            PAYMENT_ATTEMPTS,
            doc! { "state": { "$in": [AttemptState::Creating, AttemptState::Pending] }, "createdAt": { "$lt": ago(120) } },
        )
        .await?,
        refunds_overdue: refunds::count_stale(db, &*jobs.clock, 60 * 60_000).await?,
        products_untaxed: count(
            PRODUCTS,
            // `null` matches a missing field as well as a null one.
            doc! { "isActive": true, "$or": [{ "hsn": null }, { "gstRate": null }] },
        )
        .await?,
    })
}

impl Backlog {
    /// One CloudWatch embedded-metric-format line on stdout: CloudWatch Logs turns it into
    /// metrics in the `Pitalya` namespace without any extra permission or API call. Written
    /// raw, not through `tracing`, because EMF must be the whole log line.
    pub fn publish(&self) {
        println!("{}", self.emf(DateTime::now().timestamp_millis()));
    }

    pub fn emf(&self, timestamp_ms: i64) -> Value {
        let names = [
            "MailBacklog",
            "MailFailed",
            "PaymentsUnresolved",
            "RefundsOverdue",
            "ProductsUntaxed",
        ];
        let mut line = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "Pitalya",
                    "Dimensions": [[]],
                    "Metrics": names.iter().map(|n| json!({ "Name": n, "Unit": "Count" })).collect::<Vec<_>>(),
                }],
            },
        });
        if let (Value::Object(out), Ok(Value::Object(values))) =
            (&mut line, serde_json::to_value(self))
        {
            out.extend(values);
        }
        line
    }
}

/// Step: send what the mail outbox has due (first attempts that the API could not finish,
/// and retries whose backoff has passed).
async fn deliver_mail(jobs: &Jobs) -> Value {
    let report = jobs.mailer.deliver_due(&jobs.db, MAIL_BATCH).await;
    if report.sent + report.retried + report.failed + report.skipped > 0 {
        tracing::info!(?report, "mail outbox drained");
    }
    json!(report)
}

/// Unpaid orders one run may expire; an older backlog drains over consecutive runs.
const EXPIRY_BATCH: i64 = 100;

/// What one expiry step did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ExpiryReport {
    /// Cancelled, with their stock and coupon uses returned.
    pub expired: u32,
    /// Left alone: paid meanwhile, or the final payment check said to wait.
    pub kept: u32,
    pub failed: u32,
}

/// Step: cancel orders still unpaid (`created`/`payment_pending`) after
/// `ORDER_PAYMENT_TIMEOUT_MINUTES`, giving back their stock and coupon uses.
async fn expire_unpaid_orders(jobs: &Jobs) -> Value {
    match expire_unpaid(jobs).await {
        Ok(report) => {
            if report.expired + report.kept + report.failed > 0 {
                tracing::info!(?report, "unpaid orders expired");
            }
            json!(report)
        }
        Err(e) => {
            tracing::error!(error = ?e, "expiry step failed");
            json!({ "error": e.code() })
        }
    }
}

pub async fn expire_unpaid(jobs: &Jobs) -> common::platform::Result<ExpiryReport> {
    let timeout_ms = jobs.window.millis();
    let cutoff = jobs.clock.after_ms(-timeout_ms);
    let unpaid: Vec<&str> = UNPAID.iter().map(|s| s.as_str()).collect();
    let due: Vec<Order> = jobs
        .db
        .collection::<Order>(ORDERS)
        .find(doc! { "status": { "$in": unpaid }, "createdAt": { "$lt": cutoff } })
        .sort(doc! { "createdAt": 1 })
        .limit(EXPIRY_BATCH)
        .await?
        .try_collect()
        .await?;
    let mut report = ExpiryReport::default();
    for order in due {
        let id = order.id;
        match final_payment_check(jobs, &order).await {
            Ok(true) => {}
            Ok(false) => {
                report.kept += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(order_id = %id, error = ?e, "final payment check failed; not expiring yet");
                report.kept += 1;
                continue;
            }
        }
        match transition::apply(&jobs.db, id, &Transition::Expire).await {
            Ok(outcome) if outcome.moved() => {
                report.expired += 1;
                jobs.send_mail_now(order.id).await;
            }
            Ok(_) => report.kept += 1,
            Err(e) => {
                tracing::error!(order_id = %id, error = ?e, "could not expire order");
                report.failed += 1;
            }
        }
    }
    Ok(report)
}

/// The final PhonePe status check before an unpaid order is expired: applies whatever
/// PhonePe says about the order's open attempts (a completed payment marks it paid) and
/// answers `false` — keep the order for now — unless expiring is known to be safe.
async fn final_payment_check(jobs: &Jobs, order: &Order) -> common::platform::Result<bool> {
    let safe = payments::safe_to_expire(&jobs.db, &jobs.phonepe, order.id).await?;
    if !safe {
        // The check may have marked it paid; its mail should not wait for the next run.
        jobs.send_mail_now(order.id).await;
    }
    Ok(safe)
}

/// Attempts one run may ask PhonePe about, and refunds it may drive.
const PAYMENTS_BATCH: i64 = 50;

/// Step: ask PhonePe about payment attempts open for over a minute (webhooks can be lost),
/// backing off per attempt as PhonePe advises, and apply the answers.
async fn reconcile_payments(jobs: &Jobs) -> Value {
    match payments::reconcile_due(&jobs.db, &*jobs.clock, &jobs.phonepe, PAYMENTS_BATCH).await {
        Ok(changed) => {
            for (order_id, _) in &changed {
                jobs.send_mail_now(*order_id).await;
            }
            if !changed.is_empty() {
                tracing::info!(changed = changed.len(), "payments reconciled");
            }
            json!({ "changed": changed.len() })
        }
        Err(e) => {
            tracing::error!(error = ?e, "reconciliation step failed");
            json!({ "error": e.code() })
        }
    }
}

/// Step: request and follow up every pending refund (cancellations, the owner's refunds,
/// extra charges) through the one refund loop.
async fn drive_refunds(jobs: &Jobs) -> Value {
    match refunds::drive(&jobs.db, &*jobs.clock, &jobs.phonepe, PAYMENTS_BATCH).await {
        Ok(refunded) => {
            for order_id in &refunded {
                jobs.send_mail_now(*order_id).await;
            }
            json!({ "refunded": refunded.len() })
        }
        Err(e) => {
            tracing::error!(error = ?e, "refund step failed");
            json!({ "error": e.code() })
        }
    }
}
