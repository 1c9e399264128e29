//! Cold starts and warm invocations of every function binary under the runtime API stub.

use crate::proxy::{self, Meter};
use crate::stats::{max, min, pct, tally};
use crate::stub::{Answer, Stub};
use crate::world::World;
use anyhow::Context as _;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::Digest as _;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub struct Options {
    pub bins: PathBuf,
    pub events: PathBuf,
    pub cold: usize,
    pub warm: usize,
    pub only: Vec<String>,
}

/// Who the events of a case are sent as.
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    Nobody,
    /// A new shopper per invocation, so every invocation does the same work (a first add
    /// creates the cart) and no per-user rate limit is reached.
    NewShopper,
    /// A new shopper per invocation whose cart already holds one item.
    WithCart,
    /// A new shopper per invocation with an order placed through the local API.
    WithOrder,
}

struct Case {
    name: &'static str,
    bin: &'static str,
    event: &'static str,
    caller: Caller,
}

const CASES: &[Case] = &[
    Case {
        name: "hello-world",
        bin: "bench-hello",
        event: "products-list.json",
        caller: Caller::Nobody,
    },
    Case {
        name: "products",
        bin: "products",
        event: "products-list.json",
        caller: Caller::Nobody,
    },
    Case {
        name: "cart",
        bin: "cart",
        event: "cart-add.json",
        caller: Caller::NewShopper,
    },
    Case {
        name: "coupons",
        bin: "coupons",
        event: "coupons-apply.json",
        caller: Caller::WithCart,
    },
    Case {
        name: "orders",
        bin: "orders",
        event: "orders-create.json",
        caller: Caller::WithCart,
    },
    Case {
        name: "payments-initiate",
        bin: "payments-initiate",
        event: "payments-initiate.json",
        caller: Caller::WithOrder,
    },
    Case {
        name: "payments-webhook",
        bin: "payments-webhook",
        event: "payments-webhook.json",
        caller: Caller::Nobody,
    },
    Case {
        name: "admin-ship",
        bin: "admin-ship",
        event: "admin-direct-upsert-product.json",
        caller: Caller::Nobody,
    },
    Case {
        name: "jobs",
        bin: "jobs",
        event: "jobs-schedule.json",
        caller: Caller::Nobody,
    },
];

/// The placeholders `scripts/gen-events.py` writes into the sample events.
const SAMPLE_PRODUCT: &str = "6745f0c2a1b2c3d4e5f60001";
const SAMPLE_ORDER: &str = "6745f0c2a1b2c3d4e5f60718";
/// sha256("username:password") of credentials other than the local stack's.
const SAMPLE_WEBHOOK_AUTH: &str =
    "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e";

/// Where the functions' outbound traffic goes, each through a timing proxy.
struct Wiring {
    mongodb: String,
    /// (variable, proxied URL) for the HTTP services.
    http: Vec<(String, String)>,
    db: Meter,
    io: Meter,
    /// DB and HTTP together: what an invocation spent waiting on anything outside itself.
    any: Meter,
}

impl Wiring {
    async fn start() -> anyhow::Result<Wiring> {
        let (db, io, any) = (Meter::default(), Meter::default(), Meter::default());
        let upstream = upstream(&std::env::var("MONGODB_URI")?)?;
        let mongodb = proxy::mongodb(upstream, vec![db.clone(), any.clone()]).await?;
        let mut http = Vec::new();
        for var in [
            "AWS_ENDPOINT_URL_SES",
            "PHONEPE_PG_URL",
            "PHONEPE_OAUTH_URL",
        ] {
            let Ok(url) = std::env::var(var) else {
                continue;
            };
            let Some(rest) = url.strip_prefix("http://") else {
                continue;
            };
            let hostport = rest.split('/').next().unwrap_or_default();
            let path = &rest[hostport.len()..];
            let addr = proxy::http(hostport.to_owned(), vec![io.clone(), any.clone()]).await?;
            http.push((var.to_owned(), format!("http://{addr}{path}")));
        }
        Ok(Wiring {
            mongodb,
            http,
            db,
            io,
            any,
        })
    }
}

struct Measured {
    init: Vec<Duration>,
    /// Per cold start: time spent waiting on MongoDB during init, and commands sent.
    init_db: Vec<Duration>,
    init_commands: Vec<u64>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
    /// Per warm invocation: time waiting on MongoDB, commands it answered, time waiting on
    /// HTTP services, and time waiting on anything at all.
    db: Vec<Duration>,
    commands: Vec<u64>,
    io: Vec<Duration>,
    requests: Vec<u64>,
    any: Vec<Duration>,
    answers: Vec<String>,
    peak_rss_kb: u64,
}

