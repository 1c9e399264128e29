//! Mail delivery through Amazon SES: best-effort immediate sends after a commit, and the
//! retrying outbox drain run by `jobs`. Queueing is `crate::messages::outbox`.
//!
//! Every send goes through a lease on its outbox entry: an atomic `find_one_and_update` moves
//! it from `pending` (and due) to `sending` with `leaseUntil = now + 60 s` and a fresh
//! `leaseToken`, and the outcome is written back only by the holder of that token. Two `jobs`
//! runs, or a `jobs` run and an API call, therefore never send the same mail twice.
//!
//! A lease whose holder died (Lambda timeout, crash) expires. Right before calling SES the
//! holder stamps the entry `dispatchedAt`, so an expired lease tells which side of the SES call
//! the holder died on. Without the stamp, SES never saw the mail and the entry is claimable
//! again. With it, SES may or may not have accepted the mail, and SES has no idempotency key to
//! ask: sending again could mail the customer twice, which we never do, so the entry becomes
//! `unconfirmed` instead (as it does when SES does not answer a sent request in time), logged at error level and counted in the `MailFailed` metric (the
//! `jobs` backlog, alarmed). On-call checks the SES sending history for the recipient and sets
//! `status` back to `pending` if the mail did not go out. The invariant suite kills the server
//! mid-send to keep this honest. A new order's mails, sent right after checkout from the order
//! the request has in hand, are leased and stamped in one write (`send_for_new_order`): they
//! are rendered first, so nothing but the SES call lies between the stamp and SES.
//!
//! Entries move `pending → sending → sent`, or back to `pending` with exponential backoff
//! (30 s, 1 min, 2 min, … capped at 1 h) on throttling, 5xx and requests that never left, or
//! to `failed` on a permanent SES rejection or after `MAX_ATTEMPTS` (logged at error level:
//! the owner has to look). To resend a failed mail, set its `status` back to `pending`.
//!
//! Mails of one order go out in the order they were queued: an entry whose order still has
//! an earlier unsent mail is put back until that one is settled, so nobody reads "shipped"
//! before "confirmed".
//!
//! An order cancelled before its `order_placed`, `order_shipped` or `order_delivered` mail
//! went out gets that mail `skipped` (with a `skipReason`): the cancellation mail, which
//! lists the items and says what happens to the money, replaces it. `payment_success` is
//! still sent, because money was taken and the refund mail refers to it. A `payment_failed`
//! mail ("pay again") is `skipped` once the order is paid, cancelled or has a newer payment
//! attempt under way: it would ask for what is done or happening.

mod render;

pub use render::{render, render_for, sample_order, sample_order_page, subject, BRAND};

use crate::messages::outbox::MAIL_OUTBOX;
use crate::messages::outbox::{MailEvent, MailStatus};
use crate::order::model::ORDERS;
use crate::order::model::{Order, PaymentStatus};
use crate::order::status::OrderStatus;
use crate::vocabulary::ids::OrderId;
use integrations::ses::{self, Mail, SendError, Ses};
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use mongodb::options::ReturnDocument;
use platform::clock::SharedClock;
use platform::config::MailConfig;
use platform::db::Db;
use serde::Deserialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long a claimed entry is reserved for its sender. Longer than any send takes
/// (`ses::CALL_TIMEOUT` plus a write), so a live sender never loses its lease.
const LEASE: Duration = Duration::from_secs(60);
/// The API answers within this even when SES is slow; what is not sent is left to `jobs`.
const SEND_NOW_BUDGET: Duration = Duration::from_secs(2);
/// `jobs` has other steps and a 60 s timeout; mail gets at most this much of it.
const DELIVER_BUDGET: Duration = Duration::from_secs(25);
/// Sends in flight at once during a drain; SES's default send rate is 14/s.
const WORKERS: usize = 4;
/// Not worth starting an SES call with less time than this left.
const MIN_CALL: Duration = Duration::from_millis(300);
/// How long a mail waits behind an earlier mail of the same order that is being sent.
const ORDERING_WAIT: Duration = Duration::from_secs(30);
/// After this many attempts a mail is marked `failed`: with the backoff below that is about
/// three and a half hours of trying.
pub const MAX_ATTEMPTS: i64 = 10;

