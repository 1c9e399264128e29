use common::integrations::phonepe::PhonePe;
use common::platform::clock::SystemClock;
use common::platform::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let (config, phonepe, redirect, window): payments_initiate::Settings =
        common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let phonepe = Arc::new(PhonePe::new(&phonepe)?);
    let router = payments_initiate::router(&services, phonepe, redirect, window);
    common::platform::http::run_lambda(common::platform::http::finish(router)).await
}
