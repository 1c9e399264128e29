//! The MongoDB connection (one per cold start), collection names, indexes and the
//! transaction helper every multi-document write goes through.

use crate::error::{Context as _, Error, Result};
use mongodb::bson::{doc, Document};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, ReadConcern, WriteConcern};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};
use std::time::Duration;

pub const PRODUCTS: &str = "products";
pub const CARTS: &str = "carts";
pub const COUPONS: &str = "coupons";
/// How often each customer has used each coupon: one document per (code, userId).
pub const COUPON_USES: &str = "coupon_uses";
pub const ORDERS: &str = "orders";
pub const PAYMENT_ATTEMPTS: &str = "payment_attempts";
pub const MAIL_OUTBOX: &str = "mail_outbox";
pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
pub const RATE_LIMITS: &str = "rate_limits";
pub const META: &str = "meta";
pub const COUNTERS: &str = "counters";
/// One entry per change of a product's stock, written in the transaction of the change.
pub const STOCK_MOVEMENTS: &str = "stock_movements";
/// GST tax invoices, one per shipped order, never changed once issued.
pub const INVOICES: &str = "invoices";
/// GST credit notes, one per completed refund of an invoiced order.
pub const CREDIT_NOTES: &str = "credit_notes";

/// Bumped whenever `ensure_indexes` changes: a database whose `meta` schema document is older
/// gets the indexes built on the next cold start, any other cold start skips them.
pub const SCHEMA_VERSION: i64 = 4;
const SCHEMA_DOC: &str = "schema";

#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    pub db: Database,
}

impl Db {
    /// Connects and makes sure the indexes exist. Called once per cold start; the driver's
    /// pool is then shared by every invocation the sandbox serves.
    pub async fn connect(uri: &str, db_name: &str) -> Result<Db> {
        let mut opts = ClientOptions::parse(uri)
            .await
            .context("parse MONGODB_URI")?;
        opts.app_name.get_or_insert_with(|| "pitalya".into());
        // Lambda freezes between invocations; short timeouts surface a dead cluster quickly
        // instead of eating the whole invocation budget.
        opts.server_selection_timeout
            .get_or_insert(Duration::from_secs(5));
        opts.connect_timeout.get_or_insert(Duration::from_secs(5));
        // A frozen sandbox's idle sockets are cut by Atlas anyway; closing them after 60 s
        // (MongoDB's Lambda guidance) avoids a dead connection on the thaw's first command.
        opts.max_idle_time.get_or_insert(Duration::from_secs(60));
        // A Lambda sandbox serves one request at a time: a transaction plus the mails it sends
        // at once never need more, and every sandbox's pool counts against Atlas's limit.
        opts.max_pool_size.get_or_insert(10);
        // A write the client was told about must survive a crash and an Atlas fail-over:
        // acknowledged only once a majority has it in its journal. Reads see only what a
        // majority committed, so no decision rests on a write a fail-over can roll back.
        // A URI that says otherwise wins (w=1 for a throw-away benchmark, say).
        opts.write_concern.get_or_insert_with(durable_writes);
        opts.read_concern.get_or_insert_with(ReadConcern::majority);
        let client = Client::with_options(opts).context("create MongoDB client")?;
        let db = Db {
            db: client.database(db_name),
            client,
        };
        db.migrate_if_needed().await?;
        Ok(db)
    }

    /// One read on a cold start (which also opens the first connection during init, where
    /// Lambda gives the most CPU); the index builds run only on a database older than the
    /// code. MongoDB advises against routine `createIndexes`, and it cost 8 round trips.
    pub async fn migrate_if_needed(&self) -> Result<()> {
        let meta = self
            .docs(META)
            .find_one(doc! { "_id": SCHEMA_DOC })
            .await
            .context("read schema version")?;
        let current = meta.and_then(|m| m.get_i64("version").ok()).unwrap_or(0);
        if current >= SCHEMA_VERSION {
            return Ok(());
        }
        self.ensure_indexes().await?;
        // `$max` so a cold start of older code never lowers what newer code recorded.
        self.docs(META)
            .update_one(
                doc! { "_id": SCHEMA_DOC },
                doc! { "$max": { "version": SCHEMA_VERSION } },
            )
            .upsert(true)
            .await
            .context("record schema version")?;
        Ok(())
    }