/// Delay before the next attempt after `attempts` failed ones: 30 s, doubling, capped at 1 h.
/// No jitter: each entry's schedule starts at its own failure, so they do not stampede.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 16) - 1;
    Duration::from_secs(30u64 << doublings).min(Duration::from_secs(3600))
}

/// The SES client and sender settings, built once per cold start.
pub struct Mailer {
    pub config: MailConfig,
    ses: Ses,
    /// Leases, back-off and the ordering wait are read on it.
    clock: SharedClock,
}

/// What one outbox drain did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct DeliveryReport {
    pub sent: u32,
    /// Failed this time, to be tried again after the backoff.
    pub retried: u32,
    /// Given up on (permanent rejection or too many attempts).
    pub failed: u32,
    /// Not sent because the order was cancelled first.
    pub skipped: u32,
    /// Put back behind an earlier unsent mail of the same order.
    pub deferred: u32,
}

impl DeliveryReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Sent => self.sent += 1,
            Outcome::Retried => self.retried += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Deferred => self.deferred += 1,
            Outcome::LeaseLost => {}
        }
    }

    fn add(&mut self, other: DeliveryReport) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.deferred += other.deferred;
    }
}

/// A claimed outbox entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "_id")]
    id: ObjectId,
    order_id: OrderId,
    event: MailEvent,
    attempts: i64,
    lease_token: String,
    created_at: DateTime,
    #[serde(default)]
    refund_id: Option<String>,
}

/// How a claimed entry ends up; written back under its lease.
enum Finish {
    Sent(String),
    Retry(String),
    Fail(String),
    /// SES may or may not have taken it: never retried automatically (see the module docs).
    Unconfirmed(String),
    Skip(&'static str),
    Defer(DateTime),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    Retried,
    Failed,
    Skipped,
    Deferred,
    /// Someone else holds the entry now (our lease expired); they decide.
    LeaseLost,
}

impl Mailer {
    pub async fn new(config: &MailConfig, clock: SharedClock) -> Mailer {
        Mailer {
            config: config.clone(),
            ses: Ses::new(config).await,
            clock,
        }
    }

    /// The SES client, for tooling and tests (e.g. verifying a sender in the emulator).
    pub fn ses_client(&self) -> &aws_sdk_ses::Client {
        &self.ses.client
    }

    /// Tries, within a short time budget, to send the mails queued for `order_id` by a
    /// transaction that has just committed. Never fails: whatever is not sent now is sent
    /// by `jobs` later.
    pub async fn send_now(&self, db: &Db, order_id: OrderId) {
        let deadline = Instant::now() + SEND_NOW_BUDGET;
        // One at a time, oldest first, so an order's mails leave in the order they were queued.
        let report = self
            .drain(db, Some(order_id), usize::MAX, 1, deadline)
            .await;
        tracing::debug!(order_id = %order_id, ?report, "immediate mail delivery");
    }

    /// Sends the mails a checkout has just committed for the new `order` it has in hand;
    /// `events` are all of the order's mails, in queue order. Two round trips a mail (the
    /// lease, stamped dispatched, and the outcome), where `send_now` must find the entries,
    /// look for earlier ones and load the order. Never fails: what is not sent now, `jobs`
    /// sends (and an unusable address or template is for it to record).
    pub async fn send_for_new_order(&self, db: &Db, order: &Order, events: &[MailEvent]) {
        let deadline = Instant::now() + SEND_NOW_BUDGET;
        if !order.email.is_valid() {
            return;
        }
        for &event in events {
            // Rendered before the lease, so nothing but the SES call lies between the
            // dispatch stamp and SES.
            let Ok(mail) = render_for(event, order, None, &self.config.order_page) else {
                return;
            };
            if deadline.saturating_duration_since(Instant::now()) < MIN_CALL {
                return;
            }
            let entry = match self.claim_for_dispatch(db, order.id, event).await {
                Ok(Some(entry)) => entry,
                // Someone else holds it; the later mails must wait for it anyway.
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim a new order's mail");
                    return;
                }
            };
            let finish = self
                .dispatch(order.email.as_str(), &mail, &[], deadline)
                .await;
            if self.finish(db, &entry, finish).await != Outcome::Sent {
                return;
            }
        }
    }

