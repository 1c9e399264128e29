//! The bench's view of the local stack: its database, tokens for made-up shoppers, and
//! carts filled directly in the database so each measured request finds work to do.

use anyhow::Context as _;
use dev_server::token::{self, TokenSpec};
use mongodb::bson::{doc, Bson, DateTime, Document};
use mongodb::{Client, Database};

pub struct World {
    pub db: Database,
    key: Vec<u8>,
    issuer: String,
    /// Every active product, newest first.
    pub products: Vec<Document>,
}

fn var(k: &str) -> anyhow::Result<String> {
    std::env::var(k).with_context(|| format!("{k} must be set (scripts/stack.sh exports it)"))
}

impl World {
    pub async fn open() -> anyhow::Result<World> {
        let client = Client::with_uri_str(var("MONGODB_URI")?).await?;
        let db = client.database(&var("MONGODB_DB")?);
        // Checkout takes stock for real; the demo quantities would run out mid-run.
        db.collection::<Document>("products")
            .update_many(doc! {}, doc! { "$set": { "stock": 1_000_000_000_i64 } })
            .await?;
        let products = db
            .collection::<Document>("products")
            .find(doc! { "isActive": true })
            .sort(doc! { "_id": -1 })
            .await?;
        let products: Vec<Document> = futures::TryStreamExt::try_collect(products).await?;
        anyhow::ensure!(
            !products.is_empty(),
            "the bench database has no products: seed it"
        );
        let key_path = format!("{}/private.pem", var("DEV_KEY_DIR")?);
        Ok(World {
            db,
            key: std::fs::read(&key_path).with_context(|| format!("read {key_path}"))?,
            issuer: var("CLERK_ISSUER")?,
            products,
        })
    }

    /// Empties what the measurements write. SecantusDB scans collections in Python, so a
    /// run that inherited the carts and orders of the runs before it would be slower for
    /// reasons that have nothing to do with the code under test. The database is the bench's
    /// own (stack.sh names a fresh one per run).
    pub async fn reset(&self) -> anyhow::Result<()> {
        for c in [
            "carts",
            "orders",
            "mail_outbox",
            "rate_limits",
            "idempotency_keys",
            "payment_attempts",
        ] {
            self.db
                .collection::<Document>(c)
                .delete_many(doc! {})
                .await?;
        }
        Ok(())
    }

    pub fn product(&self, slug: &str) -> anyhow::Result<&Document> {
        self.products
            .iter()
            .find(|p| p.get_str("slug") == Ok(slug))
            .with_context(|| format!("no product {slug}"))
    }

    pub fn token(&self, user: &str, admin: bool) -> anyhow::Result<String> {
        let spec = TokenSpec {
            issuer: self.issuer.clone(),
            user_id: user.to_owned(),
            admin,
            email: Some(format!("{user}@example.com")),
            ttl_secs: 6 * 3600,
            azp: None,
        };
        token::sign(&self.key, token::DEV_KID, &token::claims(&spec))
    }

    /// Gives user i a cart holding one of `products[i % len]`, priced as the catalog has it
    /// now (a stale price would make checkout answer PRICE_CHANGED instead).
    pub async fn fill_carts(&self, users: &[String], products: &[&Document]) -> anyhow::Result<()> {
        let t = DateTime::now();
        let lines = products
            .iter()
            .map(|p| {
                Ok(doc! {
                    "productId": p.get_object_id("_id")?,
                    "name": p.get_str("name")?,
                    "price": p.get("price").cloned().unwrap_or(Bson::Null),
                    "image": p.get_array("images").ok().and_then(|a| a.first().cloned()).unwrap_or(Bson::Null),
                    "quantity": 1_i64,
                })
            })
            .collect::<anyhow::Result<Vec<Document>>>()?;
        let carts: Vec<Document> = users
            .iter()
            .enumerate()
            .map(|(i, u)| doc! { "userId": u, "items": [lines[i % lines.len()].clone()], "createdAt": t, "updatedAt": t })
            .collect();
        for chunk in carts.chunks(500) {
            self.db
                .collection::<Document>("carts")
                .insert_many(chunk.to_vec())
                .await?;
        }
        Ok(())
    }
}
