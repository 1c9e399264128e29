use common::mail::Mailer;
use common::phonepe::PhonePe;
use common::services::Services;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    common::telemetry::init();
    let (config, phonepe, credentials, mail): payments_webhook::Settings =
        common::config::from_env()?;
    let services = Services::init(config).await?;
    let phonepe = Arc::new(PhonePe::with_timeout(
        &phonepe,
        payments_webhook::CONFIRM_TIMEOUT,
    )?);
    let mailer = Arc::new(Mailer::new(&mail).await);
    let router = payments_webhook::router(&services, phonepe, credentials, mailer);
    common::http::run_lambda(common::http::finish(router)).await
}