    /// Leases a new order's pending mail and stamps it dispatched in the same write.
    async fn claim_for_dispatch(
        &self,
        db: &Db,
        order_id: OrderId,
        event: MailEvent,
    ) -> mongodb::error::Result<Option<Entry>> {
        let now = self.clock.now();
        db.collection::<Entry>(MAIL_OUTBOX)
            .find_one_and_update(
                doc! {
                    "orderId": order_id,
                    "event": event.as_str(),
                    "refundId": { "$exists": false },
                    "status": MailStatus::Pending,
                },
                doc! {
                    "$set": {
                        "status": MailStatus::Sending,
                        "leaseUntil": after(now, LEASE),
                        "leaseToken": ObjectId::new().to_hex(),
                        "dispatchedAt": now,
                    },
                    "$inc": { "attempts": 1_i32 },
                },
            )
            .return_document(ReturnDocument::After)
            .await
    }

    /// Hands the mail to SES within what is left of `deadline`.
    async fn dispatch(
        &self,
        to: &str,
        mail: &Mail,
        attachments: &[ses::Attachment],
        deadline: Instant,
    ) -> Finish {
        let budget = deadline.saturating_duration_since(Instant::now());
        match self.ses.send(to, mail, attachments, budget).await {
            Ok(message_id) => Finish::Sent(message_id),
            Err(SendError::Permanent(e)) => Finish::Fail(e),
            Err(SendError::Transient(e)) => Finish::Retry(e),
            Err(SendError::Unknown(e)) => Finish::Unconfirmed(e),
        }
    }

    /// Sends due outbox entries (leased, with backoff). Called by `jobs`.
    pub async fn deliver_due(&self, db: &Db, limit: usize) -> DeliveryReport {
        let deadline = Instant::now() + DELIVER_BUDGET;
        self.drain(db, None, limit, WORKERS, deadline).await
    }

