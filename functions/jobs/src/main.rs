use common::config::Config;
use common::services::Services;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    common::telemetry::init();
    let config = Config::from_env(jobs::NEEDS)?;
    let services = Services::init(config).await?;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let services = services.clone();
        async move { Ok::<Value, lambda_runtime::Error>(jobs::run_once(&services).await) }
    }))
    .await
}
