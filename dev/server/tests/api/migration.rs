//! The data migration of `docs/deployment.md`, on a database filled as the release before
//! variants filled it: `tests/fixtures/previous-release/*.json` are that release's documents
//! (written through its API: `upsertProduct`, `adjustStock`, `/cart/add`, `/orders/create`,
//! a payment through the simulator and a restocking refund of one line), as canonical
//! extended JSON. The API reads them before and after, the same; the migration
//! runs through admin-ship's direct `migrate`; re-running it, or finishing a run that
//! crashed, leaves one consistent database.

use crate::support::TestApp;
use common::platform::clock::Clock as _;
use common::platform::migrate::Budget;
use common::shop::catalog::legacy_sku;
use common::shop::migrations;
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, Document};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const COLLECTIONS: [&str; 4] = ["products", "stock_movements", "carts", "orders"];
const BUYER: &str = "user_legacy_buyer";
/// Paid for two lamps and was refunded one.
const PAYER: &str = "user_legacy_payer";
const BROWSER: &str = "user_legacy_browser";

/// Inserts the previous release's documents as they were stored.
async fn fill_as_previous_release(app: &TestApp) {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous-release");
    for collection in COLLECTIONS {
        let text = std::fs::read_to_string(dir.join(format!("{collection}.json"))).unwrap();
        let docs: Vec<Document> = serde_json::from_str::<Vec<Value>>(&text)
            .unwrap()
            .into_iter()
            .map(|v| match Bson::try_from(v).unwrap() {
                Bson::Document(d) => d,
                other => panic!("{collection}: not a document: {other}"),
            })
            .collect();
        app.db()
            .collection::<Document>(collection)
            .insert_many(docs)
            .await
            .unwrap();
    }
}

async fn all(app: &TestApp, collection: &str) -> Vec<Document> {
    app.db()
        .collection::<Document>(collection)
        .find(doc! {})
        .sort(doc! { "_id": 1 })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

async fn snapshot(app: &TestApp) -> Vec<Vec<Document>> {
    let mut out = Vec::new();
    for c in COLLECTIONS {
        out.push(all(app, c).await);
    }
    out
}

/// The id of each user's order.
async fn orders_by_user(app: &TestApp) -> HashMap<String, String> {
    all(app, "orders")
        .await
        .iter()
        .map(|o| {
            (
                o.get_str("userId").unwrap().to_owned(),
                o.get_object_id("_id").unwrap().to_hex(),
            )
        })
        .collect()
}

/// What the shopper's API shows of the legacy data: the catalog, each order and the
/// browser's cart.
async fn reads(app: &TestApp, orders: &HashMap<String, String>) -> Value {
    let products = app.get("/products", None).await;
    let mut by_slug = serde_json::Map::new();
    for slug in ["legacy-diya", "legacy-urli", "legacy-lamp"] {
        let p = app.get(&format!("/products/{slug}"), None).await;
        by_slug.insert(slug.into(), p.ok().clone());
    }
    let mut by_user = serde_json::Map::new();
    for user in [BUYER, PAYER] {
        let order = app
            .get(&format!("/orders/{}", orders[user]), Some(&app.token(user)))
            .await;
        by_user.insert(user.into(), order.ok().clone());
    }
    let cart = app.get("/cart", Some(&app.token(BROWSER))).await;
    json!({
        "list": products.ok().clone(),
        "products": by_slug,
        "orders": by_user,
        "cart": cart.ok().clone(),
    })
}

/// `after` with only what `before` had: fields a migration adds are not a change of what
/// an older reader sees.
fn as_before(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => Value::Object(
            a.iter()
                .filter(|(k, _)| b.contains_key(*k))
                .map(|(k, v)| (k.clone(), as_before(&b[k], v)))
                .collect(),
        ),
        (Value::Array(b), Value::Array(a)) if a.len() == b.len() => {
            Value::Array(b.iter().zip(a).map(|(b, a)| as_before(b, a)).collect())
        }
        _ => after.clone(),
    }
}

async fn migrate(app: &TestApp) -> Value {
    let res = app.invoke_admin(json!({ "action": "migrate" })).await;
    assert_eq!(res["ok"], true, "{res}");
    res
}