    async fn drain(
        &self,
        db: &Db,
        order_id: Option<OrderId>,
        limit: usize,
        workers: usize,
        deadline: Instant,
    ) -> DeliveryReport {
        let remaining = AtomicUsize::new(limit);
        let worker = || async {
            let mut report = DeliveryReport::default();
            while deadline.saturating_duration_since(Instant::now()) >= MIN_CALL
                && remaining
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok()
            {
                match self.claim(db, order_id).await {
                    Ok(Some(entry)) => report.count(self.process(db, entry, deadline).await),
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not claim outbox entries");
                        break;
                    }
                }
            }
            report
        };
        let mut total = DeliveryReport::default();
        for report in futures::future::join_all((0..workers).map(|_| worker())).await {
            total.add(report);
        }
        total
    }

    /// Atomically takes one due entry (pending and due, or with an expired lease).
    async fn claim(
        &self,
        db: &Db,
        order_id: Option<OrderId>,
    ) -> mongodb::error::Result<Option<Entry>> {
        let now = self.clock.now();
        self.mark_unconfirmed(db, order_id, now).await?;
        let mut filter = doc! { "$or": [
            { "status": MailStatus::Pending, "nextAttemptAt": { "$lte": now } },
            { "status": MailStatus::Sending, "leaseUntil": { "$lt": now }, "dispatchedAt": { "$exists": false } },
        ] };
        let sort = match order_id {
            Some(id) => {
                filter.insert("orderId", id);
                doc! { "createdAt": 1 }
            }
            None => doc! { "nextAttemptAt": 1, "createdAt": 1 },
        };
        db.collection::<Entry>(MAIL_OUTBOX)
            .find_one_and_update(
                filter,
                doc! {
                    "$set": {
                        "status": MailStatus::Sending,
                        "leaseUntil": after(now, LEASE),
                        "leaseToken": ObjectId::new().to_hex(),
                    },
                    "$inc": { "attempts": 1_i32 },
                },
            )
            .sort(sort)
            .return_document(ReturnDocument::After)
            .await
    }

    /// Entries whose holder died between handing the mail to SES and recording the answer:
    /// never sent again automatically (see the module docs).
    async fn mark_unconfirmed(
        &self,
        db: &Db,
        order_id: Option<OrderId>,
        now: DateTime,
    ) -> mongodb::error::Result<()> {
        let mut filter = doc! {
            "status": MailStatus::Sending, "leaseUntil": { "$lt": now }, "dispatchedAt": { "$exists": true },
        };
        if let Some(id) = order_id {
            filter.insert("orderId", id);
        }
        let outbox = db.docs(MAIL_OUTBOX);
        while let Some(e) = outbox
            .find_one_and_update(
                filter.clone(),
                doc! {
                    "$set": {
                        "status": MailStatus::Unconfirmed,
                        "lastError": "the sender stopped after handing the mail to SES and before recording SES's answer",
                        "failedAt": now,
                    },
                    "$unset": { "leaseUntil": "", "leaseToken": "" },
                },
            )
            .await?
        {
            tracing::error!(
                order_id = %e.get_object_id("orderId").map(|o| o.to_hex()).unwrap_or_default(),
                event = e.get_str("event").unwrap_or_default(),
                "mail may or may not have been sent; not resending (check SES, then set status to pending to resend)"
            );
        }
        Ok(())
    }

    async fn process(&self, db: &Db, entry: Entry, deadline: Instant) -> Outcome {
        let finish = self.attempt(db, &entry, deadline).await;
        self.finish(db, &entry, finish).await
    }

    async fn attempt(&self, db: &Db, entry: &Entry, deadline: Instant) -> Finish {
        if entry.attempts > MAX_ATTEMPTS {
            return Finish::Fail(format!("gave up after {MAX_ATTEMPTS} attempts"));
        }
        match earlier_unsent(db, entry, self.clock.now()).await {
            Ok(Some(until)) => return Finish::Defer(until),
            Ok(None) => {}
            Err(e) => return Finish::Retry(format!("check earlier mails: {e}")),
        }
        let order = match db
            .collection::<Order>(ORDERS)
            .find_one(doc! { "_id": entry.order_id })
            .await
        {
            Ok(Some(order)) => order,
            Ok(None) => return Finish::Fail("order not found".into()),
            Err(e) => return Finish::Retry(format!("load order: {e}")),
        };
        if order.status == OrderStatus::Cancelled
            && matches!(
                entry.event,
                MailEvent::OrderPlaced | MailEvent::OrderShipped | MailEvent::OrderDelivered
            )
        {
            return Finish::Skip("order cancelled before this mail was sent");
        }
        if entry.event == MailEvent::PaymentFailed && !still_failed(&order) {
            return Finish::Skip("paid, cancelled or being paid again before this mail was sent");
        }
        if !order.email.is_valid() {
            return Finish::Fail("order has no usable email address".into());
        }
        let refund = entry
            .refund_id
            .as_deref()
            .and_then(|id| order.refunds.iter().find(|r| r.merchant_refund_id == id));
        let mail = match render_for(entry.event, &order, refund, &self.config.order_page) {
            Ok(mail) => mail,
            Err(e) => return Finish::Fail(format!("render: {e}")),
        };
        let attachments = match attachments(db, entry).await {
            Ok(a) => a,
            Err(e) => return Finish::Retry(format!("attach documents: {e}")),
        };
        // Past this write a crash leaves the mail's fate unknown (see the module docs).
        match db
            .docs(MAIL_OUTBOX)
            .update_one(
                doc! { "_id": entry.id, "status": MailStatus::Sending, "leaseToken": &entry.lease_token },
                doc! { "$set": { "dispatchedAt": self.clock.now() } },
            )
            .await
        {
            Ok(r) if r.matched_count == 1 => {}
            Ok(_) => return Finish::Retry("lease lost before sending".into()),
            Err(e) => return Finish::Retry(format!("mark dispatch: {e}")),
        }
        self.dispatch(order.email.as_str(), &mail, &attachments, deadline)
            .await
    }

    /// Writes the outcome back, only if we still hold the lease.
    async fn finish(&self, db: &Db, entry: &Entry, finish: Finish) -> Outcome {
        let now = self.clock.now();
        let lease = doc! { "leaseUntil": "", "leaseToken": "", "dispatchedAt": "" };
        let (outcome, update) = match &finish {
            Finish::Sent(message_id) => (
                Outcome::Sent,
                doc! {
                    "$set": { "status": MailStatus::Sent, "sesMessageId": message_id, "sentAt": now },
                    "$unset": lease,
                },
            ),
            Finish::Retry(error) if entry.attempts < MAX_ATTEMPTS => (
                Outcome::Retried,
                doc! {
                    "$set": {
                        "status": MailStatus::Pending,
                        "nextAttemptAt": after(now, backoff(entry.attempts)),
                        "lastError": error,
                    },
                    "$unset": lease,
                },
            ),
            Finish::Retry(error) | Finish::Fail(error) => (
                Outcome::Failed,
                doc! {
                    "$set": { "status": MailStatus::Failed, "lastError": error, "failedAt": now },
                    "$unset": lease,
                },
            ),
            Finish::Unconfirmed(error) => (
                Outcome::Failed,
                doc! {
                    "$set": { "status": MailStatus::Unconfirmed, "lastError": error, "failedAt": now },
                    "$unset": lease,
                },
            ),
            Finish::Skip(reason) => (
                Outcome::Skipped,
                doc! {
                    "$set": { "status": MailStatus::Skipped, "skipReason": *reason, "skippedAt": now },
                    "$unset": lease,
                },
            ),
            Finish::Defer(until) => (
                Outcome::Deferred,
                doc! {
                    "$set": { "status": MailStatus::Pending, "nextAttemptAt": *until },
                    // Waiting behind another mail is not an attempt at this one.
                    "$inc": { "attempts": -1_i32 },
                    "$unset": lease,
                },
            ),
        };
        let filter = doc! { "_id": entry.id, "status": MailStatus::Sending, "leaseToken": &entry.lease_token };
        match write_back(db, filter, update).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    order_id = %entry.order_id, event = entry.event.as_str(),
                    "mail outcome not recorded: the lease expired and another run took the entry"
                );
                return Outcome::LeaseLost;
            }
            Err(e) => {
                // The lease will expire and the entry be tried again (a sent mail may then be
                // sent twice; see the module docs).
                tracing::error!(
                    order_id = %entry.order_id, event = entry.event.as_str(), error = %e,
                    "could not record a mail outcome"
                );
                return Outcome::LeaseLost;
            }
        }
        let (order_id, event, attempts) = (entry.order_id, entry.event.as_str(), entry.attempts);
        match (&finish, outcome) {
            (Finish::Sent(message_id), _) => {
                tracing::info!(%order_id, event, attempts, ses_message_id = %message_id, "mail sent")
            }
            (Finish::Retry(error), Outcome::Retried) => tracing::warn!(
                %order_id, event, attempts, error = %error,
                retry_in_secs = backoff(attempts).as_secs(), "mail not sent; will retry"
            ),
            (Finish::Retry(error) | Finish::Fail(error), _) => tracing::error!(
                %order_id, event, attempts, error = %error,
                "mail failed for good; the customer was not told (set status to pending to resend)"
            ),
            (Finish::Unconfirmed(error), _) => tracing::error!(
                %order_id, event, attempts, error = %error,
                "mail may or may not have been sent; not resending (check SES, then set status to pending to resend)"
            ),
            (Finish::Skip(reason), _) => tracing::info!(%order_id, event, reason, "mail skipped"),
            (Finish::Defer(_), _) => {
                tracing::debug!(%order_id, event, "mail waits for an earlier one of its order")
            }
        }
        outcome
    }
}