    pub fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.db.collection(name)
    }

    pub fn docs(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    /// Several `find_one`s, on different collections, answered by one `aggregate`
    /// (`$unionWith`): where every command is a network round trip, a request that needs a
    /// product and a cart pays for one. Returns each query's document, in query order.
    ///
    /// Put the query on the largest collection first. MongoDB uses each query's index, but
    /// SecantusDB (dev and tests) runs the `$unionWith` sub-pipelines as collection scans:
    /// with the carts second, a cart read took 40 ms at 3,000 carts instead of 0.8.
    pub async fn find_one_each<const N: usize>(
        &self,
        queries: [(&str, Document); N],
    ) -> Result<[Option<Document>; N]> {
        const TAG: &str = "__query";
        let Some(((first, first_filter), rest)) = queries.split_first() else {
            return Ok(std::array::from_fn(|_| None));
        };
        let tagged = |i: usize, filter: &Document| {
            vec![
                doc! { "$match": filter.clone() },
                doc! { "$limit": 1 },
                doc! { "$addFields": { TAG: i as i32 } },
            ]
        };
        let mut pipeline = tagged(0, first_filter);
        for (i, (collection, filter)) in rest.iter().enumerate() {
            pipeline.push(doc! { "$unionWith": {
                "coll": *collection,
                "pipeline": tagged(i + 1, filter),
            } });
        }
        let mut cursor = self
            .docs(first)
            .aggregate(pipeline)
            .await
            .context("read several collections at once")?;
        let mut found = std::array::from_fn(|_| None);
        while cursor
            .advance()
            .await
            .context("read several collections at once")?
        {
            let mut d: Document = cursor.deserialize_current()?;
            let Some(i) = d.remove(TAG).and_then(|t| t.as_i32()) else {
                return Err(Error::Internal(anyhow::anyhow!(
                    "a combined read returned an untagged document"
                )));
            };
            if let Some(slot) = found.get_mut(i as usize) {
                *slot = Some(d);
            }
        }
        Ok(found)
    }

    pub async fn ping(&self) -> Result<()> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .context("ping MongoDB")?;
        Ok(())
    }

    /// Creating an index that already exists is a no-op, so running this again is safe.
    pub async fn ensure_indexes(&self) -> Result<()> {
        let unique = |keys: Document| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(true).build())
                .build()
        };
        let plain = |keys: Document| IndexModel::builder().keys(keys).build();
        let ttl = |keys: Document, secs: u64| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .expire_after(Duration::from_secs(secs))
                        .build(),
                )
                .build()
        };
        let sets: Vec<(&str, Vec<IndexModel>)> = vec![
            (
                PRODUCTS,
                vec![
                    unique(doc! { "slug": 1 }),
                    plain(doc! { "isActive": 1, "_id": -1 }),
                ],
            ),
            (COUPONS, vec![unique(doc! { "code": 1 })]),
            // One counter per customer and coupon, so concurrent checkouts write the same one.
            (COUPON_USES, vec![unique(doc! { "code": 1, "userId": 1 })]),
            (CARTS, vec![unique(doc! { "userId": 1 })]),
            (
                ORDERS,
                vec![
                    plain(doc! { "userId": 1, "_id": -1 }),
                    plain(doc! { "status": 1, "createdAt": 1 }),
                    plain(doc! { "payment.status": 1 }),
                    plain(doc! { "refunds.merchantRefundId": 1 }),
                    // Numbers are looked up by routes and search, and must never repeat.
                    IndexModel::builder()
                        .keys(doc! { "number": 1 })
                        .options(
                            IndexOptions::builder()
                                .unique(true)
                                .partial_filter_expression(doc! { "number": { "$type": "string" } })
                                .build(),
                        )
                        .build(),
                    plain(doc! { "refunds.state": 1, "refunds.nextCheckAt": 1 }),
                    // One PhonePe transaction can pay one order only, ever.
                    IndexModel::builder()
                        .keys(doc! { "payment.transactionId": 1 })
                        .options(
                            IndexOptions::builder()
                                .unique(true)
                                .partial_filter_expression(
                                    doc! { "payment.transactionId": { "$type": "string" } },
                                )
                                .build(),
                        )
                        .build(),
                ],
            ),
            (
                PAYMENT_ATTEMPTS,
                vec![
                    unique(doc! { "merchantOrderId": 1 }),
                    plain(doc! { "orderId": 1 }),
                    plain(doc! { "state": 1, "nextCheckAt": 1 }),
                ],
            ),
            (
                MAIL_OUTBOX,
                vec![
                    // `refundId` is absent (null) for every mail but a refund's, so this is one
                    // mail per (order, event), and one per (order, refund) for refund mails.
                    unique(doc! { "orderId": 1, "event": 1, "refundId": 1 }),
                    plain(doc! { "status": 1, "nextAttemptAt": 1 }),
                ],
            ),
            (
                IDEMPOTENCY_KEYS,
                vec![
                    unique(doc! { "userId": 1, "key": 1 }),
                    ttl(doc! { "createdAt": 1 }, 24 * 3600),
                ],
            ),
            (RATE_LIMITS, vec![ttl(doc! { "expiresAt": 1 }, 0)]),
            (
                STOCK_MOVEMENTS,
                vec![plain(doc! { "productId": 1, "at": -1 })],
            ),
            // A number is issued once, an order invoiced once, a refund credited once.
            (
                INVOICES,
                vec![unique(doc! { "number": 1 }), unique(doc! { "orderId": 1 })],
            ),
            (
                CREDIT_NOTES,
                vec![
                    unique(doc! { "number": 1 }),
                    unique(doc! { "refundId": 1 }),
                    plain(doc! { "orderId": 1, "at": 1 }),
                ],
            ),
        ];
        // Schema 1 deduplicated mails per (order, event) only, which would refuse the second
        // refund mail of an order refunded in parts.
        if let Err(e) = self.docs(MAIL_OUTBOX).drop_index("orderId_1_event_1").await {
            tracing::debug!(error = %e, "no schema-1 mail index to drop");
        }
        for (coll, models) in sets {
            self.docs(coll)
                .create_indexes(models)
                .await
                .context("create indexes")?;
        }
        Ok(())
    }

    pub async fn start_session(&self) -> Result<ClientSession> {
        self.client.start_session().await.context("start session")
    }
}

