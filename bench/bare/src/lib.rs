//! The database work of four routes, written straight against the driver: no auth, no
//! validation, no request context, no typed models. `make bench` serves these from a bare
//! axum app and compares its throughput with the real routes; whatever the real routes lose
//! against this is the cost of our own code.
//!
//! Each function issues the same commands, in the same order, as the route it mirrors
//! (`functions/products`, `functions/cart`, `functions/orders` plus the immediate mail send
//! of `common::shop::messages::mail`), so the database does the same work for both.

use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use mongodb::options::ReturnDocument;
use mongodb::{Client, Database};

#[derive(Clone)]
pub struct Bare {
    pub db: Database,
    http: reqwest::Client,
    ses_url: Option<String>,
    from: String,
}

pub type Result<T> = std::result::Result<T, anyhow::Error>;

impl Bare {
    pub async fn connect(
        uri: &str,
        db: &str,
        ses_url: Option<String>,
        from: String,
    ) -> Result<Bare> {
        let client = Client::with_uri_str(uri).await?;
        Ok(Bare {
            db: client.database(db),
            http: reqwest::Client::new(),
            ses_url,
            from,
        })
    }

    pub async fn list_products(&self, limit: i64) -> Result<Vec<Document>> {
        Ok(self
            .db
            .collection::<Document>("products")
            .find(doc! { "isActive": true })
            .sort(doc! { "_id": -1 })
            .limit(limit + 1)
            .await?
            .try_collect()
            .await?)
    }

    pub async fn product(&self, slug: &str) -> Result<Option<Document>> {
        Ok(self
            .db
            .collection::<Document>("products")
            .find_one(doc! { "slug": slug, "isActive": true })
            .await?)
    }

    /// Mirrors `cart::add`: the cart and the product in one read, then the one guarded write
    /// that fits (create the cart with the line, add to the line, push a line); a miss
    /// re-reads the cart and goes round again.
    pub async fn cart_add(&self, user: &str, pid: ObjectId, quantity: i64) -> Result<Document> {
        let mut found: Vec<Document> = self
            .db
            .collection::<Document>("carts")
            .aggregate(vec![
                doc! { "$match": { "userId": user } },
                doc! { "$limit": 1 },
                doc! { "$addFields": { "__query": 1 } },
                doc! { "$unionWith": { "coll": "products", "pipeline": [
                    { "$match": { "_id": pid, "isActive": true } },
                    { "$limit": 1 },
                    { "$addFields": { "__query": 0 } },
                ] } },
            ])
            .await?
            .try_collect()
            .await?;
        let cart_at = found.iter().position(|d| d.get_i32("__query") == Ok(1));
        let mut cart = cart_at.map(|i| found.remove(i));
        let product = found
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no product {pid}"))?;
        let name = product.get_str("name").unwrap_or_default().to_owned();
        let price = product.get_i64("price").unwrap_or_default();
        let room = product.get_i64("stock").unwrap_or_default().min(10) - quantity;
        anyhow::ensure!(room >= 0, "no room");
        let carts = self.db.collection::<Document>("carts");
        let line = doc! { "productId": pid, "name": &name, "price": price, "quantity": quantity };
        for _ in 0..8 {
            let t = DateTime::now();
            let held = cart.as_ref().is_some_and(|c| {
                c.get_array("items").is_ok_and(|items| {
                    items.iter().any(|l| {
                        l.as_document()
                            .is_some_and(|l| l.get_object_id("productId") == Ok(pid))
                    })
                })
            });
            let written = match &cart {
                None => {
                    let new = doc! { "userId": user, "items": [line.clone()], "createdAt": t, "updatedAt": t };
                    match carts.insert_one(&new).await {
                        Ok(_) => Some(new),
                        Err(e) if duplicate_key(&e) => None,
                        Err(e) => return Err(e.into()),
                    }
                }
                Some(_) if held => {
                    carts
                        .find_one_and_update(
                            doc! { "userId": user, "items": { "$elemMatch": { "productId": pid, "quantity": { "$lte": room } } } },
                            doc! { "$inc": { "items.$[line].quantity": quantity }, "$set": { "items.$[line].name": &name, "items.$[line].price": price, "updatedAt": t } },
                        )
                        .array_filters(vec![doc! { "line.productId": pid }])
                        .return_document(ReturnDocument::After)
                        .await?
                }
                Some(_) => {
                    carts
                        .find_one_and_update(
                            doc! { "userId": user, "items.productId": { "$ne": pid }, "items.49": { "$exists": false } },
                            doc! { "$push": { "items": line.clone() }, "$set": { "updatedAt": t } },
                        )
                        .return_document(ReturnDocument::After)
                        .await?
                }
            };
            if let Some(c) = written {
                return Ok(c);
            }
            cart = carts.find_one(doc! { "userId": user }).await?;
        }
        anyhow::bail!("cart add did not settle")
    }

