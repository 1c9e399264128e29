use common::platform::clock::SystemClock;
use common::platform::services::Services;
use common::shop::mail::Mailer;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let (config, seller, mail): orders::Settings = common::platform::config::from_env()?;
    let services = Services::init(config, SystemClock::shared()).await?;
    let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
    let router = orders::router(&services, Arc::new(seller), mailer);
    common::platform::http::run_lambda(common::platform::http::finish(router)).await
}
