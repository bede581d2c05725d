//! The warehouse's migrations on a database made before the outbox took its migration
//! home: V1 created the outbox table then, and no longer does. Such a database opens, keeps
//! its outbox and its rows, and records V1's new checksum; a V1 edited in any other way is
//! still refused.

mod common;

use common::TestDb;
use mysql_async::prelude::Queryable;

/// V1's checksum in the databases made before the edit (read off one of them).
const V1_CHECKSUM_BEFORE: &str = "13567457035546392120";

async fn v1_checksum(db: &TestDb) -> String {
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_first("SELECT checksum FROM refinery_schema_history WHERE version = 1")
        .await
        .unwrap()
        .expect("V1 recorded")
}

/// A database as the earlier V1 left it: every table, the outbox among them (and one
/// pending event), with V1 recorded under its earlier checksum.
async fn made_before_the_edit() -> (TestDb, String) {
    let db = TestDb::new().await;
    let now = v1_checksum(&db).await;
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_drop("DROP TABLE outbox_schema_history").await.unwrap();
    conn.exec_drop(
        "UPDATE refinery_schema_history SET checksum = ? WHERE version = 1",
        (V1_CHECKSUM_BEFORE,),
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

#[tokio::test]
async fn a_database_made_before_the_outbox_moved_opens_and_keeps_its_outbox() {
    let (db, now) = made_before_the_edit().await;
    assert_ne!(now, V1_CHECKSUM_BEFORE, "V1 was edited");

    let pool = warehouse::open(&db.settings, &db.name)
        .await
        .expect("a database of the earlier V1 opens");
    drop(pool);

    assert_eq!(v1_checksum(&db).await, now, "V1's record carries the new checksum");
    let mut conn = db.pool.get_conn().await.unwrap();
    let pending: Option<i64> = conn.query_first("SELECT COUNT(*) FROM outbox").await.unwrap();
    assert_eq!(pending, Some(1), "the outbox and its event are kept");
    let outbox_migrations: Option<i64> = conn
        .query_first("SELECT COUNT(*) FROM outbox_schema_history")
        .await
        .unwrap();
    assert_eq!(outbox_migrations, Some(1), "the outbox's own migration is recorded");
}

#[tokio::test]
async fn a_v1_recorded_with_any_other_checksum_is_refused() {
    let (db, _) = made_before_the_edit().await;
    let mut conn = db.pool.get_conn().await.unwrap();
    conn.query_drop("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1")
        .await
        .unwrap();

    let refused = warehouse::open(&db.settings, &db.name).await;
    let error = format!("{:#}", refused.expect_err("a divergent V1 is refused"));
    assert!(error.contains("migrating database"), "{error}");
}