pub async fn run(opts: &Options) -> anyhow::Result<String> {
    let world = World::open().await?;
    let wiring = Wiring::start().await?;
    let ping = ping_round_trip(&world.db, &world).await?;
    // What the proxy itself adds to each command (two extra localhost hops): the same
    // round trip through it, minus the direct one. Subtracted per command below, so the
    // proxy's own cost is not charged to our code.
    let via = mongodb::Client::with_uri_str(format!(
        "mongodb://{}/?directConnection=true",
        wiring.mongodb
    ))
    .await?
    .database(world.db.name());
    let proxied = ping_round_trip(&via, &world).await?;
    let hop = Duration::from_secs_f64(((pct(&proxied, 50.0) - pct(&ping, 50.0)) / 1000.0).max(0.0));
    let logs = std::env::var("BENCH_LOGS").unwrap_or_else(|_| "/tmp/pitalya-bench".into());
    std::fs::create_dir_all(&logs)?;

    let mut rows = Vec::new();
    for case in CASES {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| o == case.name) {
            continue;
        }
        eprintln!(
            "bench: {} ({} cold starts, {} warm invocations)",
            case.name, opts.cold, opts.warm
        );
        world.reset().await?;
        let events = events(case, opts, &world)
            .await
            .with_context(|| format!("events for {}", case.name))?;
        let m = measure(case, opts, &wiring, events, &logs)
            .await
            .with_context(|| format!("{} (log: {logs}/{}.log)", case.name, case.name))?;
        rows.push((case, m));
    }
    Ok(report(opts, &rows, &ping, &proxied, hop))
}

/// host:port of a single-host mongodb:// URI.
fn upstream(uri: &str) -> anyhow::Result<String> {
    let rest = uri
        .strip_prefix("mongodb://")
        .context("the bench needs a mongodb:// URI")?;
    let hosts = rest.split(['/', '?']).next().unwrap_or_default();
    let host = hosts.rsplit('@').next().unwrap_or_default();
    anyhow::ensure!(!host.contains(','), "the bench proxies a single host");
    Ok(host.to_owned())
}

/// The plainest round trip, `find_one` by `_id`, through `db` (a p50 of 500 after warming up).
async fn ping_round_trip(db: &mongodb::Database, world: &World) -> anyhow::Result<Vec<Duration>> {
    let products = db.collection::<mongodb::bson::Document>("products");
    let id = world.products[0].get_object_id("_id")?;
    let mut out = Vec::new();
    for i in 0..550 {
        let t = Instant::now();
        products.find_one(mongodb::bson::doc! { "_id": id }).await?;
        if i >= 50 {
            out.push(t.elapsed());
        }
    }
    Ok(out)
}

/// One event per invocation, made before anything is timed.
async fn events(case: &Case, opts: &Options, world: &World) -> anyhow::Result<Vec<Bytes>> {
    let template = std::fs::read_to_string(opts.events.join(case.event))?;
    let n = opts.cold + opts.warm;
    let product = world.product("kuber-brass-urli")?;
    let pid = product.get_object_id("_id")?.to_hex();
    let admin = world.token("user_bench_owner", true)?;
    let webhook_auth = hex::encode(sha2::Sha256::digest(format!(
        "{}:{}",
        std::env::var("PHONEPE_WEBHOOK_USERNAME").unwrap_or_default(),
        std::env::var("PHONEPE_WEBHOOK_PASSWORD").unwrap_or_default()
    )));
    let stamp = std::process::id();
    let users: Vec<String> = (0..n)
        .map(|i| format!("user_bench_{}_{stamp}_{i}", case.name))
        .collect();
    match case.caller {
        Caller::WithCart | Caller::WithOrder => world.fill_carts(&users, &[product]).await?,
        Caller::Nobody | Caller::NewShopper => {}
    }
    let tokens: Vec<String> = users
        .iter()
        .map(|u| world.token(u, false))
        .collect::<anyhow::Result<_>>()?;
    let orders = if case.caller == Caller::WithOrder {
        place_orders(&tokens).await?
    } else {
        vec![SAMPLE_ORDER.to_owned(); n]
    };
    Ok((0..n)
        .map(|i| {
            let text = template
                .replace("Bearer DEV_TOKEN", &format!("Bearer {}", tokens[i]))
                .replace("Bearer DEV_ADMIN_TOKEN", &format!("Bearer {admin}"))
                .replace(SAMPLE_PRODUCT, &pid)
                .replace(SAMPLE_ORDER, &orders[i])
                .replace(SAMPLE_WEBHOOK_AUTH, &webhook_auth);
            Bytes::from(text)
        })
        .collect())
}

