use common::integrations::phonepe::PhonePe;
use common::platform::clock::SystemClock;
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::platform::telemetry::init();
    let (config, phonepe, credentials, mail): payments_webhook::Settings =
        common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let phonepe = Arc::new(PhonePe::with_timeout(
        &phonepe,
        payments_webhook::CONFIRM_TIMEOUT,
    )?);
    let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
    let router = payments_webhook::router(&services, phonepe, credentials, mailer);
    common::platform::http::run_lambda(common::platform::http::finish(router)).await
}
