//! `pitalya-bench lambda | load`: the measuring half of `make bench` (scripts/bench.sh
//! builds, starts the stack and assembles bench/results.md around what this prints).
//!
//! * `lambda` runs each function binary under a local Lambda runtime API (`stub`), with its
//!   MongoDB traffic passing through a timing proxy (`proxy`), and reports init time, the
//!   first invocation, warm latency, how much of it the database took, and peak RSS;
//!   `--db-rtt-ms` adds a network round trip to every MongoDB command (`--http-rtt-ms` to
//!   every SES and PhonePe request), and `--routes`
//!   writes the commands each route sends, in order.
//! * `load` drives the local stack and the bare handler (`bench/bare`) with the same
//!   requests and compares throughput.

mod import;
mod lambda;
mod load;
mod proxy;
mod stats;
mod stub;
mod world;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A round-trip knob in milliseconds: the flag, else the environment variable, else the
/// default.
fn rtt(args: &[String], flag: &str, var: &str, default: &str) -> std::time::Duration {
    let v = arg(args, flag)
        .or_else(|| std::env::var(var).ok())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.into());
    let ms: f64 = v.parse().unwrap_or_else(|_| usage());
    if !ms.is_finite() || !(0.0..=1000.0).contains(&ms) {
        usage()
    }
    std::time::Duration::from_secs_f64(ms / 1000.0)
}

fn usage() -> ! {
    eprintln!(
        "usage: pitalya-bench lambda --bins DIR --events DIR --out FILE [--routes FILE] [--cold N] [--warm N]\n                            \
         [--only NAME,..] [--db-rtt-ms MS (default $BENCH_DB_RTT_MS, else 1.0)]\n                            \
         [--http-rtt-ms MS (SES and PhonePe; default $BENCH_HTTP_RTT_MS, else 20)]\n       \
         pitalya-bench load --api URL --bare URL --out FILE [--reads N] [--writes N] [--checkouts N] [--concurrency N]\n       \
         pitalya-bench import --api URL --token ADMIN_TOKEN --out FILE [--runs N]"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |name: &str, default: usize| -> usize {
        arg(&args, name)
            .map(|v| v.parse().unwrap_or_else(|_| usage()))
            .unwrap_or(default)
    };
    let need = |name: &str| arg(&args, name).unwrap_or_else(|| usage());
    match args.first().map(String::as_str) {
        Some("lambda") => {
            let opts = lambda::Options {
                bins: need("--bins").into(),
                events: need("--events").into(),
                cold: num("--cold", 10),
                warm: num("--warm", 500),
                only: arg(&args, "--only")
                    .map(|s| s.split(',').map(str::to_owned).collect())
                    .unwrap_or_default(),
                db_rtt: rtt(&args, "--db-rtt-ms", "BENCH_DB_RTT_MS", "1.0"),
                http_rtt: rtt(&args, "--http-rtt-ms", "BENCH_HTTP_RTT_MS", "20"),
            };
            let (md, routes) = lambda::run(&opts).await?;
            std::fs::write(need("--out"), md)?;
            if let Some(path) = arg(&args, "--routes") {
                std::fs::write(path, routes)?;
            }
        }
        Some("load") => {
            let opts = load::Options {
                api: need("--api"),
                bare: need("--bare"),
                reads: num("--reads", 4000),
                writes: num("--writes", 3000),
                checkouts: num("--checkouts", 600),
                concurrency: num("--concurrency", 16),
            };
            let md = load::run(&opts).await?;
            std::fs::write(need("--out"), md)?;
        }
        Some("import") => {
            let opts = import::Options {
                api: need("--api"),
                token: need("--token"),
                runs: num("--runs", 3),
            };
            std::fs::write(need("--out"), import::run(&opts).await?)?;
        }
        _ => usage(),
    }
    Ok(())
}
