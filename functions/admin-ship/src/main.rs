use admin_ship::AdminShip;
use common::mail::Mailer;
use common::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    common::telemetry::init();
    let (config, seller, mail, console): admin_ship::Settings = common::config::from_env()?;
    let services = Services::init(config).await?;
    let mailer = Arc::new(Mailer::new(&mail).await);
    let app = AdminShip::new(services, Arc::new(seller), mailer, console);
    let router = common::http::finish(app.router());
    common::lambda::run_mixed(router, move |event| {
        let app = app.clone();
        async move { app.invoke(event).await }
    })
    .await
}
