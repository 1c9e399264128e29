//! Cold starts and warm invocations of every function binary under the runtime API stub.

use crate::proxy::{self, Command, Log, Meter};
use crate::stats::{max, min, pct, tally};
use crate::stub::{Answer, Stub};
use crate::world::World;
use anyhow::Context as _;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha2::Digest as _;
use std::collections::HashMap;
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
    /// Added to every MongoDB round trip by the proxy (`BENCH_DB_RTT_MS`).
    pub db_rtt: Duration,
    /// Added to every SES and PhonePe request by their proxies (`BENCH_HTTP_RTT_MS`).
    pub http_rtt: Duration,
}

/// Cold starts and warm invocations of the cases that only feed "Round trips per route".
const ROUTE_COLD: usize = 1;
const ROUTE_WARM: usize = 3;

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

/// What is changed in the sample event before it is sent.
#[derive(Clone, Copy, PartialEq)]
enum Tweak {
    AsIs,
    /// Checkout without the sample's `couponCode` (the `Idempotency-Key` stays).
    NoCoupon,
    /// Checkout without a coupon or an `Idempotency-Key`: the plainest checkout.
    Plain,
}

struct Case {
    name: &'static str,
    bin: &'static str,
    event: &'static str,
    caller: Caller,
    tweak: Tweak,
    /// Timed (a row of the table) or only run for its command list.
    timed: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "hello-world",
        bin: "bench-hello",
        event: "products-list.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "products",
        bin: "products",
        event: "products-list.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "cart",
        bin: "cart",
        event: "cart-add.json",
        caller: Caller::NewShopper,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "products, one product",
        bin: "products",
        event: "products-get.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: false,
    },
    Case {
        name: "cart, view",
        bin: "cart",
        event: "cart-get.json",
        caller: Caller::WithCart,
        tweak: Tweak::AsIs,
        timed: false,
    },
    Case {
        name: "cart, update",
        bin: "cart",
        event: "cart-update.json",
        caller: Caller::WithCart,
        tweak: Tweak::AsIs,
        timed: false,
    },
    Case {
        name: "cart, remove",
        bin: "cart",
        event: "cart-remove.json",
        caller: Caller::WithCart,
        tweak: Tweak::AsIs,
        timed: false,
    },
    Case {
        name: "coupons",
        bin: "coupons",
        event: "coupons-apply.json",
        caller: Caller::WithCart,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "orders",
        bin: "orders",
        event: "orders-create.json",
        caller: Caller::WithCart,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "orders, no coupon",
        bin: "orders",
        event: "orders-create.json",
        caller: Caller::WithCart,
        tweak: Tweak::NoCoupon,
        timed: false,
    },
    Case {
        name: "orders, no coupon or idempotency key",
        bin: "orders",
        event: "orders-create.json",
        caller: Caller::WithCart,
        tweak: Tweak::Plain,
        timed: false,
    },
    Case {
        name: "payments-initiate",
        bin: "payments-initiate",
        event: "payments-initiate.json",
        caller: Caller::WithOrder,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "payments-webhook",
        bin: "payments-webhook",
        event: "payments-webhook.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: true,
    },
    // The owner's desk queue: an upsert of the sample product would be refused after the
    // first (an existing product's stock only moves by adjustStock), so it is not timed.
    Case {
        name: "admin-ship",
        bin: "admin-ship",
        event: "admin-direct-list-orders.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: true,
    },
    Case {
        name: "admin-ship, adjust stock",
        bin: "admin-ship",
        event: "admin-direct-adjust-stock.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: false,
    },
    Case {
        name: "jobs",
        bin: "jobs",
        event: "jobs-schedule.json",
        caller: Caller::Nobody,
        tweak: Tweak::AsIs,
        timed: true,
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
    /// The same proxy without the added round trip, for measuring the proxy's own cost.
    mongodb_direct: String,
    log: Log,
    /// (variable, proxied URL) for the HTTP services.
    http: Vec<(String, String)>,
    db: Meter,
    io: Meter,
    /// DB and HTTP together: what an invocation spent waiting on anything outside itself.
    any: Meter,
}

