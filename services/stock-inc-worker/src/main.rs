//! The stock-inc-worker binary: `stockflow_kit::binary::run` with its settings and builder.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    stockflow_kit::binary::run("stock-inc-worker", stock_inc_worker::build).await
}
