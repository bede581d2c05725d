//! The stock-worker binary: configuration from the environment, then the worker.

use stockflow_kit::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("stock-worker");
    let settings: stock_worker::Settings = config::from_env()?;
    let worker = stock_worker::build(settings).await?;
    tracing::info!(
        port = worker.port(),
        "stock-worker consuming; /health and /ready on this port"
    );
    worker.run_until_stopped(shutdown::on_signal()).await
}
