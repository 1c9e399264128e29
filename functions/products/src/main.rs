use common::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let config: products::Settings = common::config::from_env()?;
    let services = Services::init(config).await?;
    common::http::run_lambda(common::http::finish(products::router(&services))).await
}
