//! The Factory API binary: configuration from the environment, then the app.

use stockflow_kit::{config, shutdown, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("factory");
    let settings: factory::Settings = config::from_env()?;
    let app = factory::Application::build(settings).await?;
    tracing::info!(port = app.port(), "factory API listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