/// Checks out each shopper's cart through the local API (`API_URL`) and returns the order ids.
async fn place_orders(tokens: &[String]) -> anyhow::Result<Vec<String>> {
    let api = std::env::var("API_URL").context("API_URL must be set")?;
    let http = reqwest::Client::new();
    let body = serde_json::json!({ "shippingAddress": {
        "name": "Asha Iyer", "phone": "9876543210", "line1": "12 Temple Street",
        "city": "Chennai", "state": "Tamil Nadu", "pincode": "600004" } });
    futures::stream::iter(tokens)
        .map(|t| {
            let req = http
                .post(format!("{api}/orders/create"))
                .bearer_auth(t)
                .json(&body)
                .send();
            async move {
                let res = req.await?;
                let status = res.status();
                let v: serde_json::Value = res.json().await?;
                v["id"]
                    .as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("checkout answered {status}: {v}"))
            }
        })
        .buffered(8)
        .try_collect()
        .await
}

fn child_env(case: &Case, runtime_api: &str, wiring: &Wiring) -> Vec<(String, String)> {
    let mut env = vec![
        ("AWS_LAMBDA_RUNTIME_API".to_owned(), runtime_api.to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            format!("pitalya-{}", case.name),
        ),
        // template.yaml gives every function 256 MB.
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "256".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            "2026/01/01/[$LATEST]bench".into(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/pitalya-{}", case.name),
        ),
        (
            "AWS_EXECUTION_ENV".into(),
            "AWS_Lambda_provided.al2023".into(),
        ),
        (
            "MONGODB_URI".into(),
            format!("mongodb://{}/?directConnection=true", wiring.mongodb),
        ),
    ];
    let passed = [
        "MONGODB_DB",
        "CLERK_ISSUER",
        "CLERK_JWT_KEY",
        "CLERK_JWKS_URL",
        "CLERK_AUTHORIZED_PARTIES",
        "ADMIN_USER_IDS",
        "ORDER_PAYMENT_TIMEOUT_MINUTES",
        "SELLER_NAME",
        "SELLER_GSTIN",
        "SELLER_ADDRESS",
        "INVOICE_PREFIX",
        "CREDIT_NOTE_PREFIX",
        "SHIPPING_FEE",
        "FREE_SHIPPING_MIN",
        "SES_FROM",
        "SES_REPLY_TO",
        "AWS_ENDPOINT_URL_SES",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ];
    for (k, v) in std::env::vars() {
        let proxied = wiring.http.iter().any(|(var, _)| *var == k);
        if !proxied && (passed.contains(&k.as_str()) || k.starts_with("PHONEPE_")) {
            env.push((k, v));
        }
    }
    env.extend(wiring.http.iter().cloned());
    env
}

fn outcome(a: &Answer) -> String {
    if !a.ok {
        return "error".into();
    }
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_default();
    match (&v["statusCode"], &v["ok"]) {
        (serde_json::Value::Number(n), _) => n.to_string(),
        (_, serde_json::Value::Bool(ok)) => format!("ok={ok}"),
        _ => "done".into(),
    }
}

fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM")
}

