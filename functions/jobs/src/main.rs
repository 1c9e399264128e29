use common::integrations::phonepe::PhonePe;
use common::platform::clock::SystemClock;
use common::platform::services::Services;
use common::shop::messages::mail::Mailer;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    common::platform::telemetry::init();
    let (config, phonepe, mail, window): jobs::Settings = common::platform::config::from_env()?;
    let services = Services::init(config, &common::shop::indexes(), SystemClock::shared()).await?;
    let phonepe = Arc::new(PhonePe::new(&phonepe)?);
    let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
    let jobs = jobs::Jobs::new(&services, phonepe, mailer, window);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let jobs = jobs.clone();
        async move { Ok::<Value, lambda_runtime::Error>(jobs::run_once(&jobs).await) }
    }))
    .await
}
