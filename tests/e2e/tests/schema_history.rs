//! The warehouse's and the factory's migrations on a database made before the outbox
//! took its migration home: each service's V1 created the outbox table then, and no
//! longer does. Such a database opens, keeps its outbox and its rows, and records V1's
//! new checksum; a V1 edited in any other way is still refused. (Each V1's checksum of
//! before is the one its `schema.rs` accepts; read off a database made then.)

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_devstack::cleanup::Cleanup;
use stockflow_kit::config::DatabaseSettings;

/// A service whose database holds an outbox.
#[derive(Clone, Copy, Debug)]
enum Schema {
    Warehouse,
    Factory,
}

impl Schema {
    /// V1's checksum in the databases made before the edit.
    fn v1_checksum_before(self) -> &'static str {
        match self {
            Schema::Warehouse => "13567457035546392120",
            Schema::Factory => "16991766204320145154",
        }
    }

    /// Opens (connects to and migrates) the service's database `name`.
    async fn open(self, settings: &DatabaseSettings, name: &str) -> anyhow::Result<Pool> {
        match self {
            Schema::Warehouse => warehouse::open(settings, name).await,
            Schema::Factory => factory::schema::open(settings, name).await,
        }
    }
}

/// A fresh database of `schema`, dropped at the end (also when the test fails).
struct Db {
    schema: Schema,
    settings: DatabaseSettings,
    name: String,
    pool: Pool,
    cleanup: Cleanup,
}

impl Db {
    /// A database as the earlier V1 left it: every table, the outbox among them (and one
    /// pending event), with V1 recorded under its earlier checksum; and V1's checksum now.
    async fn made_before_the_edit(schema: Schema) -> (Self, String) {
        let mut settings = DatabaseSettings::default();
        if let Ok(url) = std::env::var("MYSQL_URL") {
            settings.mysql_url = url;
        }
        let name = format!("schema_test_{}", uuid::Uuid::new_v4().simple());
        let cleanup = Cleanup::new(&settings.mysql_url, vec![name.clone()]);
        let pool = schema.open(&settings, &name).await.expect("the migrations apply");
        let db = Self {
            schema,
            settings,
            name,
            pool,
            cleanup,
        };
        let now = db.v1_checksum().await;
        let mut conn = db.pool.get_conn().await.unwrap();
        conn.query_drop("DROP TABLE outbox_schema_history").await.unwrap();
        // The outbox table as the service's V1 made it, before the outbox's V2.
        conn.query_drop("ALTER TABLE outbox ADD KEY outbox_pending (published_at, id), DROP KEY outbox_due")
            .await
            .unwrap();
        conn.exec_drop(
            "UPDATE refinery_schema_history SET checksum = ? WHERE version = 1",
            (schema.v1_checksum_before(),),
        )
        .await
        .unwrap();
        conn.query_drop(
            "INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload) \
             VALUES ('stock_empty', 'stock_empty', 'A', 'c-1', '{}')",
        )
        .await
        .unwrap();
        (db, now)
    }

    async fn v1_checksum(&self) -> String {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_first("SELECT checksum FROM refinery_schema_history WHERE version = 1")
            .await
            .unwrap()
            .expect("V1 recorded")
    }

    async fn count(&self, table: &str) -> Option<i64> {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_first(format!("SELECT COUNT(*) FROM {table}")).await.unwrap()
    }

    async fn reopen(&self) -> anyhow::Result<Pool> {
        self.schema.open(&self.settings, &self.name).await
    }

    /// Drops the database (a failing test drops it when its `Cleanup` is dropped).
    async fn remove(self) {
        self.pool.disconnect().await.ok();
        self.cleanup.run().await.expect("dropping the test database");
    }
}

async fn a_database_made_before_the_outbox_moved_opens_and_keeps_its_outbox(schema: Schema) {
    let (db, now) = Db::made_before_the_edit(schema).await;
    assert_ne!(now, schema.v1_checksum_before(), "{schema:?}'s V1 was edited");

    let pool = db.reopen().await.expect("a database of the earlier V1 opens");
    drop(pool);

    assert_eq!(db.v1_checksum().await, now, "V1's record carries the new checksum");
    assert_eq!(db.count("outbox").await, Some(1), "the outbox and its event are kept");
    assert_eq!(
        db.count("outbox_schema_history").await,
        Some(2),
        "the outbox's own migrations (V1, V2) are recorded"
    );
    db.remove().await;
}

async fn a_v1_recorded_with_any_other_checksum_is_refused(schema: Schema) {
    let (db, _) = Db::made_before_the_edit(schema).await;
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_drop("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1")
        .await
        .unwrap();

    let error = format!("{:#}", db.reopen().await.expect_err("a divergent V1 is refused"));
    assert!(error.contains("migrating database"), "{error}");
    drop(conn);
    db.remove().await;
}

#[tokio::test]
async fn a_warehouse_made_before_the_outbox_moved_opens_and_keeps_its_outbox() {
    a_database_made_before_the_outbox_moved_opens_and_keeps_its_outbox(Schema::Warehouse).await;
}

#[tokio::test]
async fn a_factory_database_made_before_the_outbox_moved_opens_and_keeps_its_outbox() {
    a_database_made_before_the_outbox_moved_opens_and_keeps_its_outbox(Schema::Factory).await;
}

#[tokio::test]
async fn a_warehouse_v1_recorded_with_any_other_checksum_is_refused() {
    a_v1_recorded_with_any_other_checksum_is_refused(Schema::Warehouse).await;
}

#[tokio::test]
async fn a_factory_v1_recorded_with_any_other_checksum_is_refused() {
    a_v1_recorded_with_any_other_checksum_is_refused(Schema::Factory).await;
}
