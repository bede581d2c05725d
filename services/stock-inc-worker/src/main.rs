//! The stock-inc-worker binary: configuration from the environment, then the worker.

use stockflow_kit::{config, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("stock-inc-worker");
    let settings: stock_inc_worker::Settings = config::from_env()?;
    let worker = stock_inc_worker::build(settings).await?;
    tracing::info!(
        port = worker.port(),
        "stock-inc-worker consuming; /health and /ready on this port"
    );
    worker.run_until_stopped(shutdown::on_signal()).await
}
