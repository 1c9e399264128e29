use common::platform::clock::SystemClock;
use common::platform::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let config: products::Settings = common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    common::platform::http::run_lambda(common::platform::http::finish(products::router(&services)))
        .await
}