/// Whether a payment-failed mail still asks for something the customer can do: the order
/// waits for payment and no newer attempt is under way.
fn still_failed(order: &Order) -> bool {
    matches!(
        order.status,
        OrderStatus::Created | OrderStatus::PaymentPending
    ) && order.payment.status == PaymentStatus::Failed
}

/// The GST document a mail carries: the invoice with the shipped mail, the refund's credit
/// note with its refund mail. Both were issued in the transaction that queued the mail, so
/// whatever exists now is what the mail announces; an order without (placed before GST was
/// modelled, or refunded before it shipped) gets the mail alone.
async fn attachments(db: &Db, entry: &Entry) -> platform::Result<Vec<ses::Attachment>> {
    let pdf = |number: &str, data: Vec<u8>| ses::Attachment {
        filename: crate::invoices::file_name(number),
        content_type: "application/pdf",
        data,
    };
    match (entry.event, entry.refund_id.as_deref()) {
        (MailEvent::OrderShipped, _) => match crate::invoices::find(db, entry.order_id).await? {
            Some(inv) => Ok(vec![pdf(&inv.number, crate::invoices::pdf::invoice(&inv)?)]),
            None => Ok(Vec::new()),
        },
        (MailEvent::RefundIssued, Some(refund)) => {
            match crate::invoices::credit_note_for_refund(db, refund).await? {
                Some(note) => Ok(vec![pdf(
                    &note.number,
                    crate::invoices::pdf::credit_note(&note)?,
                )]),
                None => Ok(Vec::new()),
            }
        }
        _ => Ok(Vec::new()),
    }
}

