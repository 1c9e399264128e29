use admin_ship::AdminShip;
use common::platform::clock::SystemClock;
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    common::platform::telemetry::init();
    let (config, seller, mail, console): admin_ship::Settings =
        common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
    let app = AdminShip::new(services, Arc::new(seller), mailer, console);
    let router = common::platform::http::finish(app.router());
    common::platform::lambda::run_mixed(router, move |event| {
        let app = app.clone();
        async move { app.invoke(event).await }
    })
    .await
}
