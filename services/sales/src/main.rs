//! The Sales API binary: configuration from the environment, then the app.

use stockflow_kit::{config, shutdown, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("sales");
    let settings: sales::Settings = config::from_env()?;
    let app = sales::Application::build(settings).await?;
    tracing::info!(port = app.port(), "sales API listening");
    app.run_until_stopped(shutdown::on_signal()).await
}