async fn data_version_or_none(app: &TestApp) -> Option<i64> {
    let meta = app
        .db()
        .collection::<Document>("meta")
        .find_one(doc! { "_id": "schema" })
        .await
        .unwrap()?;
    meta.get_i64("dataVersion").ok()
}

async fn data_version(app: &TestApp) -> i64 {
    data_version_or_none(app).await.unwrap()
}

fn int(d: &Document, key: &str) -> i64 {
    match d.get(key) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        other => panic!("{key} is not an integer: {other:?} in {d}"),
    }
}

/// Every product has variants and no top-level stock, every variant's ledger sums to its
/// stock, and every line names its variant. Returns each variant's stock.
async fn assert_consistent(app: &TestApp) -> HashMap<ObjectId, i64> {
    let mut stock = HashMap::new();
    for p in all(app, "products").await {
        assert!(!p.contains_key("stock"), "top-level stock left: {p}");
        let variants = p.get_array("variants").unwrap();
        assert!(!variants.is_empty(), "{p}");
        for v in variants {
            let v = v.as_document().unwrap();
            stock.insert(v.get_object_id("_id").unwrap(), int(v, "stock"));
        }
    }
    let mut ledger: HashMap<ObjectId, i64> = HashMap::new();
    for m in all(app, "stock_movements").await {
        let variant = m.get_object_id("variantId").unwrap();
        assert_eq!(
            m.get_str("sku").unwrap(),
            legacy_sku(common::shop::vocabulary::ids::ProductId(
                m.get_object_id("productId").unwrap()
            ))
        );
        *ledger.entry(variant).or_default() += int(&m, "delta");
    }
    for (variant, units) in &stock {
        assert_eq!(
            ledger.get(variant).copied().unwrap_or(0),
            *units,
            "the ledger of {variant} does not sum to its stock"
        );
    }
    for collection in ["carts", "orders"] {
        for d in all(app, collection).await {
            for item in d.get_array("items").unwrap() {
                let item = item.as_document().unwrap();
                let product = item.get_object_id("productId").unwrap();
                assert_eq!(item.get_object_id("variantId").unwrap(), product, "{item}");
                assert_eq!(
                    item.get_str("sku").unwrap(),
                    legacy_sku(common::shop::vocabulary::ids::ProductId(product))
                );
                assert_eq!(item.get_str("variantTitle").unwrap(), "Default");
            }
        }
    }
    for order in all(app, "orders").await {
        for refund in order.get_array("refunds").unwrap() {
            let Ok(lines) = refund.as_document().unwrap().get_array("lines") else {
                continue;
            };
            for line in lines {
                let line = line.as_document().unwrap();
                // Stored as hex by the release that wrote it.
                let product = line.get_str("productId").unwrap();
                assert_eq!(line.get_object_id("variantId").unwrap().to_hex(), product);
            }
        }
    }
    stock
}

