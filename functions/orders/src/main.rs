use common::platform::clock::SystemClock;
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let (config, seller, mail, numbering): orders::Settings = common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
    let router = orders::router(&services, Arc::new(seller), mailer, numbering);
    common::platform::http::run_lambda(common::platform::http::finish(router)).await
}