/// If an earlier mail of the same order is still unsent, when to look at this one again.
async fn earlier_unsent(
    db: &Db,
    entry: &Entry,
    now: DateTime,
) -> mongodb::error::Result<Option<DateTime>> {
    let earlier = db
        .docs(MAIL_OUTBOX)
        .find_one(doc! {
            "orderId": entry.order_id,
            // Two mails queued in the same millisecond (one transaction queues several) are
            // ordered by their ids, which one process mints in increasing order.
            "$or": [
                { "createdAt": { "$lt": entry.created_at } },
                { "createdAt": entry.created_at, "_id": { "$lt": entry.id } },
            ],
            "status": { "$in": [MailStatus::Pending, MailStatus::Sending] },
        })
        .sort(doc! { "nextAttemptAt": -1 })
        .await?;
    Ok(earlier.map(|e: Document| {
        let soon = after(now, ORDERING_WAIT);
        match e.get_datetime("nextAttemptAt") {
            Ok(t) if e.get_str("status") == Ok(MailStatus::Pending.as_str()) && *t > soon => *t,
            _ => soon,
        }
    }))
}

/// Retries the outcome write a few times: losing it after a successful send is what would
/// make the mail go out twice.
async fn write_back(db: &Db, filter: Document, update: Document) -> mongodb::error::Result<bool> {
    let mut tries = 0;
    loop {
        tries += 1;
        match db
            .docs(MAIL_OUTBOX)
            .update_one(filter.clone(), update.clone())
            .await
        {
            Ok(r) => return Ok(r.matched_count == 1),
            Err(e) if tries < 3 => {
                tracing::warn!(error = %e, "retrying a mail outcome write");
                tokio::time::sleep(Duration::from_millis(200 * tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn after(t: DateTime, d: Duration) -> DateTime {
    DateTime::from_millis(t.timestamp_millis() + d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_up_to_an_hour() {
        let secs: Vec<u64> = (1..=MAX_ATTEMPTS).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(backoff(1_000).as_secs(), 3600);
    }
}
