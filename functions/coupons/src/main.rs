use common::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let (config, seller): coupons::Settings = common::config::from_env()?;
    let services = Services::init(config).await?;
    let router = coupons::router(&services, Arc::new(seller));
    common::http::run_lambda(common::http::finish(router)).await
}
