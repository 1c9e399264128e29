//! `phonepe-sim` binary: serves the simulator on 127.0.0.1:$SIM_PORT until Ctrl-C / SIGTERM.

use std::time::Duration;

use phonepe_sim::{spawn, SimConfig};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = SimConfig::from_env()?;
    let (addr, handle) = spawn(config).await?;
    let cfg = handle.config();
    tracing::info!(
        %addr,
        public_url = %cfg.public_base_url,
        client_id = %cfg.client_id,
        merchant_id = %cfg.merchant_id,
        webhook_url = ?cfg.webhook_url,
        "phonepe-sim listening (use http://{addr} as both PHONEPE_PG_URL and PHONEPE_OAUTH_URL)"
    );
    if cfg.webhook_url.is_none() {
        tracing::warn!("SIM_WEBHOOK_URL is not set: webhooks will only be recorded");
    }
    shutdown_signal().await;
    // A request parked by failApi=timeout must not hold the process for 30 s.
    if tokio::time::timeout(Duration::from_secs(3), handle.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests abandoned at shutdown");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
