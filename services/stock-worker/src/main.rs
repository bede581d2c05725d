//! The stock-worker binary: `stockflow_kit::binary::run` with its settings and builder.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    stockflow_kit::binary::run("stock-worker", stock_worker::build).await
}
