//! `jobs`: scheduled work — mail outbox delivery, PhonePe reconciliation and expiry of
//! unpaid orders. Triggered by an EventBridge schedule; each run does a bounded amount of work.

use common::services::Services;
use serde_json::{json, Value};

/// Outbox entries one run may send. At SES's default 14 mails/s and four in flight this fits
/// comfortably in the mail step's time budget; a backlog drains over consecutive runs.
const MAIL_BATCH: usize = 200;

/// One scheduled run. Returns a summary that is logged and returned to the invoker.
pub async fn run_once(services: &Services) -> Value {
    let mail = deliver_mail(services).await;
    json!({ "ok": true, "mail": mail })
}

/// Step: send what the mail outbox has due (first attempts that the API could not finish,
/// and retries whose backoff has passed).
async fn deliver_mail(services: &Services) -> Value {
    match &services.mailer {
        Some(mailer) => {
            let report = mailer.deliver_due(&services.db, MAIL_BATCH).await;
            if report.sent + report.retried + report.failed + report.skipped > 0 {
                tracing::info!(?report, "mail outbox drained");
            }
            json!(report)
        }
        None => json!("not configured"),
    }
}