    /// Mirrors `orders::create` without an idempotency key or coupon: the rate-limit
    /// counter, the order number, the checkout transaction's quick path, then the
    /// immediate send of the order mail.
    pub async fn checkout(&self, user: &str, email: &str, address: Document) -> Result<Document> {
        let now = DateTime::now().timestamp_millis();
        let window = now - now.rem_euclid(60_000);
        let limits = self.db.collection::<Document>("rate_limits");
        let counter_id = format!("create-order:{user}:{window}");
        match limits
            .insert_one(doc! { "_id": &counter_id, "count": 1_i64, "expiresAt": DateTime::from_millis(window + 120_000) })
            .await
        {
            Ok(_) => {}
            Err(e) if duplicate_key(&e) => {
                limits
                    .find_one_and_update(doc! { "_id": &counter_id }, doc! { "$inc": { "count": 1_i64 } })
                    .await?;
            }
            Err(e) => return Err(e.into()),
        }
        let seq = self
            .db
            .collection::<Document>("counters")
            .find_one_and_update(
                doc! { "_id": "orderNumber" },
                doc! { "$inc": { "seq": 1_i64 } },
            )
            .upsert(true)
            .return_document(ReturnDocument::After)
            .await?
            .and_then(|c| c.get_i64("seq").ok())
            .unwrap_or_default();

        let mut session = self.db.client().start_session().await?;
        // Retried on write conflicts like `common::platform::db::TxRetry` (same attempts, same backoff):
        // under load both sides pay for the conflicts, or the comparison would be unfair.
        let mut attempt = 0;
        let (order_id, order) = loop {
            attempt += 1;
            session.start_transaction().await?;
            let placed = match self.place(&mut session, user, email, &address, seq).await {
                Ok(placed) => session
                    .commit_transaction()
                    .await
                    .map(|()| placed)
                    .map_err(Into::into),
                Err(e) => {
                    let _ = session.abort_transaction().await;
                    Err(e)
                }
            };
            match placed {
                Ok(placed) => break placed,
                Err(e) if attempt < 40 && transient(&e) => backoff(attempt).await,
                Err(e) => return Err(e),
            }
        };

        self.send_order_mail(order_id, email).await?;
        Ok(order)
    }

    /// The transaction body of `checkout`: the cart read and emptied in one write, each
    /// line's stock taken by a guarded write, one ledger insert, the order, its mail.
    async fn place(
        &self,
        session: &mut mongodb::ClientSession,
        user: &str,
        email: &str,
        address: &Document,
        seq: i64,
    ) -> Result<(ObjectId, Document)> {
        let t = DateTime::now();
        let cart = self
            .db
            .collection::<Document>("carts")
            .find_one_and_update(
                doc! { "userId": user },
                doc! { "$set": { "items": [], "updatedAt": t } },
            )
            .return_document(ReturnDocument::Before)
            .session(&mut *session)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no cart"))?;
        let lines: Vec<Document> = cart
            .get_array("items")?
            .iter()
            .filter_map(|l| l.as_document().cloned())
            .collect();
        anyhow::ensure!(!lines.is_empty(), "empty cart");
        let order_id = ObjectId::new();
        let mut subtotal = 0;
        let mut ledger = Vec::new();
        for line in &lines {
            let q = line.get_i64("quantity")?;
            let price = line.get_i64("price")?;
            let pid = line.get_object_id("productId")?;
            subtotal += q * price;
            let taken = self
                .db
                .collection::<Document>("products")
                .find_one_and_update(
                    doc! { "_id": pid, "isActive": true, "hsn": { "$ne": null }, "gstRate": { "$ne": null }, "stock": { "$gte": q }, "price": price },
                    doc! { "$inc": { "stock": -q } },
                )
                .return_document(ReturnDocument::After)
                .session(&mut *session)
                .await?
                .ok_or_else(|| anyhow::anyhow!("out of stock"))?;
            ledger.push(doc! {
                "productId": pid, "delta": -q, "reason": "checkout", "orderId": order_id, "by": user,
                "at": t, "stockAfter": taken.get_i64("stock").unwrap_or_default(),
            });
        }
        self.db
            .collection::<Document>("stock_movements")
            .insert_many(&ledger)
            .session(&mut *session)
            .await?;
        let order = doc! {
            "_id": order_id, "number": format!("PIT-{}", 1000 + seq), "userId": user, "email": email, "items": lines,
            "subtotal": subtotal, "discount": 0_i64, "total": subtotal, "currency": "INR",
            "status": "created", "statusHistory": [{ "status": "created", "at": t }],
            "payment": { "provider": "phonepe", "status": "pending" },
            "shipping": { "address": address.clone() }, "createdAt": t, "updatedAt": t,
        };
        self.db
            .collection::<Document>("orders")
            .insert_one(&order)
            .session(&mut *session)
            .await?;
        self.db
            .collection::<Document>("mail_outbox")
            .update_one(
                doc! { "orderId": order_id, "event": "order_placed" },
                doc! { "$setOnInsert": { "orderId": order_id, "event": "order_placed", "status": "pending", "attempts": 0_i32, "nextAttemptAt": t, "createdAt": t } },
            )
            .upsert(true)
            .session(&mut *session)
            .await?;
        Ok((order_id, order))
    }

