//! Versioned data migrations: rewriting documents an older release stored into the shape the
//! code stores now, as one step of a deploy (`docs/deployment.md`).
//!
//! The platform runs the steps; it does not know what they rewrite. The shop supplies them
//! (`shop::migrations()`), each numbered, and the database records in `meta` the highest
//! number it has been brought to (`dataVersion` of the `schema` document, beside the index
//! version `db` keeps there). A step must be idempotent: each document's rewrite is one
//! conditional update that matches only the old shape, so a step that crashed part-way is
//! simply run again, and a document rewritten meanwhile by another runner is skipped. The
//! version is raised only once a step has finished, and only upwards (`$max`), so a runner
//! that lost its lease can never lower what another recorded.
//!
//! A lease (`lease` in the same document, with an expiry) keeps two runners from doing the
//! same work at once; correctness does not rest on it, since the steps are idempotent.
//!
//! A run may be given a time [`Budget`] (a Lambda has 15 s): a step checks it between
//! documents and returns early once it is spent, the version stays where it was, and the
//! report says `finished: false`, so the caller runs it again to continue.

use crate::clock::Clock;
use crate::db::{is_duplicate_key, Db, META, SCHEMA_DOC};
use crate::error::{Context as _, Error, Result};
use crate::problem_codes::ProblemCode;
use futures::future::BoxFuture;
use mongodb::bson::{doc, Bson, Document};
use serde::Serialize;
use std::time::{Duration, Instant};

/// The version of a database no migration has run on: the shape stored before versioned
/// migrations existed. The first step is numbered above it.
pub const BASELINE: i64 = 1;

/// How long a runner holds the lease without renewing it: how long a run that died without
/// releasing it (a killed process) keeps the others out. A step renews it when it finishes,
/// and a run that ends, by its budget too, releases it.
const LEASE_MS: i64 = 15 * 60 * 1000;

/// One numbered rewrite. `run` returns how many documents it changed, stopping early once
/// the budget is spent; running it again after it finished changes none, unless something
/// wrote the old shape meanwhile.
pub struct Step {
    pub version: i64,
    pub name: &'static str,
    pub run: for<'a> fn(&'a Db, &'a Budget) -> BoxFuture<'a, Result<u64>>,
}

/// How long a run may keep starting work. Off the clock on purpose: it bounds this
/// process's own time (a Lambda's timeout), not a rule about the data.
#[derive(Debug, Clone, Copy)]
pub struct Budget(Option<Instant>);

impl Budget {
    pub fn unlimited() -> Budget {
        Budget(None)
    }

    /// Spent `time` from now.
    pub fn of(time: Duration) -> Budget {
        Budget(Some(Instant::now() + time))
    }

    pub fn spent(&self) -> bool {
        self.0.is_some_and(|until| Instant::now() >= until)
    }
}

/// What a run did: the version before and after, each step it ran, and whether it got to
/// the end (`false`: its budget ran out, run it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub from: i64,
    pub to: i64,
    pub steps: Vec<StepReport>,
    pub finished: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub version: i64,
    pub name: &'static str,
    pub documents: u64,
}

/// The version the database has been migrated to.
pub async fn version(db: &Db) -> Result<i64> {
    let schema = db
        .docs(META)
        .find_one(doc! { "_id": SCHEMA_DOC })
        .await
        .context("read the data version")?;
    Ok(schema
        .and_then(|d| match d.get("dataVersion") {
            Some(Bson::Int64(n)) => Some(*n),
            Some(Bson::Int32(n)) => Some(i64::from(*n)),
            _ => None,
        })
        .unwrap_or(BASELINE))
}

/// Runs, in order, every step numbered from the database's version up, as `holder` (a name
/// for whoever runs it, shown to a runner that finds the lease taken). `503 TRY_AGAIN` when
/// another runner holds the lease.
pub async fn run(
    db: &Db,
    clock: &dyn Clock,
    steps: &[Step],
    holder: &str,
    budget: Budget,
) -> Result<Report> {
    take_lease(db, clock, holder).await?;
    let ran = run_steps(db, clock, steps, holder, budget).await;
    // Released on failure too, so a re-run need not wait for the lease to expire.
    let released = db
        .docs(META)
        .update_one(
            doc! { "_id": SCHEMA_DOC, "lease.holder": holder },
            doc! { "$unset": { "lease": "" } },
        )
        .await
        .context("release the migration lease");
    let report = ran?;
    released?;
    Ok(report)
}

async fn run_steps(
    db: &Db,
    clock: &dyn Clock,
    steps: &[Step],
    holder: &str,
    budget: Budget,
) -> Result<Report> {
    let from = version(db).await?;
    let mut to = from;
    let mut done = Vec::new();
    // The step the database is at runs again too: while it first ran, Lambdas of the release
    // before it may have been finishing requests and writing the old shape, and a step finds
    // and rewrites exactly that. Older steps' releases are long gone.
    let mut pending: Vec<&Step> = steps.iter().filter(|s| s.version >= from).collect();
    pending.sort_by_key(|s| s.version);
    for step in pending {
        let documents = (step.run)(db, &budget).await?;
        let report = StepReport {
            version: step.version,
            name: step.name,
            documents,
        };
        // A step that stopped for the budget may have left documents: its version waits
        // for a run that gets to its end.
        if budget.spent() {
            tracing::info!(
                version = report.version,
                name = report.name,
                documents = report.documents,
                "migration step stopped by its time budget"
            );
            done.push(report);
            return Ok(Report {
                from,
                to,
                steps: done,
                finished: false,
            });
        }
        tracing::info!(
            version = report.version,
            name = report.name,
            documents = report.documents,
            "migration step done"
        );
        let renewed = db
            .docs(META)
            .update_one(
                doc! { "_id": SCHEMA_DOC, "lease.holder": holder },
                doc! {
                    "$max": { "dataVersion": step.version },
                    "$set": { "lease.until": clock.after_ms(LEASE_MS) },
                },
            )
            .await
            .context("record the data version")?;
        if renewed.matched_count == 0 {
            // The lease expired and another runner took it: what this step did stands (it
            // is idempotent), and the other runner records it when it gets there.
            return Err(lease_taken("the migration lease expired during a step"));
        }
        to = to.max(step.version);
        done.push(report);
    }
    Ok(Report {
        from,
        to,
        steps: done,
        finished: true,
    })
}

/// Takes the lease if nobody holds it, it expired, or `holder` already has it. The upsert
/// inserts the `schema` document on a database that has none; on one whose lease is held
/// the filter misses and the insert collides with the existing `_id`.
async fn take_lease(db: &Db, clock: &dyn Clock, holder: &str) -> Result<()> {
    let now = clock.now();
    let free: Vec<Document> = vec![
        doc! { "lease": { "$exists": false } },
        doc! { "lease.until": { "$lt": now } },
        doc! { "lease.holder": holder },
    ];
    let taken = db
        .docs(META)
        .update_one(
            doc! { "_id": SCHEMA_DOC, "$or": free },
            doc! { "$set": { "lease": {
                "holder": holder,
                "until": clock.after_ms(LEASE_MS),
            } } },
        )
        .upsert(true)
        .await;
    match taken {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate_key(&e) => Err(lease_taken("another migration is running")),
        Err(e) => Err(Error::from(e)),
    }
}

fn lease_taken(why: &str) -> Error {
    Error::new(
        ProblemCode::TryAgain,
        format!("{why}; run it again when that one has finished"),
    )
}
