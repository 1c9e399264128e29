use common::phonepe::PhonePe;
use common::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let (config, phonepe, redirect): payments_initiate::Settings = common::config::from_env()?;
    let services = Services::init(config).await?;
    let phonepe = Arc::new(PhonePe::new(&phonepe)?);
    let router = payments_initiate::router(&services, phonepe, redirect);
    common::http::run_lambda(common::http::finish(router)).await
}
