//! A database outage longer than the driver's server-selection timeout: cart and checkout
//! answer a retryable `503 TRY_AGAIN` (never a 500) within the Lambda budget, change nothing,
//! and the same instance serves again once the database is back, without a restart.

use crate::cart::stored_cart;
use crate::orders::{count, create, order_body, product, stock};
use crate::support::{Resp, TestApp};
use mongodb::bson::doc;
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Lambda's timeout for these functions (template.yaml): the 503 must come before it.
const LAMBDA_BUDGET: Duration = Duration::from_secs(15);

/// A SecantusDB of this test's own, on disk so that what was committed survives a restart.
struct Database {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Database {
    fn start() -> Database {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pitalya-outage-{}", uuid::Uuid::new_v4()));
        let mut db = Database {
            port,
            dir,
            child: None,
        };
        db.restart();
        db
    }

    /// The driver checks on the server every half second (the least it allows; 10 s by
    /// default), so a test learns of a crash within a second instead of sleeping through the
    /// default interval. The server-selection timeout stays the one production runs with.
    fn uri(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?directConnection=true&heartbeatFrequencyMS=500",
            self.port
        )
    }

    fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/secantusd-py");
        let child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--storage-path")
            .arg(&self.dir)
            .args(["--sync-on-commit", "--log-level", "WARNING"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its own process group, so a kill takes anything it started along with it.
            .process_group(0)
            .spawn()
            .expect("start secantusd-py");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "the database did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A crash, not a shutdown: the driver gets no goodbye.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "the database is still answering");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A retryable 503 that says nothing about the database behind it.
#[track_caller]
fn assert_try_again(res: &Resp, elapsed: Duration, what: &str) {
    res.problem(503, "TRY_AGAIN");
    let retry_after: u64 = res
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: 503 without Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{what}: {retry_after}");
    let detail = res.body["detail"].as_str().unwrap().to_lowercase();
    for leak in [
        "mongo",
        "127.0.0.1",
        "server selection",
        "connection",
        "timed out",
    ] {
        assert!(
            !detail.contains(leak),
            "{what}: driver detail leaked: {detail}"
        );
    }
    assert!(
        elapsed < LAMBDA_BUDGET,
        "{what}: answered after {elapsed:?}, past the Lambda budget"
    );
}

#[tokio::test]
async fn a_long_outage_answers_503_try_again_changes_nothing_and_recovers() {
    let mut database = Database::start();
    let uri = database.uri();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("MONGODB_URI".into(), uri);
    })
    .await;
    let user = "user_outage_meera";
    let token = app.token(user);
    let lamp = product(&app, "outage-lamp", 49_900, 10).await;
    let add = json!({ "productId": lamp.to_hex(), "quantity": 2 });

    // Everything works before the outage.
    app.post("/cart/add", Some(&token), add.clone()).await.ok();
    let placed = create(&app, user, order_body(), None).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    app.post("/cart/add", Some(&token), add.clone()).await.ok();
    let cart_before = app.get("/cart", Some(&token)).await.ok().clone();
    let stored_before = stored_cart(&app, user).await;
    let stock_before = stock(&app, lamp).await;
    let orders_before = count(&app, "orders", doc! { "userId": user }).await;
    assert_eq!((stock_before, orders_before), (8, 1));

    database.kill();
    // Two heartbeats, so the driver has marked the server unreachable and cleared its pool:
    // each request below then waits out the whole server-selection timeout, the outage
    // outlasting it, rather than failing fast on a dead pooled connection.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    let res = app.get("/cart", Some(&token)).await;
    assert_try_again(&res, t.elapsed(), "GET /cart");
    let t = Instant::now();
    let res = app.post("/cart/add", Some(&token), add.clone()).await;
    assert_try_again(&res, t.elapsed(), "POST /cart/add");
    let t = Instant::now();
    let res = create(&app, user, order_body(), Some("outage-key-1")).await;
    assert_try_again(&res, t.elapsed(), "POST /orders/create");

    database.restart();
    // The same instance, without a restart, serves again once the driver sees the server.
    let deadline = Instant::now() + Duration::from_secs(30);
    let cart_after = loop {
        let res = app.get("/cart", Some(&token)).await;
        if res.status == 200 {
            break res.body;
        }
        assert_eq!(res.status, 503, "while recovering: {}", res.body);
        assert!(Instant::now() < deadline, "no recovery: {}", res.body);
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        cart_after, cart_before,
        "the cart changed during the outage"
    );
    assert_eq!(stored_cart(&app, user).await, stored_before);
    assert_eq!(stock(&app, lamp).await, stock_before);
    assert_eq!(count(&app, "orders", doc! { "userId": user }).await, 1);
    assert_eq!(count(&app, "idempotency_keys", doc! {}).await, 0);

    // And the very checkout that was refused now goes through.
    let res = create(&app, user, order_body(), Some("outage-key-1")).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(stock(&app, lamp).await, stock_before - 2);
}

/// Found from outside: with the database SIGKILLed during traffic, an order the client got
/// `201` for vanished with its mail and idempotency key. Writes are now acknowledged only
/// once journaled by a majority (`w: majority, j: true`) on a database that syncs each commit.
#[tokio::test]
async fn orders_acknowledged_before_the_database_is_killed_are_all_there_after_it_restarts() {
    let mut database = Database::start();
    let uri = database.uri();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("MONGODB_URI".into(), uri);
    })
    .await;
    let lamp = product(&app, "durable-lamp", 49_900, 50).await;
    let users: Vec<String> = (0..5).map(|i| format!("user_durable_{i}")).collect();
    for u in &users {
        crate::orders::fill_cart(&app, u, &[(lamp, 1)]).await;
    }
    let placed = futures::future::join_all(users.iter().map(|u| {
        let key = format!("durable-{u}");
        let app = &app;
        async move { (create(app, u, order_body(), Some(&key)).await, key) }
    }))
    .await;
    // The crash comes the moment the last answer is in.
    database.kill();
    let acknowledged: Vec<(String, String, String)> = placed
        .iter()
        .zip(&users)
        .map(|((res, key), user)| {
            assert_eq!(res.status, 201, "{}", res.body);
            (
                user.clone(),
                key.clone(),
                res.body["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    database.restart();

    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/products", None).await.status != 200 {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (user, key, id) in &acknowledged {
        let oid = mongodb::bson::oid::ObjectId::parse_str(id).unwrap();
        assert_eq!(
            count(&app, "orders", doc! { "_id": oid }).await,
            1,
            "order {id} survived"
        );
        assert_eq!(
            count(
                &app,
                "mail_outbox",
                doc! { "orderId": oid, "event": "order_placed" }
            )
            .await,
            1,
            "its mail survived"
        );
        // Its idempotency key survived too: a retry returns the same order, creates nothing.
        let again = create(&app, user, order_body(), Some(key)).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.body["id"].as_str().unwrap(), id);
    }
    assert_eq!(stock(&app, lamp).await, 45);
}
