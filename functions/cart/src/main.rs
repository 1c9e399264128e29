use common::platform::clock::SystemClock;
use common::platform::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let (config, seller): cart::Settings = common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let router = cart::router(&services, Arc::new(seller));
    common::platform::http::run_lambda(common::platform::http::finish(router)).await
}
