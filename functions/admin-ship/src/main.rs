use common::config::Config;
use common::services::Services;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    common::telemetry::init();
    let config = Config::from_env(admin_ship::NEEDS)?;
    let services = Services::init(config).await?;
    let router = common::http::finish(admin_ship::router(&services));
    common::lambda::run_mixed(router, move |event| {
        let services = services.clone();
        async move { admin_ship::invoke(&services, event).await }
    })
    .await
}