    /// Mirrors `Mailer::send_for_new_order`: the lease stamped dispatched in one write, the
    /// send, the outcome.
    async fn send_order_mail(&self, order_id: ObjectId, email: &str) -> Result<()> {
        let outbox = self.db.collection::<Document>("mail_outbox");
        let now = DateTime::now();
        let Some(entry) = outbox
            .find_one_and_update(
                doc! { "orderId": order_id, "event": "order_placed", "refundId": { "$exists": false }, "status": "pending" },
                doc! { "$set": { "status": "sending", "leaseUntil": DateTime::from_millis(now.timestamp_millis() + 60_000), "leaseToken": ObjectId::new().to_hex(), "dispatchedAt": now }, "$inc": { "attempts": 1_i32 } },
            )
            .return_document(ReturnDocument::After)
            .await?
        else {
            return Ok(());
        };
        let message_id = self.send_mail(email).await?;
        outbox
            .update_one(
                doc! { "_id": entry.get_object_id("_id")?, "leaseToken": entry.get_str("leaseToken")? },
                doc! { "$set": { "status": "sent", "sesMessageId": message_id, "sentAt": DateTime::now() }, "$unset": { "leaseUntil": "", "leaseToken": "", "dispatchedAt": "" } },
            )
            .await?;
        Ok(())
    }

    /// One SES `SendEmail` over the query protocol, unsigned: the emulator does not check
    /// signatures, and signing is the SDK's cost, not the database's.
    async fn send_mail(&self, to: &str) -> Result<String> {
        let Some(url) = &self.ses_url else {
            return Ok(String::new());
        };
        let body = "<p>Thank you for your order.</p>".repeat(40);
        let form = [
            ("Action", "SendEmail"),
            ("Version", "2010-12-01"),
            ("Source", self.from.as_str()),
            ("Destination.ToAddresses.member.1", to),
            ("Message.Subject.Data", "Your Pitalya order"),
            ("Message.Body.Html.Data", body.as_str()),
            ("Message.Body.Text.Data", "Thank you for your order."),
        ];
        let res = self
            .http
            .post(url)
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/ap-south-1/ses/aws4_request, SignedHeaders=host, Signature=0",
            )
            .form(&form)
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "SES answered {}", res.status());
        Ok(res.text().await?)
    }
}

fn duplicate_key(e: &mongodb::error::Error) -> bool {
    match e.kind.as_ref() {
        mongodb::error::ErrorKind::Write(mongodb::error::WriteFailure::WriteError(w)) => {
            w.code == 11000
        }
        mongodb::error::ErrorKind::Command(c) => c.code == 11000,
        _ => false,
    }
}

fn transient(e: &anyhow::Error) -> bool {
    e.downcast_ref::<mongodb::error::Error>().is_some_and(|m| {
        m.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
            || matches!(m.kind.as_ref(), mongodb::error::ErrorKind::Command(c) if c.code == 112)
    })
}

/// `common::platform::db`'s backoff: full jitter under a cap doubling from 10 ms to 400 ms.
async fn backoff(attempt: u32) {
    let cap_ms = (5u64 << attempt.min(7)).min(400);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos() as u64;
    tokio::time::sleep(std::time::Duration::from_millis(1 + nanos % cap_ms)).await;
}
