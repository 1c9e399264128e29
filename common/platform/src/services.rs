//! The core every function builds once per cold start: settings, database, the token
//! verifier and the clock. A function that needs more (a `Mailer`, a `PhonePe` client, the
//! seller) is given it separately, as a type, by its `main.rs`.

use crate::auth::{Auth, Verifier};
use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::{Db, IndexSpec};
use anyhow::Context as _;
use std::sync::Arc;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub auth: Auth,
    /// Every rule that reads the time reads it here (`clock`).
    pub clock: SharedClock,
}

impl Services {
    /// `indexes`: those of the collections the function's modules own (the shop's
    /// `shop::indexes()`), built on a database older than the code. `clock` is the system's
    /// in `main.rs`, a `TestClock` in tests.
    pub async fn init(
        config: Config,
        indexes: &[IndexSpec],
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let auth =
            Arc::new(Verifier::new(&config.clerk, clock.clone()).context("build Clerk verifier")?);
        let db = Db::connect(config.mongodb_uri.expose(), &config.mongodb_db, indexes)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("connect to MongoDB")?;
        Ok(Services {
            config: Arc::new(config),
            db,
            auth,
            clock,
        })
    }
}
