//! The MongoDB connection (one per cold start), the indexes every collection is given (each
//! module that owns a collection declares its own as [`IndexSpec`]s; the platform knows only
//! its own collections) and the transaction helper every multi-document write goes through.

use crate::error::{Context as _, Error, Result};
use mongodb::bson::{doc, Document};
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, ReadConcern, WriteConcern};
use mongodb::{Client, ClientSession, Collection, Database, IndexModel};
use std::time::Duration;

/// Idempotency keys of requests, with the answer each got.
pub const IDEMPOTENCY_KEYS: &str = "idempotency_keys";
/// Per-user request counts, one document per user, action and window.
pub const RATE_LIMITS: &str = "rate_limits";
/// The schema version a database has been brought to.
pub const META: &str = "meta";
/// Named sequences (`$inc`), each owned by the module that names it.
pub const COUNTERS: &str = "counters";

/// An index a collection needs, declared by the module that owns the collection.
#[derive(Clone, Debug)]
pub enum IndexSpec {
    Create {
        collection: &'static str,
        model: Box<IndexModel>,
    },
    /// An index an older schema had and the current one must not have: dropped before the
    /// others are built.
    Retire {
        collection: &'static str,
        name: &'static str,
    },
}

impl IndexSpec {
    pub fn plain(collection: &'static str, keys: Document) -> IndexSpec {
        Self::with(collection, keys, None)
    }

    pub fn unique(collection: &'static str, keys: Document) -> IndexSpec {
        Self::with(
            collection,
            keys,
            Some(IndexOptions::builder().unique(true).build()),
        )
    }

    /// Unique among the documents `filter` matches (those that have the field, say).
    pub fn unique_where(collection: &'static str, keys: Document, filter: Document) -> IndexSpec {
        let options = IndexOptions::builder()
            .unique(true)
            .partial_filter_expression(filter)
            .build();
        Self::with(collection, keys, Some(options))
    }

    /// Documents expire `after` the time in the indexed field.
    pub fn ttl(collection: &'static str, keys: Document, after: Duration) -> IndexSpec {
        let options = IndexOptions::builder().expire_after(after).build();
        Self::with(collection, keys, Some(options))
    }

    pub fn retired(collection: &'static str, name: &'static str) -> IndexSpec {
        IndexSpec::Retire { collection, name }
    }

    fn with(collection: &'static str, keys: Document, options: Option<IndexOptions>) -> IndexSpec {
        IndexSpec::Create {
            collection,
            model: Box::new(IndexModel::builder().keys(keys).options(options).build()),
        }
    }
}

/// The platform's own collections' indexes.
fn platform_indexes() -> Vec<IndexSpec> {
    vec![
        IndexSpec::unique(IDEMPOTENCY_KEYS, doc! { "userId": 1, "key": 1 }),
        IndexSpec::ttl(
            IDEMPOTENCY_KEYS,
            doc! { "createdAt": 1 },
            Duration::from_secs(24 * 3600),
        ),
        IndexSpec::ttl(RATE_LIMITS, doc! { "expiresAt": 1 }, Duration::ZERO),
    ]
}

/// Bumped whenever an index changes (the platform's or one a module declares): a database
/// whose `meta` schema document is older gets the indexes built on the next cold start, any
/// other cold start skips them.
pub const SCHEMA_VERSION: i64 = 4;
const SCHEMA_DOC: &str = "schema";

#[derive(Clone, Debug)]
pub struct Db {
    pub client: Client,
    pub db: Database,
}

impl Db {
    /// Connects and makes sure the indexes exist: the platform's own and `indexes`, those of
    /// every collection the caller's modules own. Called once per cold start; the driver's
    /// pool is then shared by every invocation the sandbox serves.
    pub async fn connect(uri: &str, db_name: &str, indexes: &[IndexSpec]) -> Result<Db> {
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
        db.migrate_if_needed(indexes).await?;
        Ok(db)
    }

    /// One read on a cold start (which also opens the first connection during init, where
    /// Lambda gives the most CPU); the index builds run only on a database older than the
    /// code. MongoDB advises against routine `createIndexes`, and it cost 8 round trips.
    pub async fn migrate_if_needed(&self, indexes: &[IndexSpec]) -> Result<()> {
        let meta = self
            .docs(META)
            .find_one(doc! { "_id": SCHEMA_DOC })
            .await
            .context("read schema version")?;
        let current = meta.and_then(|m| m.get_i64("version").ok()).unwrap_or(0);
        if current >= SCHEMA_VERSION {
            return Ok(());
        }
        self.ensure_indexes(indexes).await?;
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

    /// Drops the retired indexes and creates the others, with the platform's own, one
    /// command per collection. Creating an index that already exists is a no-op, so running
    /// this again is safe.
    pub async fn ensure_indexes(&self, indexes: &[IndexSpec]) -> Result<()> {
        let mut sets: Vec<(&str, Vec<IndexModel>)> = Vec::new();
        for spec in platform_indexes().iter().chain(indexes) {
            match spec {
                IndexSpec::Retire { collection, name } => {
                    if let Err(e) = self.docs(collection).drop_index(*name).await {
                        tracing::debug!(error = %e, index = name, "no retired index to drop");
                    }
                }
                IndexSpec::Create { collection, model } => {
                    match sets.iter_mut().find(|(c, _)| c == collection) {
                        Some((_, models)) => models.push(*model.clone()),
                        None => sets.push((collection, vec![*model.clone()])),
                    }
                }
            }
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

/// Text for a `$regex` that matches itself: every metacharacter escaped, so a search for `a.b`
/// or `(` finds those characters and a search can never be a pattern.
pub fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\^$.|?*+()[]{}-/".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
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

/// A value as the driver stores it: ids as ObjectIds, not the hex strings their JSON form
/// is (`bson::to_bson` is human-readable by default, which typed ids read as JSON). The raw
/// serializer the driver uses is not, and it takes only documents, hence the wrapper.
pub fn to_stored<T: serde::Serialize + ?Sized>(
    value: &T,
) -> crate::error::Result<mongodb::bson::Bson> {
    #[derive(serde::Serialize)]
    struct Wrapped<'a, T: ?Sized> {
        v: &'a T,
    }
    let raw = mongodb::bson::to_raw_document_buf(&Wrapped { v: value })
        .map_err(|e| anyhow::anyhow!("storing a value: {e}"))?;
    let doc = Document::try_from(raw).map_err(|e| anyhow::anyhow!("storing a value: {e}"))?;
    doc.get("v")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("storing a value: nothing serialized").into())
}
