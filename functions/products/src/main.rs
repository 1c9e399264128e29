use common::config::Config;
use common::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let config = Config::from_env(products::NEEDS)?;
    let services = Services::init(config).await?;
    common::http::run_lambda(common::http::finish(products::router(&services))).await
}