impl Wiring {
    async fn start(rtt: Duration, http_rtt: Duration) -> anyhow::Result<Wiring> {
        let (db, io, any) = (Meter::default(), Meter::default(), Meter::default());
        let upstream = upstream(&std::env::var("MONGODB_URI")?)?;
        let log = Log::default();
        let mongodb = proxy::mongodb(
            upstream.clone(),
            vec![db.clone(), any.clone()],
            rtt,
            log.clone(),
        )
        .await?;
        let mongodb_direct =
            proxy::mongodb(upstream, vec![], Duration::ZERO, Log::default()).await?;
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
            let addr =
                proxy::http(hostport.to_owned(), vec![io.clone(), any.clone()], http_rtt).await?;
            http.push((var.to_owned(), format!("http://{addr}{path}")));
        }
        Ok(Wiring {
            mongodb,
            mongodb_direct,
            log,
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
    /// Per cold start: MongoDB commands and HTTP requests of its first invocation (a cold
    /// function may send more than a warm one: a PhonePe token, say).
    first_commands: Vec<u64>,
    first_requests: Vec<u64>,
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
    /// The commands of the last cold start's init, and of each warm invocation.
    init_log: Vec<Command>,
    warm_logs: Vec<Vec<Command>>,
}

pub async fn run(opts: &Options) -> anyhow::Result<(String, String)> {
    let world = World::open().await?;
    let wiring = Wiring::start(opts.db_rtt, opts.http_rtt).await?;
    let ping = ping_round_trip(&world.db, &world).await?;
    // What the proxy itself adds to each command (two extra localhost hops): the same
    // round trip through it, minus the direct one. Subtracted per command below, so the
    // proxy's own cost is not charged to our code. Measured without the added round trip,
    // which is waiting on the database by design and stays in the DB columns.
    let via = mongodb::Client::with_uri_str(format!(
        "mongodb://{}/?directConnection=true",
        wiring.mongodb_direct
    ))
    .await?
    .database(world.db.name());
    let proxied = ping_round_trip(&via, &world).await?;
    // And through the proxy the functions use: the added round trip, as a client sees it.
    let delayed = if opts.db_rtt.is_zero() {
        None
    } else {
        let via = mongodb::Client::with_uri_str(format!(
            "mongodb://{}/?directConnection=true",
            wiring.mongodb
        ))
        .await?
        .database(world.db.name());
        Some(ping_round_trip(&via, &world).await?)
    };
    let hop = Duration::from_secs_f64(((pct(&proxied, 50.0) - pct(&ping, 50.0)) / 1000.0).max(0.0));
    let setup = connection_setup(&wiring.mongodb, &world).await?;
    let logs = std::env::var("BENCH_LOGS").unwrap_or_else(|_| "/tmp/pitalya-bench".into());
    std::fs::create_dir_all(&logs)?;

    let mut rows = Vec::new();
    for case in CASES {
        if !opts.only.is_empty() && !opts.only.iter().any(|o| o == case.name || o == case.bin) {
            continue;
        }
        let (cold, warm) = if case.timed {
            (opts.cold, opts.warm)
        } else {
            (ROUTE_COLD, ROUTE_WARM)
        };
        eprintln!(
            "bench: {} ({cold} cold starts, {warm} warm invocations)",
            case.name
        );
        world.reset().await?;
        let events = events(case, opts, cold + warm, &world)
            .await
            .with_context(|| format!("events for {}", case.name))?;
        let m = measure(case, opts, cold, warm, &wiring, events, &logs)
            .await
            .with_context(|| format!("{} (log: {logs}/{}.log)", case.name, case.name))?;
        rows.push((case, m));
    }
    let timed: Vec<_> = rows
        .iter()
        .filter(|(c, _)| c.timed)
        .map(|(c, m)| (*c, m))
        .collect();
    Ok((
        report(
            opts,
            &timed,
            &ping,
            &proxied,
            delayed.as_deref(),
            hop,
            setup,
        ),
        routes(opts, &rows),
    ))
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

/// What one new connection costs before its first command is answered (TCP, the driver's
/// handshake, its first command) minus that command's own round trip, through the proxy
/// the functions use: the median of a few fresh clients. A cold start pays this once.
async fn connection_setup(proxy: &str, world: &World) -> anyhow::Result<Duration> {
    let uri = format!("mongodb://{proxy}/?directConnection=true");
    let id = world.products[0].get_object_id("_id")?;
    let filter = mongodb::bson::doc! { "_id": id };
    let mut fresh = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let client = mongodb::Client::with_uri_str(&uri).await?;
        let products = client
            .database(world.db.name())
            .collection::<mongodb::bson::Document>("products");
        products.find_one(filter.clone()).await?;
        fresh.push(t.elapsed());
        let t = Instant::now();
        products.find_one(filter.clone()).await?;
        warm.push(t.elapsed());
    }
    let ms = (pct(&fresh, 50.0) - pct(&warm, 50.0)).max(0.0);
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// One event per invocation, made before anything is timed.
async fn events(
    case: &Case,
    opts: &Options,
    n: usize,
    world: &World,
) -> anyhow::Result<Vec<Bytes>> {
    let template = tweak(
        &std::fs::read_to_string(opts.events.join(case.event))?,
        case.tweak,
    )?;
    let product = world.product("kuber-brass-urli")?;
    let pid = product.get_object_id("_id")?.to_hex();
    let admin = world.token("user_bench_owner", true)?;
    let webhook_auth = hex::encode(sha2::Sha256::digest(format!(
        "{}:{}",
        std::env::var("PHONEPE_WEBHOOK_USERNAME").unwrap_or_default(),
        std::env::var("PHONEPE_WEBHOOK_PASSWORD").unwrap_or_default()
    )));
    let stamp = std::process::id();
    // The id also makes the shopper's e-mail address, so nothing but [a-z0-9_].
    let slug: String = case
        .name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let users: Vec<String> = (0..n)
        .map(|i| format!("user_bench_{slug}_{stamp}_{i}"))
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

fn tweak(event: &str, tweak: Tweak) -> anyhow::Result<String> {
    if tweak == Tweak::AsIs {
        return Ok(event.to_owned());
    }
    let mut v: serde_json::Value = serde_json::from_str(event)?;
    let mut body: serde_json::Value =
        serde_json::from_str(v["body"].as_str().context("the event has no body")?)?;
    body.as_object_mut()
        .context("the body is not an object")?
        .remove("couponCode");
    v["body"] = body.to_string().into();
    if tweak == Tweak::Plain {
        if let Some(h) = v["headers"].as_object_mut() {
            h.remove("idempotency-key");
        }
    }
    Ok(serde_json::to_string_pretty(&v)?)
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
    cold: usize,
    warm: usize,
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
        first_commands: vec![],
        first_requests: vec![],
        warm: vec![],
        db: vec![],
        commands: vec![],
        io: vec![],
        requests: vec![],
        any: vec![],
        answers: vec![],
        peak_rss_kb: 0,
        init_log: vec![],
        warm_logs: vec![],
    };
    for run in 0..cold {
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
        let log0 = wiring.log.len();
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
        m.init_log = wiring.log.since(log0);
        let (_, req1) = wiring.io.read();
        let (started, a) = stub.invoke(events.next().unwrap(), limit).await?;
        m.first.push(a.at - started);
        let ((_, cmd2), (_, req2)) = (wiring.db.read(), wiring.io.read());
        m.first_commands.push(cmd2 - cmd1);
        m.first_requests.push(req2 - req1);
        m.answers.push(outcome(&a));
        if run + 1 == cold {
            for _ in 0..warm {
                stub.poll(limit).await?;
                let (db0, cmd0) = wiring.db.read();
                let log0 = wiring.log.len();
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
                m.warm_logs.push(wiring.log.since(log0));
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
    rows: &[(&Case, &Measured)],
    ping: &[Duration],
    proxied: &[Duration],
    delayed: Option<&[Duration]>,
    hop: Duration,
    setup: Duration,
) -> String {
    let cold_first = |m: &Measured| -> Vec<Duration> {
        m.init.iter().zip(&m.first).map(|(i, f)| *i + *f).collect()
    };
    let hello_cold = rows
        .iter()
        .find(|(c, _)| c.name == "hello-world")
        .map(|(_, m)| pct(&cold_first(m), 50.0))
        .unwrap_or(f64::NAN);
    let hello_init = rows
        .iter()
        .find(|(c, _)| c.name == "hello-world")
        .map(|(_, m)| pct(&m.init, 50.0));
    let mut s = String::new();
    let _ = write!(
        s,
        "{} cold starts per function (init = exec → first `GET /runtime/invocation/next`; first = the \
         cold start's first invocation, event handed out → response POSTed), then {} warm invocations \
         in the last sandbox. \"DB\" is the time MongoDB took to answer (at least one command \
         outstanding), measured by a wire-protocol proxy in front of it; \"HTTP\" likewise for the SES \
         emulator and the PhonePe simulator; overhead = p50 of each warm invocation's latency minus \
         its time waiting on either, i.e. our code + driver + SDKs + runtime. \
         The proxy's own cost is taken out: a plain `find_one` by `_id` takes p50 {:.3} ms \
         (p99 {:.3}) direct and p50 {:.3} ms through the proxy, so {:.3} ms per command (and per \
         HTTP request) is subtracted too.",
        opts.cold,
        opts.warm,
        pct(ping, 50.0),
        pct(ping, 99.0),
        pct(proxied, 50.0),
        hop.as_secs_f64() * 1000.0
    );
    let rtt = ms(opts.db_rtt);
    if let Some(delayed) = delayed {
        let _ = write!(
            s,
            " The proxy holds every MongoDB reply back {rtt} ms (`BENCH_DB_RTT_MS`, a network round \
             trip to the database as on Atlas), at init and in every invocation: the DB columns include \
             it for every command, overhead does not. The same `find_one` through it takes p50 {:.3} ms \
             (p99 {:.3}), {:.3} ms more than without the hold. Every SES and PhonePe answer is held \
             back {} ms (`BENCH_HTTP_RTT_MS`): the HTTP columns include it, overhead does not.",
            pct(delayed, 50.0),
            pct(delayed, 99.0),
            pct(delayed, 50.0) - pct(proxied, 50.0),
            ms(opts.http_rtt),
        );
    }
    s.push_str("\n\n");
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
            // The route's own round trips: init's commands other than the handshake (which
            // the connection set-up covers), then what its first invocation sends.
            let init_rt = m
                .init_log
                .iter()
                .filter(|c| !matches!(c.name.as_str(), "hello" | "isMaster" | "ismaster"))
                .count() as f64;
            let db_rt = init_rt + median(&m.first_commands) as f64;
            let http_rt = median(&m.first_requests) as f64;
            let cold = pct(&cold_first(m), 50.0);
            let budget = hello_cold
                + db_rt * ms(opts.db_rtt)
                + http_rt * ms(opts.http_rtt)
                + ms(setup)
                + 5.0;
            verdicts.push(format!(
                "| {} | {} ({:.2} ms ≤ {:.2}: {:.0} DB × {} + {:.0} HTTP × {} + set-up {:.2} + 5) | {:.2}× | {} ({:.3} ms) | {} ({:.1} MB) |",
                case.name,
                pass(cold <= budget),
                cold,
                budget,
                db_rt,
                ms(opts.db_rtt),
                http_rt,
                ms(opts.http_rtt),
                ms(setup),
                own_ratio,
                pass(oh < 1.0),
                oh,
                pass(rss < 40.0),
                rss
            ));
        }
    }
    let _ = write!(
        s,
        "\nTargets. Cold first request = init + first invocation, median; its budget is hello-world's \
         ({hello_cold:.2} ms) + the route's own round trips × their RTT + one MongoDB connection \
         set-up (measured: a fresh client's first `find_one` through the same proxy, minus a warm \
         one: {:.2} ms) + 5 ms. Overhead = warm latency − the time waiting on MongoDB, SES or \
         PhonePe (RTTs and the emulators' own time).\n",
        ms(setup)
    );
    s.push_str(
        "\n| function | cold first request ≤ budget | init without its DB waits ÷ hello-world \
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

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Why a command is there, for the tables of "Round trips per route": (function or "*",
/// command, collection or "*", in a transaction: Some(yes/no) or None for either, why). The
/// first match wins, so a function's own entries go before the defaults; a command nothing
/// matches says "—". Written from reading the code at the time: it explains, it is not checked.
const WHY: &[(&str, &str, &str, Option<bool>, &str)] = &[
    // Every function, init.
    ("*", "isMaster", "*", None, "connection handshake"),
    ("*", "hello", "*", None, "connection handshake"),
    ("*", "find", "meta", None, "the schema version: indexes are built only when it is behind"),
    ("*", "createIndexes", "*", None, "`Db::ensure_indexes`, on a database older than the code"),
    ("*", "update", "meta", None, "the schema version is recorded"),
    // GET /products.
    ("products", "find", "products", None, "the page of products, one query"),
    // GET /products/{slug}, GET /cart, POST /cart/update, POST /cart/remove.
    ("products-get.json", "find", "products", None, "the product the slug names, one query"),
    ("cart-get.json", "find", "carts", None, "the shopper's cart, one query"),
    ("cart-update.json", "find", "products", None, "the product: active, and the stock the new quantity must fit"),
    ("cart-update.json", "findAndModify", "carts", None, "the line set to the new quantity, at today's price; the cart after"),
    ("cart-remove.json", "findAndModify", "carts", None, "the line pulled; the cart after"),
    ("admin-direct-list-orders.json", "find", "orders", None, "the fulfilment queue: paid and packed orders, oldest first, one page"),
    ("admin-direct-adjust-stock.json", "find", "products", None, "the product the slug names"),
    ("admin-direct-adjust-stock.json", "findAndModify", "products", None, "the stock moved by the delta, guarded against going below zero"),
    // POST /cart/add.
    ("cart", "aggregate", "carts", None, "the shopper's cart and the product (active, price, stock), in one read (`$unionWith`)"),
    ("cart", "insert", "carts", None, "a first add: the cart is created holding the line"),
    ("cart", "findAndModify", "carts", None, "add to the product's line, or push a new one: one guarded write"),
    ("cart", "find", "carts", None, "the guarded write missed (another request changed the cart): the cart as it is now"),
    // POST /checkout/apply-coupon.
    ("coupons", "aggregate", "carts", None, "the shopper's cart and the coupon, in one read (`$unionWith`)"),
    ("coupons", "find", "products", None, "the cart's products at today's prices"),
    ("coupons", "find", "coupon_uses", None, "the shopper's uses of a coupon with a perCustomerLimit"),
    // POST /orders/create.
    ("orders", "find", "idempotency_keys", Some(false), "a replay? an earlier answer to the same Idempotency-Key"),
    ("orders", "find", "idempotency_keys", Some(true), "the replay check again, inside the transaction (careful path)"),
    ("orders", "findAndModify", "counters", None, "the order number, outside the transaction so checkouts never conflict on it"),
    ("orders", "findAndModify", "carts", None, "the shopper's cart, read and emptied in one write"),
    ("orders", "find", "carts", None, "the shopper's cart (careful path)"),
    ("orders", "find", "products", None, "the cart's products: price and stock (careful path)"),
    ("orders", "findAndModify", "coupons", None, "one use of the coupon taken, guarded by its limit; the coupon as it was, to price the discount"),
    ("orders", "findAndModify", "coupon_uses", None, "the shopper's use of the coupon counted, judged by the count before it (perCustomerLimit)"),
    ("orders", "find", "coupons", None, "the coupon, checked as checkout charges it (careful path)"),
    ("orders", "update", "coupons", None, "the coupon's use is counted (careful path)"),
    ("orders", "findAndModify", "products", None, "stock is taken, guarded by active, taxable, in stock and the price the shopper saw (one per cart line)"),
    ("orders", "insert", "stock_movements", None, "the stock ledger, every line's entry in one insert"),
    ("orders", "update", "carts", None, "the cart is emptied (careful path)"),
    ("orders", "insert", "idempotency_keys", None, "the Idempotency-Key is claimed, first in the transaction"),
    ("orders", "commitTransaction", "*", None, "the checkout transaction commits"),
    ("orders", "findAndModify", "mail_outbox", Some(false), "the new order's mail leased and stamped dispatched in one write (rendered from the order in hand), then SES"),
    ("orders", "update", "mail_outbox", Some(false), "SES's answer recorded on the mail"),
    ("orders", "find", "orders", Some(false), "mail sent right after the commit: the order, to render it"),
    // POST /payments/phonepe/initiate.
    ("payments-initiate", "find", "orders", Some(false), "the shopper's order, payable?"),
    ("payments-initiate", "insert", "payment_attempts", None, "the payment attempt, before PhonePe is asked"),
    ("payments-initiate", "update", "payment_attempts", None, "PhonePe's answer recorded on the attempt"),
    ("payments-initiate", "find", "orders", Some(true), "the order, re-read in the transaction"),
    ("payments-initiate", "find", "payment_attempts", None, "the order's other attempts"),
    ("payments-initiate", "update", "orders", None, "the order points at its current attempt"),
    // POST /payments/phonepe/webhook.
    ("payments-webhook", "find", "payment_attempts", None, "the attempt the callback names (already settled here)"),
    // jobs.
    ("jobs", "findAndModify", "mail_outbox", None, "mail drain: dead leases marked unconfirmed, then a due mail leased (per worker)"),
    ("jobs", "aggregate", "*", None, "a backlog figure for the metrics"),
    ("jobs", "find", "payment_attempts", None, "payments to reconcile with PhonePe"),
    ("jobs", "find", "orders", None, "unpaid orders past their window / refunds to drive"),
    // Defaults.
    ("*", "find", "rate_limits", None, "per-user rate limit"),
    ("*", "findAndModify", "rate_limits", None, "per-user rate limit: this minute's counter + 1"),
    ("*", "insert", "rate_limits", None, "per-user rate limit: the first request of the minute creates the counter (a new shopper every invocation here)"),
    ("*", "find", "coupons", None, "the coupon the code names"),
    ("*", "find", "carts", None, "the shopper's cart"),
    ("*", "find", "products", None, "the products the request names"),
    ("*", "insert", "orders", None, "the order"),
    ("*", "find", "orders", None, "the order the request names"),
    ("*", "update", "orders", None, "the order changes"),
    ("*", "insert", "stock_movements", None, "the stock ledger entry"),
    ("*", "insert", "mail_outbox", Some(true), "the mail outbox, in the same transaction"),
    ("*", "update", "mail_outbox", Some(true), "the mail outbox, in the same transaction"),
    ("*", "findAndModify", "mail_outbox", Some(false), "mail sent right after the commit: dead leases marked unconfirmed, then the next mail leased (the second pair finds none)"),
    ("*", "find", "mail_outbox", Some(false), "an earlier unsent mail of the order? (mails leave in order)"),
    ("*", "update", "mail_outbox", Some(false), "`dispatchedAt` stamped before SES, then the mail recorded sent"),
    ("*", "findAndModify", "counters", None, "the next invoice / credit note number"),
    ("*", "commitTransaction", "*", None, "the transaction commits"),
    ("*", "abortTransaction", "*", None, "the transaction is rolled back"),
    ("*", "getMore", "*", None, "the next batch of a cursor"),
    ("*", "saslStart", "*", None, "authentication"),
    ("*", "saslContinue", "*", None, "authentication"),
    ("*", "endSessions", "*", None, "the driver ends its sessions"),
];

/// `scope` in the map is `*`, a function, or one of its sample events (for the routes a
/// function serves besides its timed one).
fn why(bin: &str, event: &str, c: &Command) -> &'static str {
    let collection = c.collection.as_deref().unwrap_or("");
    WHY.iter()
        .find(|(scope, name, coll, txn, _)| {
            (*scope == "*" || *scope == bin || *scope == event)
                && *name == c.name
                && (*coll == "*" || *coll == collection)
                && txn.is_none_or(|t| t == c.in_txn)
        })
        .map_or("—", |w| w.4)
}

/// The route a case's event stands for: its `routeKey`, else what kind of event it is.
fn route(opts: &Options, case: &Case) -> String {
    let v: serde_json::Value = std::fs::read_to_string(opts.events.join(case.event))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    let base = if let Some(r) = v["routeKey"].as_str() {
        r.to_owned()
    } else if let Some(d) = v["detail-type"].as_str() {
        format!("{d} ({})", case.bin)
    } else if let Some(a) = v["action"].as_str() {
        format!("direct invocation `{a}` ({})", case.bin)
    } else {
        case.bin.to_owned()
    };
    match case.tweak {
        Tweak::AsIs => base,
        Tweak::NoCoupon => format!("{base}, without the coupon"),
        Tweak::Plain => format!("{base}, without coupon or Idempotency-Key"),
    }
}

/// `a`, `b` ×3, `c`: consecutive repeats folded.
fn folded(log: &[Command]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in log {
        let name = c.to_string();
        match out.last_mut() {
            Some((last, n)) if *last == name => *n += 1,
            _ => out.push((name, 1)),
        }
    }
    out.iter()
        .map(|(c, n)| {
            if *n > 1 {
                format!("`{c}` ×{n}")
            } else {
                format!("`{c}`")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// "Round trips per route": each route's commands in order, with why each is there.
fn routes(opts: &Options, rows: &[(&Case, Measured)]) -> String {
    let rtt = ms(opts.db_rtt);
    let per = if rtt > 0.0 { rtt } else { 1.5 };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "The MongoDB commands each function sent during one warm invocation with its sample event, \
         in the order the proxy forwarded them (the sequence most warm invocations sent; the \
         routes other than each function's timed one are extra runs of {ROUTE_COLD} cold start and {ROUTE_WARM} warm \
         invocations, not timed), then what its init sent. Every command is a round trip: at \
         {per} ms each (`BENCH_DB_RTT_MS`{}), a warm invocation waits at least commands × {per} ms \
         on the network. \"txn\" marks commands inside the multi-document transaction; \"why\" \
         comes from a static map in `bench/harness/src/lambda.rs` (\"—\": not in it).\n",
        if rtt > 0.0 { ", this run" } else { "; e.g. Atlas in ap-south-1 from Lambda in the same region" }
    );
    for (case, m) in rows {
        if case.bin == "bench-hello" {
            continue;
        }
        let mut seen: HashMap<&[Command], usize> = HashMap::new();
        for l in &m.warm_logs {
            *seen.entry(l.as_slice()).or_default() += 1;
        }
        // The most common sequence; ties go to the one seen first.
        let mut best: Option<&Vec<Command>> = None;
        for l in &m.warm_logs {
            if best.is_none_or(|b| seen[l.as_slice()] > seen[b.as_slice()]) {
                best = Some(l);
            }
        }
        let Some(log) = best else {
            continue;
        };
        let _ = writeln!(
            s,
            "### {} — {} (`{}`, answered {})\n\n{}{} per warm invocation, ≥ {:.1} ms at {per} ms \
             per round trip ({} of {} warm invocations sent exactly these{}).\n",
            route(opts, case),
            case.bin,
            case.event,
            tally(m.answers.iter()),
            match case.caller {
                Caller::Nobody => "",
                Caller::NewShopper =>
                    "Sent by a new shopper each time (a first add: no cart yet). ",
                Caller::WithCart => "Sent by a new shopper each time, with one item in the cart. ",
                Caller::WithOrder => "Sent by a new shopper each time, with an order placed. ",
            },
            plural(log.len(), "command"),
            log.len() as f64 * per,
            seen[log.as_slice()],
            m.warm_logs.len(),
            if seen.len() > 1 {
                format!("; {} different sequences in all", seen.len())
            } else {
                String::new()
            },
        );
        s.push_str("| # | command | txn | why |\n|---|---|---|---|\n");
        for (i, c) in log.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {} | `{c}` | {} | {} |",
                i + 1,
                if c.in_txn { "txn" } else { "" },
                why(case.bin, case.event, c)
            );
        }
        let _ = writeln!(
            s,
            "\nInit (cold start): {}, {}.\n",
            plural(m.init_log.len(), "command"),
            if m.init_log.is_empty() {
                "none".to_owned()
            } else {
                folded(&m.init_log)
            }
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkout_tweaks_drop_the_coupon_and_then_the_key() {
        let sample = include_str!("../../../events/orders-create.json");
        let no_coupon: serde_json::Value =
            serde_json::from_str(&tweak(sample, Tweak::NoCoupon).unwrap()).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(no_coupon["body"].as_str().unwrap()).unwrap();
        assert!(body.get("couponCode").is_none());
        assert!(body["shippingAddress"].is_object());
        assert!(no_coupon["headers"]["idempotency-key"].is_string());
        let plain: serde_json::Value =
            serde_json::from_str(&tweak(sample, Tweak::Plain).unwrap()).unwrap();
        assert!(plain["headers"].get("idempotency-key").is_none());
        assert_eq!(tweak(sample, Tweak::AsIs).unwrap(), sample);
    }

    #[test]
    fn why_prefers_the_function_then_the_defaults() {
        let c = |name: &str, coll: Option<&str>, in_txn| Command {
            name: name.into(),
            collection: coll.map(Into::into),
            in_txn,
        };
        assert_eq!(
            why("orders", "x.json", &c("commitTransaction", None, true)),
            "the checkout transaction commits"
        );
        assert_eq!(
            why(
                "payments-initiate",
                "x.json",
                &c("commitTransaction", None, true)
            ),
            "the transaction commits"
        );
        assert_eq!(
            why("coupons", "x.json", &c("find", Some("rate_limits"), false)),
            "per-user rate limit"
        );
        assert_eq!(
            why("orders", "x.json", &c("update", Some("mail_outbox"), true)),
            "the mail outbox, in the same transaction"
        );
        assert_eq!(
            why("orders", "x.json", &c("distinct", Some("orders"), false)),
            "—"
        );
    }
}