async fn measure(
    case: &Case,
    opts: &Options,
    wiring: &Wiring,
    events: Vec<Bytes>,
    logs: &str,
) -> anyhow::Result<Measured> {
    let limit = Duration::from_secs(30);
    let bin = opts.bins.join(case.bin);
    let log = std::fs::File::create(format!("{logs}/{}.log", case.name))?;
    let mut events = events.into_iter();
    let mut m = Measured {
        init: vec![],
        init_db: vec![],
        init_commands: vec![],
        first: vec![],
        warm: vec![],
        db: vec![],
        commands: vec![],
        io: vec![],
        requests: vec![],
        any: vec![],
        answers: vec![],
        peak_rss_kb: 0,
    };
    for run in 0..opts.cold {
        let mut stub = Stub::start(case.name).await?;
        let env = child_env(case, &stub.addr, wiring);
        let mut cmd = tokio::process::Command::new(&bin);
        cmd.env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .kill_on_drop(true);
        let (db0, cmd0) = wiring.db.read();
        let exec = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("run {}", bin.display()))?;
        let polled = stub
            .poll(limit)
            .await
            .context("waiting for the first poll")?;
        let (db1, cmd1) = wiring.db.read();
        m.init.push(polled - exec);
        m.init_db.push(db1 - db0);
        m.init_commands.push(cmd1 - cmd0);
        let (started, a) = stub.invoke(events.next().unwrap(), limit).await?;
        m.first.push(a.at - started);
        m.answers.push(outcome(&a));
        if run + 1 == opts.cold {
            for _ in 0..opts.warm {
                stub.poll(limit).await?;
                let (db0, cmd0) = wiring.db.read();
                let ((io0, req0), any0) = (wiring.io.read(), wiring.any.read().0);
                let (started, a) = stub.invoke(events.next().unwrap(), limit).await?;
                let (db1, cmd1) = wiring.db.read();
                let ((io1, req1), any1) = (wiring.io.read(), wiring.any.read().0);
                m.warm.push(a.at - started);
                m.db.push(db1 - db0);
                m.commands.push(cmd1 - cmd0);
                m.io.push(io1 - io0);
                m.requests.push(req1 - req0);
                m.any.push(any1 - any0);
                m.answers.push(outcome(&a));
            }
            // Idle again, as a frozen sandbox would be, before reading the high-water mark.
            stub.poll(limit).await?;
            m.peak_rss_kb = peak_rss_kb(child.id().context("child exited")?)?;
        }
        child.kill().await?;
    }
    Ok(m)
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn report(
    opts: &Options,
    rows: &[(&Case, Measured)],
    ping: &[Duration],
    proxied: &[Duration],
    hop: Duration,
) -> String {
    let hello_init = rows
        .iter()
        .find(|(c, _)| c.name == "hello-world")
        .map(|(_, m)| pct(&m.init, 50.0));
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} cold starts per function (init = exec → first `GET /runtime/invocation/next`; first = the \
         cold start's first invocation, event handed out → response POSTed), then {} warm invocations \
         in the last sandbox. \"DB\" is the time MongoDB took to answer (at least one command \
         outstanding), measured by a wire-protocol proxy in front of it; \"HTTP\" likewise for the SES \
         emulator and the PhonePe simulator; overhead = p50 of each warm invocation's latency minus \
         its time waiting on either, i.e. our code + driver + SDKs + runtime. \
         The proxy's own cost is taken out: a plain `find_one` by `_id` takes p50 {:.3} ms \
         (p99 {:.3}) direct and p50 {:.3} ms through the proxy, so {:.3} ms per command (and per \
         HTTP request) is subtracted too.\n",
        opts.cold,
        opts.warm,
        pct(ping, 50.0),
        pct(ping, 99.0),
        pct(proxied, 50.0),
        hop.as_secs_f64() * 1000.0
    );
    s.push_str(
        "| function | event | init ms median (min–max) | of which DB ms (commands) | init ÷ hello \
         | first invocation ms median (min–max) | warm p50 ms | warm p99 ms | DB p50 ms (commands) \
         | HTTP p50 ms | overhead p50 ms | peak RSS MB | answers |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut verdicts = Vec::new();
    for (case, m) in rows {
        let overhead: Vec<Duration> = (0..m.warm.len())
            .map(|i| {
                let hops = hop * (m.commands[i] + m.requests[i]) as u32;
                m.warm[i].saturating_sub(m.any[i]).saturating_sub(hops)
            })
            .collect();
        let init = pct(&m.init, 50.0);
        let ratio = hello_init.map(|h| init / h).unwrap_or(f64::NAN);
        let rss = m.peak_rss_kb as f64 / 1024.0;
        let oh = pct(&overhead, 50.0);
        let init_own: Vec<Duration> = m
            .init
            .iter()
            .zip(&m.init_db)
            .map(|(i, d)| i.saturating_sub(*d))
            .collect();
        let own_ratio = hello_init
            .map(|h| pct(&init_own, 50.0) / h)
            .unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| {} | `{}` | {:.2} ({:.2}–{:.2}) | {:.2} ({}) | {:.2} | {:.2} ({:.2}–{:.2}) | {:.3} | {:.3} \
             | {:.3} ({}) | {:.3} | {:.3} | {:.1} | {} |",
            case.name,
            case.event,
            init,
            min(&m.init),
            max(&m.init),
            pct(&m.init_db, 50.0),
            median(&m.init_commands),
            ratio,
            pct(&m.first, 50.0),
            min(&m.first),
            max(&m.first),
            pct(&m.warm, 50.0),
            pct(&m.warm, 99.0),
            pct(&m.db, 50.0),
            median(&m.commands),
            pct(&m.io, 50.0),
            oh,
            rss,
            tally(m.answers.iter()),
        );
        if case.name != "hello-world" {
            verdicts.push(format!(
                "| {} | {} ({:.2}×) | {:.2}× | {} ({:.3} ms) | {} ({:.1} MB) |",
                case.name,
                pass(ratio <= 1.5),
                ratio,
                own_ratio,
                pass(oh < 1.0),
                oh,
                pass(rss < 40.0),
                rss
            ));
        }
    }
    s.push_str(
        "\n| function | init ≤ 1.5× hello-world | init without its DB waits ÷ hello-world \
         | warm overhead p50 < 1 ms | peak RSS < 40 MB |\n|---|---|---|---|---|\n",
    );
    for v in verdicts {
        s.push_str(&v);
        s.push('\n');
    }
    s
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "**FAIL**"
    }
}
