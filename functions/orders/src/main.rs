use common::mail::Mailer;
use common::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let (config, seller, mail): orders::Settings = common::config::from_env()?;
    let services = Services::init(config).await?;
    let mailer = Arc::new(Mailer::new(&mail).await);
    let router = orders::router(&services, Arc::new(seller), mailer);
    common::http::run_lambda(common::http::finish(router)).await
}
