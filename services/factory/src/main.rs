//! The Factory API binary: `stockflow_kit::binary::run` with its settings and builder.

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    stockflow_kit::binary::run("factory", factory::Application::build).await
}