#[tokio::test]
async fn a_database_filled_by_the_previous_release_is_migrated_and_reads_as_before() {
    let app = TestApp::spawn().await;
    fill_as_previous_release(&app).await;
    let stored_before: HashMap<ObjectId, Document> = all(&app, "products")
        .await
        .into_iter()
        .map(|p| (p.get_object_id("_id").unwrap(), p))
        .collect();
    let orders = orders_by_user(&app).await;
    // The new code serves the old shape before anything is migrated.
    let before = reads(&app, &orders).await;
    assert_eq!(
        before["list"]["items"].as_array().unwrap().len(),
        3,
        "{before}"
    );
    assert_eq!(
        before["orders"][BUYER]["items"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        before["orders"][PAYER]["refunds"][0]["lines"][0]["quantity"],
        1
    );

    let res = migrate(&app).await;
    // 3 products, 8 ledger entries, the one cart with lines, 2 orders.
    assert_eq!(
        (&res["from"], &res["to"], &res["steps"]),
        (
            &json!(1),
            &json!(2),
            &json!([{ "version": 2, "name": "products carry variants", "documents": 14 }])
        ),
        "{res}"
    );
    assert_eq!(res["finished"], true);
    assert_eq!(data_version(&app).await, 2);
    let meta = app.get("/admin/meta", Some(&app.admin_token())).await;
    assert_eq!(
        meta.ok()["dataVersion"],
        json!({ "database": 2, "code": 2 })
    );

    let stock = assert_consistent(&app).await;
    for p in all(&app, "products").await {
        let id = p.get_object_id("_id").unwrap();
        let old = &stored_before[&id];
        let variants = p.get_array("variants").unwrap();
        assert_eq!(variants.len(), 1, "{p}");
        let v = variants[0].as_document().unwrap();
        assert_eq!(v.get_object_id("_id").unwrap(), id);
        assert_eq!(
            v.get_str("sku").unwrap(),
            legacy_sku(common::shop::vocabulary::ids::ProductId(id))
        );
        assert_eq!(v.get_str("title").unwrap(), "Default");
        assert!(v.get_bool("isActive").unwrap());
        assert_eq!(int(v, "price"), int(old, "price"));
        assert_eq!(stock[&id], int(old, "stock"));
        assert_eq!(
            int(&p, "price"),
            int(old, "price"),
            "the listing price stays"
        );
        assert_eq!(p.get_array("options").unwrap(), &Vec::<Bson>::new());
        assert!(p.get_bool("codAllowed").unwrap());
        assert_eq!(p.get("updatedAt"), old.get("updatedAt"));
    }

    let after = reads(&app, &orders).await;
    assert_eq!(as_before(&before, &after), before);

    // Run again: the step the database is at looks once more, and finds nothing.
    let stored = snapshot(&app).await;
    let again = migrate(&app).await;
    assert_eq!(
        (&again["from"], &again["to"], &again["steps"]),
        (
            &json!(2),
            &json!(2),
            &json!([{ "version": 2, "name": "products carry variants", "documents": 0 }])
        )
    );
    assert_eq!(snapshot(&app).await, stored);
}

#[tokio::test]
async fn a_run_that_crashed_part_way_is_finished_by_the_next() {
    let app = TestApp::spawn().await;
    fill_as_previous_release(&app).await;
    let stock_before: HashMap<ObjectId, i64> = all(&app, "products")
        .await
        .iter()
        .map(|p| (p.get_object_id("_id").unwrap(), int(p, "stock")))
        .collect();
    // The crashed run rewrote one product, then died holding the lease.
    let rewritten = common::shop::catalog::give_legacy_products_variants(&app.services.db, Some(1))
        .await
        .unwrap();
    assert_eq!(rewritten, 1);
    let until = mongodb::bson::DateTime::from_millis(
        app.clock.now_ms() + Duration::from_secs(15 * 60).as_millis() as i64,
    );
    app.db()
        .collection::<Document>("meta")
        .update_one(
            doc! { "_id": "schema" },
            doc! { "$set": { "lease": { "holder": "crashed", "until": until } } },
        )
        .upsert(true)
        .await
        .unwrap();

    let refused = app.invoke_admin(json!({ "action": "migrate" })).await;
    assert_eq!(refused["error"]["code"], "TRY_AGAIN", "{refused}");
    assert_eq!(
        all(&app, "products")
            .await
            .iter()
            .filter(|p| p.contains_key("variants"))
            .count(),
        1,
        "a refused run changes nothing"
    );

    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    let res = migrate(&app).await;
    assert_eq!(res["steps"][0]["documents"], 13, "{res}");
    assert_eq!(data_version(&app).await, 2);
    let stock = assert_consistent(&app).await;
    assert_eq!(stock, stock_before);
}

#[tokio::test]
async fn a_run_out_of_time_stops_between_batches_and_the_next_one_finishes() {
    let app = TestApp::spawn().await;
    fill_as_previous_release(&app).await;
    let stock_before: HashMap<ObjectId, i64> = all(&app, "products")
        .await
        .iter()
        .map(|p| (p.get_object_id("_id").unwrap(), int(p, "stock")))
        .collect();
    let db = &app.services.db;
    let spent = Budget::of(Duration::ZERO);
    let cut = migrations::run(db, app.clock.as_ref(), "test", spent)
        .await
        .unwrap();
    // One batch (every product here) was rewritten; the rest waits, and so does the version.
    assert!(!cut.finished);
    assert_eq!((cut.from, cut.to, cut.steps[0].documents), (1, 1, 3));
    assert_eq!(data_version_or_none(&app).await, None);
    let rest = migrations::run(db, app.clock.as_ref(), "test", Budget::unlimited())
        .await
        .unwrap();
    assert!(rest.finished);
    assert_eq!((rest.from, rest.to, rest.steps[0].documents), (1, 2, 11));
    assert_eq!(assert_consistent(&app).await, stock_before);
}

#[tokio::test]
async fn two_runs_at_once_rewrite_each_document_once() {
    let app = TestApp::spawn().await;
    fill_as_previous_release(&app).await;
    more_legacy_products(&app, 20, 7).await;
    let event = json!({ "action": "migrate" });
    let (a, b) = tokio::join!(app.invoke_admin(event.clone()), app.invoke_admin(event));
    let mut rewritten = 0;
    for res in [&a, &b] {
        if res["ok"] == true {
            rewritten += res["steps"][0]["documents"].as_u64().unwrap();
        } else {
            // Refused by the other's lease, having changed nothing.
            assert_eq!(res["error"]["code"], "TRY_AGAIN", "{res}");
        }
    }
    // 14 documents of the fixture, 20 products with one ledger entry each.
    assert_eq!(rewritten, 14 + 40, "{a} {b}");
    assert_eq!(data_version(&app).await, 2);
    assert_consistent(&app).await;
    let lease = app
        .db()
        .collection::<Document>("meta")
        .find_one(doc! { "_id": "schema", "lease": { "$exists": true } })
        .await
        .unwrap();
    assert_eq!(lease, None, "each run releases its lease");
}

/// Legacy products, each with its opening ledger entry, as the previous release would hold
/// them after a while: enough of them that stock moves land while the migration runs.
async fn more_legacy_products(app: &TestApp, n: usize, stock: i64) -> Vec<ObjectId> {
    let template = all(app, "products").await.remove(0);
    let mut ids = Vec::new();
    for i in 0..n {
        let id = ObjectId::new();
        let mut p = template.clone();
        p.insert("_id", id);
        p.insert("slug", format!("legacy-bell-{i}"));
        p.insert("name", format!("Brass Bell {i}"));
        p.insert("stock", stock);
        app.db()
            .collection::<Document>("products")
            .insert_one(p)
            .await
            .unwrap();
        app.db()
            .collection::<Document>("stock_movements")
            .insert_one(doc! {
                "productId": id, "delta": stock, "reason": "initial stock",
                "by": "previous-release", "at": mongodb::bson::DateTime::now(),
                "stockAfter": stock,
            })
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn stock_moved_while_the_migration_runs_is_neither_lost_nor_counted_twice() {
    let app = TestApp::spawn().await;
    fill_as_previous_release(&app).await;
    let ids = more_legacy_products(&app, 30, 20).await;
    let admin = app.admin_token();
    let movers = ids.iter().enumerate().map(|(i, id)| {
        let (app, admin) = (&app, &admin);
        async move {
            let mut accepted = 0;
            for delta in [3, -2, 5, -4, -1, 2] {
                let delta = if i % 2 == 0 { delta } else { -delta };
                let res = app
                    .post(
                        &format!("/admin/products/{}/stock", id.to_hex()),
                        Some(admin),
                        json!({ "delta": delta, "reason": "race" }),
                    )
                    .await;
                if res.status.is_success() {
                    accepted += delta;
                } else {
                    res.problem(409, "STOCK_WOULD_GO_NEGATIVE");
                }
            }
            (*id, accepted)
        }
    });
    let (moved, first) = tokio::join!(futures::future::join_all(movers), migrate(&app));
    assert_eq!(first["to"], 2, "{first}");
    // Run again once the moves have stopped, as a deploy does after the last old Lambda is
    // gone: it labels and folds what arrived in the old shape meanwhile.
    migrate(&app).await;
    let stock = assert_consistent(&app).await;
    for (id, accepted) in moved {
        assert_eq!(stock[&id], 20 + accepted, "{id}");
    }
}