/// Runs a block in a multi-document transaction, retrying the whole block on
/// `TransientTransactionError` (write conflicts, elections, or `retry_transaction()`) and the
/// commit on `UnknownTransactionCommitResult`, with jittered backoff and a bounded budget.
///
/// ```ignore
/// let order = common::transaction!(db, |session| {
///     coll.update_one(filter, update).session(&mut *session).await?;
///     Ok(value)
/// })?;
/// ```
///
/// The block may run more than once, must use `.session(&mut *session)` on every operation,
/// and evaluates to `common::Result<T>`. A macro rather than a method taking a closure because
/// an async closure's future cannot be proven `Send` for every borrow lifetime on stable Rust,
/// and handler futures must be `Send`; an inline loop has no such problem.
#[macro_export]
macro_rules! transaction {
    ($db:expr, |$session:ident| $body:block) => {{
        let __db: &$crate::db::Db = &$db;
        let mut __tx = $crate::db::TxRetry::new(__db).await;
        loop {
            let __outcome: $crate::Result<_> = match __tx.begin().await {
                Ok(()) => {
                    let $session: &mut ::mongodb::ClientSession = __tx.session();
                    async { $body }.await
                }
                Err(e) => Err(e),
            };
            match __tx.finish(__outcome).await {
                ::std::ops::ControlFlow::Break(result) => break result,
                ::std::ops::ControlFlow::Continue(()) => continue,
            }
        }
    }};
}

/// The retry state behind `transaction!`.
pub struct TxRetry {
    session: Option<ClientSession>,
    start_error: Option<Error>,
    attempt: u32,
}

const MAX_TX_ATTEMPTS: u32 = 40;

impl TxRetry {
    pub async fn new(db: &Db) -> TxRetry {
        match db.start_session().await {
            Ok(s) => TxRetry {
                session: Some(s),
                start_error: None,
                attempt: 0,
            },
            Err(e) => TxRetry {
                session: None,
                start_error: Some(e),
                attempt: 0,
            },
        }
    }

    pub async fn begin(&mut self) -> Result<()> {
        self.attempt += 1;
        if let Some(e) = self.start_error.take() {
            return Err(e);
        }
        match self.session.as_mut() {
            // Commits are acknowledged as durably as single writes; snapshot reads make the
            // whole body see one majority-committed point in time.
            Some(s) => s
                .start_transaction()
                .write_concern(durable_writes())
                .read_concern(ReadConcern::snapshot())
                .await
                .context("start transaction"),
            None => Err(Error::Internal(anyhow::anyhow!("no session"))),
        }
    }

