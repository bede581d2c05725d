//! The factory's schema: its migrations are embedded here once and applied at start
//! (under the shared migration lock), then the outbox's own
//! (`stockflow_messaging::outbox::migrate`).

use mysql_async::Pool;
use stockflow_kit::config::DatabaseSettings;
use stockflow_kit::db;
use stockflow_messaging::outbox;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// V1 created the outbox table until the outbox took its migration home
/// (`services/messaging/migrations`); this was V1's checksum then.
const EDITED: [db::Edited; 1] = [db::Edited {
    version: 1,
    checksum_before: 16991766204320145154,
}];

/// Connects to the factory database, creating and migrating it as needed.
pub async fn open(settings: &DatabaseSettings, database: &str) -> anyhow::Result<Pool> {
    let pool = db::connect(settings, database).await?;
    db::migrate(settings, &pool, database, embedded::migrations::runner(), &EDITED).await?;
    outbox::migrate(settings, &pool, database).await?;
    Ok(pool)
}
