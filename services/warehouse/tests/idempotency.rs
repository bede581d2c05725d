//! Idempotency keys across transactions, against a real MySQL/MariaDB server: a key
//! replays its first outcome to the same request and refuses another, expires after its
//! time to live, and a key another transaction holds past the lock wait is an error to try
//! again, never an answer.

mod common;

use std::time::{Duration, Instant};

use common::{TestDb, keyed};
use mysql_async::prelude::Queryable;
use stockflow_kit::db;
use warehouse::checkout::{self, CheckoutOutcome, Recorded};

async fn one(db: &TestDb, sku: &str, quantity: u32, key: &str) -> Recorded {
    let mut recorded = checkout::transact(&db.pool, &[keyed(sku, quantity, key)])
        .await
        .unwrap()
        .recorded;
    recorded.remove(0)
}

/// The first use of `key`: its outcome, fresh (panics if it was not).
async fn fresh(db: &TestDb, sku: &str, quantity: u32, key: &str) -> CheckoutOutcome {
    match one(db, sku, quantity, key).await {
        Recorded::Fresh(outcome) => outcome,
        other => panic!("the first use of a key is fresh, not {other:?}"),
    }
}

async fn keys(db: &TestDb, key: &str) -> i64 {
    db.count("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = ?", key)
        .await
}

#[tokio::test]
async fn a_key_replays_to_its_request_and_refuses_another_in_later_transactions() {
    let db = TestDb::with_products(&[("AGAIN", 10)]).await;
    let first = fresh(&db, "AGAIN", 1, "k-again").await;
    assert!(matches!(first, CheckoutOutcome::Sold { remaining_stock: 9, .. }));
    assert_eq!(one(&db, "AGAIN", 2, "k-again").await, Recorded::KeyReused);
    assert_eq!(one(&db, "AGAIN", 1, "k-again").await, Recorded::Replay(first));
    let purchases = db.count("SELECT COUNT(*) FROM orders WHERE sku = ?", "AGAIN").await;
    assert_eq!(purchases, 1, "one purchase");
    // A purchase of an unknown sku keeps no key: the key is free for a real purchase.
    assert_eq!(
        one(&db, "NOPE", 1, "k-nope").await,
        Recorded::Fresh(CheckoutOutcome::UnknownSku)
    );
    assert_eq!(keys(&db, "k-nope").await, 0);
}

#[tokio::test]
async fn a_key_repeated_within_a_batch_after_an_earlier_transaction_replays_for_each() {
    let db = TestDb::with_products(&[("TWICE", 10)]).await;
    let first = fresh(&db, "TWICE", 1, "k-twice").await;
    let batch = [keyed("TWICE", 1, "k-twice"), keyed("TWICE", 1, "k-twice")];
    let recorded = checkout::transact(&db.pool, &batch).await.unwrap().recorded;
    assert_eq!(recorded, vec![Recorded::Replay(first.clone()), Recorded::Replay(first)]);
    db.assert_count("SELECT COUNT(*) FROM orders WHERE sku = ?", "TWICE", 1)
        .await;
}

#[tokio::test]
async fn keys_past_their_time_to_live_are_pruned_and_the_others_kept() {
    let db = TestDb::with_products(&[("TTL", 10)]).await;
    one(&db, "TTL", 1, "k-old").await;
    one(&db, "TTL", 1, "k-young").await;
    db.exec(
        // A day and an hour ago: past the 24 hours a key lives.
        "UPDATE idempotency_keys SET created_at = created_at - INTERVAL 25 HOUR WHERE idempotency_key = ?",
        ("k-old",),
    )
    .await;
    warehouse::prune_expired_keys(&db.pool).await.unwrap();
    assert_eq!(keys(&db, "k-old").await, 0, "expired: pruned");
    assert_eq!(keys(&db, "k-young").await, 1, "within its time to live: kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_held_past_the_lock_wait_is_an_error_after_every_attempt_not_a_reused_key() {
    let db = TestDb::with_products(&[("HELD", 10)]).await;
    // Another transaction claimed the key and has not committed.
    let mut holder = db
        .holding(
            "INSERT INTO idempotency_keys (idempotency_key, request, status, response) VALUES (?, ?, 0, '')",
            ("k-held", "HELD|1|test"),
        )
        .await;

    // A pool that waits one second for a row lock, not fifty.
    let impatient = db.another_pool(&["SET SESSION innodb_lock_wait_timeout = 1"]);
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        checkout::transact(&impatient, &[keyed("HELD", 1, "k-held")]),
    )
    .await
    .expect("the attempts are bounded");
    let waited = started.elapsed();
    let err = result.expect_err("a key still held is no answer");
    assert!(db::is_retryable(&err), "the lock wait timed out: {err}");
    assert!(
        waited >= Duration::from_secs(4),
        "it was tried again, five waits of a second each ({waited:?})"
    );
    db.assert_count("SELECT COUNT(*) FROM orders WHERE sku = ?", "HELD", 0)
        .await;

    holder.query_drop("ROLLBACK").await.unwrap();
    assert!(matches!(
        one(&db, "HELD", 1, "k-held").await,
        Recorded::Fresh(CheckoutOutcome::Sold { .. })
    ));
}
