//! Cold starts build indexes only on a database older than the code.

use crate::support::TestApp;
use common::platform::db::SCHEMA_VERSION;
use mongodb::bson::{doc, Document};

async fn spawn_on(db: &str) -> TestApp {
    let db = db.to_owned();
    TestApp::spawn_with(move |vars| {
        vars.insert("MONGODB_DB".into(), db);
    })
    .await
}

async fn has_slug_index(app: &TestApp) -> bool {
    let names = app
        .db()
        .collection::<Document>("products")
        .list_index_names()
        .await
        .unwrap();
    names.iter().any(|n| n == "slug_1")
}

async fn schema_version(app: &TestApp) -> Option<i64> {
    app.db()
        .collection::<Document>("meta")
        .find_one(doc! { "_id": "schema" })
        .await
        .unwrap()
        .and_then(|d| d.get_i64("version").ok())
}

#[tokio::test]
async fn a_fresh_database_gets_its_indexes_and_later_cold_starts_skip_the_builds() {
    let name = format!(
        "t_schema_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let first = spawn_on(&name).await;
    assert!(
        has_slug_index(&first).await,
        "unique indexes exist before the first write"
    );
    assert_eq!(schema_version(&first).await, Some(SCHEMA_VERSION));

    // An index gone from a current database stays gone: the cold start did not rebuild it.
    first
        .db()
        .collection::<Document>("products")
        .drop_index("slug_1")
        .await
        .unwrap();
    let second = spawn_on(&name).await;
    assert!(
        !has_slug_index(&second).await,
        "a current database was re-indexed"
    );

    // An older schema version is brought up to date by the next cold start.
    second
        .db()
        .collection::<Document>("meta")
        .update_one(
            doc! { "_id": "schema" },
            doc! { "$set": { "version": 0_i64 } },
        )
        .await
        .unwrap();
    let third = spawn_on(&name).await;
    assert!(has_slug_index(&third).await);
    assert_eq!(schema_version(&third).await, Some(SCHEMA_VERSION));
}
