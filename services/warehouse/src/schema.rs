//! The warehouse schema: its migrations are embedded here once, and every service
//! that opens the warehouse applies them at start (under the shared migration lock).

use mysql_async::Pool;
use stockflow_kit::config::DatabaseSettings;
use stockflow_kit::db;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The default name of the warehouse database (`WAREHOUSE_DB`).
pub const DEFAULT_DATABASE: &str = "stockflow";

/// Connects to the warehouse database, creating and migrating it as needed.
pub async fn open(settings: &DatabaseSettings, database: &str) -> anyhow::Result<Pool> {
    let pool = db::connect(settings, database).await?;
    db::migrate(settings, &pool, database, embedded::migrations::runner()).await?;
    Ok(pool)
}