    pub fn session(&mut self) -> &mut ClientSession {
        self.session
            .as_mut()
            .expect("begin() succeeded, so the session exists")
    }

    /// Commits or aborts; tells the loop whether to run the body again.
    pub async fn finish<T>(&mut self, outcome: Result<T>) -> std::ops::ControlFlow<Result<T>> {
        use std::ops::ControlFlow::{Break, Continue};
        let Some(session) = self.session.as_mut() else {
            return Break(outcome);
        };
        let value = match outcome {
            Ok(v) => v,
            Err(e) => {
                // Fails harmlessly when the server already aborted it.
                let _ = session.abort_transaction().await;
                if is_transient(&e) {
                    if self.attempt < MAX_TX_ATTEMPTS {
                        // A write conflict means another writer holds the document: wait.
                        // The retry signal means the committed state failed a guard: there
                        // is nobody to wait for, so look again at once. (Under 50 buyers
                        // racing for 10 units, waiting there cost the race a fifth of its
                        // time: bench/notes.md.)
                        if !matches!(e, Error::Retry) {
                            backoff(self.attempt).await;
                        }
                        return Continue(());
                    }
                    return Break(Err(contended(e)));
                }
                return Break(Err(e));
            }
        };
        let mut commit_tries = 0;
        loop {
            match session.commit_transaction().await {
                Ok(()) => return Break(Ok(value)),
                Err(e)
                    if e.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT)
                        && commit_tries < 5 =>
                {
                    commit_tries += 1;
                    backoff(commit_tries).await;
                }
                Err(e) if e.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR) => {
                    if self.attempt < MAX_TX_ATTEMPTS {
                        backoff(self.attempt).await;
                        return Continue(());
                    }
                    return Break(Err(contended(Error::Internal(anyhow::Error::new(e)))));
                }
                Err(e) => {
                    return Break(Err(Error::Internal(
                        anyhow::Error::new(e).context("commit transaction"),
                    )))
                }
            }
        }
    }
}

/// The retry budget ran out on write conflicts: the client gets a retryable 503 rather than a
/// 500, and the cause goes to the logs.
fn contended(cause: Error) -> Error {
    tracing::warn!(error = %cause, "transaction still conflicting after {MAX_TX_ATTEMPTS} attempts");
    Error::busy(2)
}

/// Returned from a transaction body when a conditional update found the document changed
/// under it: `Db::transaction` then runs the body again at once, on a fresh snapshot.
pub fn retry_transaction() -> Error {
    Error::Retry
}

fn is_transient(e: &Error) -> bool {
    match e {
        Error::Retry => true,
        Error::Internal(inner) => inner.chain().any(|cause| {
            cause
                .downcast_ref::<mongodb::error::Error>()
                .is_some_and(|m| {
                    m.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
                        || is_write_conflict(m)
                })
        }),
        Error::Problem(_) => false,
    }
}

fn is_write_conflict(e: &mongodb::error::Error) -> bool {
    matches!(e.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 112)
}

/// Exponential backoff with full jitter, capped so a contended checkout stays responsive.
async fn backoff(attempt: u32) {
    let cap_ms = (5u64 << attempt.min(7)).min(400);
    let ms = rand::random_range(1..=cap_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Lets a state enum stand in a `doc!` filter or update as the string it is stored as
/// (its `as_str`), so no state is spelled as a literal in a query.
#[macro_export]
macro_rules! stored_as_str {
    ($($state:ty),* $(,)?) => {$(
        impl From<$state> for ::mongodb::bson::Bson {
            fn from(state: $state) -> Self {
                ::mongodb::bson::Bson::String(state.as_str().to_owned())
            }
        }
    )*};
}

/// `w: "majority", j: true`.
pub fn durable_writes() -> WriteConcern {
    WriteConcern::builder()
        .w(Acknowledgment::Majority)
        .journal(true)
        .build()
}

/// True when a driver error is a unique-index violation (E11000).
pub fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, WriteFailure};
    match e.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == 11000,
        ErrorKind::Command(c) => c.code == 11000,
        ErrorKind::InsertMany(i) => i.write_errors.iter().flatten().any(|w| w.code == 11000),
        _ => false,
    }
}
