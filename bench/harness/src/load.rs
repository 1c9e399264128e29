//! Closed-loop load against the local stack and the bare handler: `concurrency` keep-alive
//! connections, each sending its next request as soon as the last one is answered.
//!
//! Built in rather than oha/wrk because the write scenarios need a different shopper per
//! request (a token each, a cart filled beforehand for checkout) and an exact request count
//! (each checkout consumes its cart).

use crate::stats::{pct, tally};
use crate::world::World;
use mongodb::bson::Document;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Options {
    pub api: String,
    pub bare: String,
    pub reads: usize,
    pub writes: usize,
    pub checkouts: usize,
    pub concurrency: usize,
}

struct Req {
    post: bool,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    statuses: Vec<u16>,
    wall: Duration,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Ours,
    Bare,
}

#[derive(Clone, Copy)]
enum Scenario {
    List,
    Product,
    CartAdd,
    Checkout,
}

impl Scenario {
    fn label(self) -> &'static str {
        match self {
            Scenario::List => "GET /products",
            Scenario::Product => "GET /products/{slug}",
            Scenario::CartAdd => "POST /cart/add",
            Scenario::Checkout => "POST /orders/create",
        }
    }
}

const ADDRESS: &str = r#"{"shippingAddress":{"name":"Asha Iyer","phone":"9876543210","line1":"12 Temple Street","city":"Chennai","state":"Tamil Nadu","pincode":"600004"}}"#;

fn caller(
    target: Target,
    world: &World,
    user: &str,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut h = vec![("content-type", "application/json".to_owned())];
    match target {
        Target::Ours => h.push((
            "authorization",
            format!("Bearer {}", world.token(user, false)?),
        )),
        Target::Bare => {
            h.push(("x-user-id", user.to_owned()));
            h.push(("x-user-email", format!("{user}@example.com")));
        }
    }
    Ok(h)
}

/// The requests of one run; shoppers are new for every run so no run inherits another's carts.
async fn requests(
    opts: &Options,
    world: &World,
    s: Scenario,
    target: Target,
    run: usize,
) -> anyhow::Result<Vec<Req>> {
    let base = match target {
        Target::Ours => &opts.api,
        Target::Bare => &opts.bare,
    };
    let tag = format!(
        "{}_{}_{run}",
        if target == Target::Ours {
            "ours"
        } else {
            "bare"
        },
        std::process::id()
    );
    let get = |path: &str, n: usize| {
        (0..n)
            .map(|_| Req {
                post: false,
                url: format!("{base}{path}"),
                headers: vec![],
                body: None,
            })
            .collect()
    };
    Ok(match s {
        Scenario::List => get("/products", opts.reads),
        Scenario::Product => get("/products/kuber-brass-urli", opts.reads),
        Scenario::CartAdd => {
            // Five adds per shopper, each of a different product: the first creates the
            // cart, the rest push lines — many documents, none of them hot.
            let shoppers = (opts.writes / 5).max(1);
            let heads: Vec<_> = (0..shoppers)
                .map(|u| caller(target, world, &format!("user_cart_{tag}_{u}")))
                .collect::<anyhow::Result<_>>()?;
            (0..opts.writes)
                .map(|i| {
                    let p: &Document = &world.products[(i / shoppers) % world.products.len()];
                    let pid = p
                        .get_object_id("_id")
                        .map(|o| o.to_hex())
                        .unwrap_or_default();
                    Req {
                        post: true,
                        url: format!("{base}/cart/add"),
                        headers: heads[i % shoppers].clone(),
                        body: Some(format!(r#"{{"productId":"{pid}","quantity":1}}"#)),
                    }
                })
                .collect()
        }
        Scenario::Checkout => {
            let users: Vec<String> = (0..opts.checkouts)
                .map(|i| format!("user_checkout_{tag}_{i}"))
                .collect();
            // Spread over the whole catalog: with one product, every checkout would
            // conflict on the same stock counter and this would measure retries.
            let products: Vec<&Document> = world.products.iter().collect();
            world.fill_carts(&users, &products).await?;
            users
                .iter()
                .map(|u| {
                    Ok(Req {
                        post: true,
                        url: format!("{base}/orders/create"),
                        headers: caller(target, world, u)?,
                        body: Some(ADDRESS.to_owned()),
                    })
                })
                .collect::<anyhow::Result<_>>()?
        }
    })
}

async fn drive(reqs: Vec<Req>, concurrency: usize) -> Outcome {
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("HTTP client");
    let reqs = Arc::new(reqs);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, reqs, next) = (http.clone(), reqs.clone(), next.clone());
            tokio::spawn(async move {
                let mut out = Outcome::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = reqs.get(i) else { break };
                    let mut b = if r.post {
                        http.post(&r.url)
                    } else {
                        http.get(&r.url)
                    };
                    for (k, v) in &r.headers {
                        b = b.header(*k, v);
                    }
                    if let Some(body) = &r.body {
                        b = b.body(body.clone());
                    }
                    let t = Instant::now();
                    let status = match b.send().await {
                        Ok(res) => {
                            let s = res.status().as_u16();
                            let _ = res.bytes().await;
                            s
                        }
                        Err(_) => 0,
                    };
                    out.latencies.push(t.elapsed());
                    out.statuses.push(status);
                }
                out
            })
        })
        .collect();
    let mut all = Outcome::default();
    for w in workers {
        let o = w.await.expect("load worker");
        all.latencies.extend(o.latencies);
        all.statuses.extend(o.statuses);
    }
    all.wall = started.elapsed();
    all
}

