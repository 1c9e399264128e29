//! `pitalya-dev serve | seed | migrate | token`: the local stack's entry point (see the Makefile).

use anyhow::Context as _;
use common::platform::clock::SystemClock;
use dev_server::token::{self, TokenSpec};
use dev_server::Functions;
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: pitalya-dev serve | seed | migrate | token --user ID [--admin] [--email E] [--ttl SECS] [--azp ORIGIN] --key PRIVATE_PEM"
    );
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") | None => serve().await,
        Some("seed") => {
            common::platform::telemetry::init();
            let functions = functions().await?;
            // `make dev` over a database an earlier release filled (`.data/` survives
            // upgrades) brings it to this release's shape first, as a deploy's migrate step
            // would; on a database already there it finds nothing to do.
            migrate(&functions.services, "make dev").await?;
            let (p, c) = dev_server::seed::run(&functions.services).await?;
            println!(
                "seeded {p} products and {c} coupons into '{}'",
                functions.services.config.mongodb_db
            );
            Ok(())
        }
        Some("migrate") => {
            common::platform::telemetry::init();
            let report = migrate(&functions().await?.services, "make migrate").await?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Some("token") => mint(&args[1..]),
        _ => usage(),
    }
}

async fn functions() -> anyhow::Result<Functions> {
    // Everything on, as in AWS: API calls send mail at once, payments reach the simulator,
    // and the jobs loop below drains the outbox, reconciles and expires.
    Functions::build(common::platform::config::from_env()?, SystemClock::shared()).await
}

/// The deploy's migrate step, run from this machine: no Lambda timeout to stop before.
async fn migrate(
    services: &common::platform::services::Services,
    by: &str,
) -> anyhow::Result<common::platform::migrate::Report> {
    common::shop::migrations::run(
        &services.db,
        services.clock.as_ref(),
        by,
        common::platform::migrate::Budget::unlimited(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))
}

async fn serve() -> anyhow::Result<()> {
    common::platform::telemetry::init();
    // Checked before connecting, so a bad setting fails at once. `make dev` serves
    // storefronts on any port by default, as the contract says.
    let origins = dev_server::cors::AllowedOrigins::parse(
        &std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_else(|_| "*".into()),
    )
    .map_err(anyhow::Error::msg)?;
    let functions = functions().await?;
    let port: u16 = std::env::var("PORT")
        .ok()
        .map(|p| p.parse())
        .transpose()
        .context("PORT")?
        .unwrap_or(3000);
    let app = dev_server::cors::allow(dev_server::app(&functions), origins);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("bind 127.0.0.1:{port}"))?;
    tracing::info!(port, "serving every route on http://127.0.0.1:{port}");

    // In AWS an EventBridge schedule invokes `jobs`; locally the dev server plays that part.
    let interval = std::env::var("JOBS_INTERVAL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15u64);
    let jobs = functions.jobs();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(interval));
        loop {
            tick.tick().await;
            let report = jobs::run_once(&jobs).await;
            tracing::debug!(%report, "jobs run");
        }
    });

    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

fn mint(args: &[String]) -> anyhow::Result<()> {
    let mut spec = TokenSpec {
        issuer: std::env::var("CLERK_ISSUER").context("CLERK_ISSUER must be set")?,
        user_id: String::new(),
        admin: false,
        email: None,
        ttl_secs: 24 * 3600,
        azp: None,
    };
    let mut key = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--user" => spec.user_id = value(),
            "--admin" => spec.admin = true,
            "--email" => spec.email = Some(value()),
            "--ttl" => spec.ttl_secs = value().parse().context("--ttl")?,
            "--azp" => spec.azp = Some(value()),
            "--key" => key = Some(value()),
            _ => usage(),
        }
    }
    if spec.user_id.is_empty() {
        usage();
    }
    let key = key.unwrap_or_else(|| usage());
    let pem = std::fs::read(&key).with_context(|| format!("read {key}"))?;
    println!(
        "{}",
        token::sign(&pem, token::DEV_KID, &token::claims(&spec))?
    );
    Ok(())
}
