//! The warehouse database that `sales` and `stock-inc-worker` share (as in the
//! brief): its migrations live here once, and both services apply them at start.

use mysql_async::Pool;

use crate::config::DatabaseSettings;
use crate::db;

mod embedded {
    refinery::embed_migrations!("migrations/warehouse");
}

/// The default name of the warehouse database (`WAREHOUSE_DB`).
pub const DEFAULT_DATABASE: &str = "stockflow";

/// Connects to the warehouse database, creating and migrating it as needed.
pub async fn open(settings: &DatabaseSettings, database: &str) -> anyhow::Result<Pool> {
    let pool = db::connect(settings, database).await?;
    db::migrate(settings, &pool, database, embedded::migrations::runner()).await?;
    Ok(pool)
}
