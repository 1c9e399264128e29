//! The clients a function builds once per cold start and shares across invocations.

use crate::auth::{Auth, Verifier};
use crate::config::Config;
use crate::db::Db;
use crate::mail::Mailer;
use crate::phonepe::PhonePe;
use anyhow::Context as _;
use mongodb::bson::oid::ObjectId;
use std::sync::Arc;

#[derive(Clone)]
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub auth: Auth,
    /// Present when the function was configured with `Needs::mail`.
    pub mailer: Option<Arc<Mailer>>,
    /// Present when the function was configured with `Needs::phonepe`.
    pub phonepe: Option<Arc<PhonePe>>,
}

impl Services {
    pub async fn init(config: Config) -> anyhow::Result<Self> {
        let auth = Arc::new(Verifier::new(&config.clerk).context("build Clerk verifier")?);
        let db = Db::connect(config.mongodb_uri.expose(), &config.mongodb_db)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("connect to MongoDB")?;
        let mailer = match &config.mail {
            Some(m) => Some(Arc::new(Mailer::new(m).await)),
            None => None,
        };
        let phonepe = match &config.phonepe {
            Some(p) => Some(Arc::new(PhonePe::new(p).context("build PhonePe client")?)),
            None => None,
        };
        Ok(Services {
            config: Arc::new(config),
            db,
            auth,
            mailer,
            phonepe,
        })
    }

    /// Best-effort immediate delivery of what a just-committed transaction queued for
    /// `order_id`; a no-op where this function sends no mail (jobs will).
    pub async fn send_mail_now(&self, order_id: ObjectId) {
        if let Some(mailer) = &self.mailer {
            mailer.send_now(&self.db, order_id).await;
        }
    }
}
