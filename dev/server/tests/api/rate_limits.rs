//! Per-user rate limits are exact across Lambda instances: a burst from one user, spread over
//! several instances sharing the database, gets exactly the limit through in a minute, however
//! the first requests of the window race to create its counter.

use crate::support::TestApp;
use futures::future::join_all;
use serde_json::json;

const INSTANCES: usize = 3;
const BURST: usize = 30;
const LIMIT: usize = 10;

/// `n` instances, each with its own driver client and pool, over one database.
pub(crate) async fn instances(n: usize) -> Vec<TestApp> {
    let first = TestApp::spawn().await;
    let db = first.db().name().to_owned();
    let mut apps = vec![first];
    for _ in 1..n {
        let db = db.clone();
        apps.push(
            TestApp::spawn_with(move |vars| {
                vars.insert("MONGODB_DB".into(), db);
            })
            .await,
        );
    }
    apps
}

#[tokio::test]
async fn a_concurrent_burst_across_instances_gets_exactly_the_limit_through() {
    let apps = instances(INSTANCES).await;
    for round in 0..4 {
        let user = format!("user_burst_{round}_{}", uuid::Uuid::new_v4().simple());
        let token = apps[0].token(&user);
        crate::support::inside_one_window(&apps);
        let calls = (0..BURST).map(|i| {
            let app = &apps[i % apps.len()];
            app.post(
                "/checkout/apply-coupon",
                Some(&token),
                json!({ "code": "NO-SUCH-CODE" }),
            )
        });
        let responses = join_all(calls).await;
        let mut passed = 0;
        for res in &responses {
            match res.status.as_u16() {
                429 => {
                    res.problem(429, "RATE_LIMITED");
                    assert!(res.headers.get("retry-after").is_some());
                }
                // Past the limit check, the unknown code is what refuses the request.
                404 => {
                    res.problem(404, "COUPON_NOT_FOUND");
                    passed += 1;
                }
                other => panic!("round {round}: unexpected {other}: {}", res.body),
            }
        }
        assert_eq!(
            (passed, BURST - passed),
            (LIMIT, BURST - LIMIT),
            "round {round}: requests let through vs refused"
        );
    }
}

#[tokio::test]
async fn first_requests_of_a_window_racing_on_every_instance_are_all_counted() {
    // Exactly the limit, all at once: any lost increment or spurious refusal shows up as a 429
    // below the limit, and one more request must then be the first refusal.
    let apps = instances(INSTANCES).await;
    for round in 0..4 {
        let user = format!("user_edge_{round}_{}", uuid::Uuid::new_v4().simple());
        let token = apps[0].token(&user);
        crate::support::inside_one_window(&apps);
        let calls = (0..LIMIT).map(|i| {
            apps[i % apps.len()].post(
                "/checkout/apply-coupon",
                Some(&token),
                json!({ "code": "NO-SUCH-CODE" }),
            )
        });
        for res in join_all(calls).await {
            res.problem(404, "COUPON_NOT_FOUND");
        }
        apps[round % apps.len()]
            .post(
                "/checkout/apply-coupon",
                Some(&token),
                json!({ "code": "NO-SUCH-CODE" }),
            )
            .await
            .problem(429, "RATE_LIMITED");
    }
}