pub async fn run(opts: &Options) -> anyhow::Result<String> {
    let world = World::open().await?;
    // Warm both servers' connection pools and the database's caches.
    for base in [&opts.api, &opts.bare] {
        let warm = (0..200)
            .map(|_| Req {
                post: false,
                url: format!("{base}/products"),
                headers: vec![],
                body: None,
            })
            .collect();
        drive(warm, opts.concurrency).await;
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} connections, closed loop; each scenario runs ours, bare, bare, ours (so drift in the \
         database between runs falls on both; written collections are emptied before each run) and the table pools both runs of each. Reads: {} \
         requests per run; cart adds: {} per run (5 adds per shopper, each a different product); \
         checkouts: {} per run (one shopper each, cart filled beforehand with one item, items spread over the catalog).\n",
        opts.concurrency, opts.reads, opts.writes, opts.checkouts
    );
    s.push_str("| scenario | server | req/s | p50 ms | p90 ms | p99 ms | answers | ours ÷ bare | ≥ 0.85 |\n|---|---|---|---|---|---|---|---|---|\n");
    for scenario in [
        Scenario::List,
        Scenario::Product,
        Scenario::CartAdd,
        Scenario::Checkout,
    ] {
        let mut pooled = [Outcome::default(), Outcome::default()];
        for (run, target) in [Target::Ours, Target::Bare, Target::Bare, Target::Ours]
            .into_iter()
            .enumerate()
        {
            eprintln!(
                "bench load: {} against {}",
                scenario.label(),
                if target == Target::Ours {
                    "ours"
                } else {
                    "bare"
                }
            );
            world.reset().await?;
            let reqs = requests(opts, &world, scenario, target, run).await?;
            let o = drive(reqs, opts.concurrency).await;
            let p = &mut pooled[target as usize];
            p.latencies.extend(o.latencies);
            p.statuses.extend(o.statuses);
            p.wall += o.wall;
        }
        let rps = |o: &Outcome| o.latencies.len() as f64 / o.wall.as_secs_f64();
        let ratio = rps(&pooled[0]) / rps(&pooled[1]);
        for (i, name) in ["ours (`pitalya-dev serve`)", "bare (`bench-bare`)"]
            .iter()
            .enumerate()
        {
            let o = &pooled[i];
            let (r, verdict) = if i == 0 {
                (
                    format!("{ratio:.2}"),
                    if ratio >= 0.85 { "PASS" } else { "**FAIL**" },
                )
            } else {
                (String::new(), "")
            };
            let _ = writeln!(
                s,
                "| {} | {name} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {r} | {verdict} |",
                scenario.label(),
                rps(o),
                pct(&o.latencies, 50.0),
                pct(&o.latencies, 90.0),
                pct(&o.latencies, 99.0),
                tally(o.statuses.iter()),
            );
        }
    }
    Ok(s)
}
