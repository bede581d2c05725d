//! The transactional outbox: what a committed transaction wrote is published once, by the
//! fast path or, past its grace, by the sweeper; what rolled back never is.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use stockflow_contracts::events::StockEmpty;
use stockflow_contracts::names;
use stockflow_messaging::outbox::{self, Enqueued, Outbox, Relay};
use stockflow_messaging::publisher::Publisher;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::{World, attribute, counter, eventually, stock_empty};

const WITHIN: Duration = Duration::from_secs(30);

/// Writes one `stock_empty` per sku in one transaction and commits it.
async fn commit(world: &World, skus: &[String]) -> Vec<Enqueued> {
    let mut conn = world.pool.get_conn().await.unwrap();
    let mut tx = conn.start_transaction(stockflow_kit::db::tx_opts()).await.unwrap();
    let mut enqueued = Vec::new();
    for sku in skus {
        enqueued.push(
            outbox::enqueue(&mut tx, &stock_empty(sku), sku, &format!("c-{sku}"))
                .await
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    enqueued
}

/// An outbox sweeper (a [`Relay`] of `world`'s outbox) running in the background.
struct Sweeper {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts one publishing with `publisher` and sweeping every `sweep_every`.
    fn start_with(world: &World, publisher: Publisher, sweep_every: Duration) -> Self {
        let shutdown = CancellationToken::new();
        let relay = Relay::new(world.pool.clone(), publisher, sweep_every);
        let task = tokio::spawn(relay.run(shutdown.clone()));
        Self { shutdown, task }
    }

    /// Starts one publishing with `world`'s publisher and sweeping every `sweep_every`.
    async fn start(world: &World, sweep_every: Duration) -> Self {
        Self::start_with(world, world.publisher().await, sweep_every)
    }

    /// Shuts it down and waits until it returned (having published what was pending).
    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("the sweeper panicked");
    }
}

/// `n` skus `<prefix>000`, `<prefix>001`, …
fn skus(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

/// Commits a `stock_empty` event for each of `n` [`skus`] of `prefix`; the skus.
async fn committed(world: &World, prefix: &str, n: usize) -> Vec<String> {
    let skus = skus(prefix, n);
    commit(world, &skus).await;
    skus
}

/// The skus of `stock_empty` messages, with how often each arrived.
fn arrivals(messages: &[aws_sdk_sqs::types::Message]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for message in messages {
        let event: StockEmpty = serde_json::from_str(message.body().unwrap()).unwrap();
        *seen.entry(event.sku).or_default() += 1;
    }
    seen
}

fn once_each(skus: &[String]) -> BTreeMap<String, usize> {
    skus.iter().map(|s| (s.clone(), 1)).collect()
}

async fn pending(world: &World) -> i64 {
    world
        .scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_event_is_published_by_the_fast_path_with_its_attributes_and_marked() {
    let world = World::new(3).await;
    let outbox = Outbox::new(world.pool.clone(), world.publisher().await);
    let enqueued = commit(&world, &["FAST-1".into()]).await;

    outbox.publish_committed(enqueued);
    let messages = world.take(names::STOCK_QUEUE, 1, WITHIN).await;
    let event: StockEmpty = serde_json::from_str(messages[0].body().unwrap()).unwrap();
    assert_eq!(event.sku, "FAST-1");
    assert_eq!(attribute(&messages[0], "event_type").as_deref(), Some("stock_empty"));
    assert_eq!(attribute(&messages[0], "correlation_id").as_deref(), Some("c-FAST-1"));
    eventually("the row marked published", WITHIN, || async {
        (pending(&world).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        world.scalar("SELECT attempts FROM outbox").await,
        1,
        "published once, by the fast path"
    );
    assert_eq!(counter("outbox_published_total", &[("path", "fast")]), 1.0);
    assert_eq!(counter("outbox_published_total", &[("path", "sweep")]), 0.0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_rolled_back_leaves_no_row() {
    let world = World::new(3).await;
    let mut conn = world.pool.get_conn().await.unwrap();
    let mut tx = conn.start_transaction(stockflow_kit::db::tx_opts()).await.unwrap();
    let enqueued = outbox::enqueue(&mut tx, &stock_empty("GONE"), "GONE", "c")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    drop(conn);
    drop(enqueued);
    assert_eq!(world.scalar("SELECT COUNT(*) FROM outbox").await, 0);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_publishes_what_the_fast_path_left_once_its_grace_is_over() {
    let world = World::new(3).await;
    // More than one sweep claims (50): the drain goes on until none is left.
    let skus = committed(&world, "LEFT-", 120).await;
    let sweeper = Sweeper::start(&world, Duration::from_millis(200)).await;

    let messages = world
        .take(names::STOCK_QUEUE, skus.len(), Duration::from_secs(60))
        .await;
    assert_eq!(arrivals(&messages), once_each(&skus), "each event published once");
    assert_eq!(pending(&world).await, 0, "every row marked");
    assert_eq!(
        counter("outbox_sweep_claimed_total", &[]),
        120.0,
        "claimed by the sweeper"
    );
    assert_eq!(
        counter("outbox_published_total", &[("path", "sweep")]),
        120.0,
        "published by the sweeper"
    );
    let youngest_at_publish = world
        .scalar("SELECT MIN(TIMESTAMPDIFF(MICROSECOND, created_at, published_at)) FROM outbox")
        .await;
    assert!(
        youngest_at_publish >= 2_000_000,
        "rows younger than the fast path's grace (2 s) are left to it: one was swept after {youngest_at_publish} µs"
    );
    sweeper.stop().await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweepers_on_one_outbox_publish_each_event_once() {
    let world = World::new(3).await;
    let skus = committed(&world, "RACE-", 300).await;
    let sweepers = (
        Sweeper::start(&world, Duration::from_millis(50)).await,
        Sweeper::start(&world, Duration::from_millis(50)).await,
    );

    let messages = world
        .take(names::STOCK_QUEUE, skus.len(), Duration::from_secs(60))
        .await;
    eventually("every row marked", WITHIN, || async {
        (pending(&world).await == 0).then_some(())
    })
    .await;
    tokio::join!(sweepers.0.stop(), sweepers.1.stop());
    // A second copy of any event would be on its way: read what else arrives for a while.
    let late = world.receive_for(names::STOCK_QUEUE, Duration::from_secs(3)).await;
    let mut all = messages;
    all.extend(late);
    assert_eq!(arrivals(&all), once_each(&skus), "no event published by both sweepers");
    assert_eq!(
        world.scalar("SELECT COUNT(*) FROM outbox WHERE attempts <> 1").await,
        0,
        "each row published in one attempt"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_counted_on_its_row_and_tried_again() {
    let world = World::new(3).await;
    commit(&world, &["FAIL-1".into()]).await;
    // Published with a publisher opened for the alerts topic only: every attempt fails.
    let alerts_only = Publisher::open(world.sns.clone(), &world.resources, &[names::OPS_ALERTS_TOPIC])
        .await
        .unwrap();
    let failing = Sweeper::start_with(&world, alerts_only, Duration::from_millis(100));
    let error = eventually("two failed attempts recorded", WITHIN, || async {
        let mut conn = world.pool.get_conn().await.unwrap();
        let row: Option<(i64, Option<String>)> = conn
            .query_first("SELECT attempts, last_error FROM outbox WHERE published_at IS NULL")
            .await
            .unwrap();
        row.filter(|(attempts, _)| *attempts >= 2).and_then(|(_, error)| error)
    })
    .await;
    assert!(error.contains("stock_empty"), "the error names what failed: {error}");
    assert!(counter("outbox_publish_failures_total", &[("path", "sweep")]) >= 2.0);
    failing.stop().await;
    assert_eq!(pending(&world).await, 1, "still pending after failing");

    let working = Sweeper::start(&world, Duration::from_millis(100)).await;
    let messages = world.take(names::STOCK_QUEUE, 1, WITHIN).await;
    assert_eq!(arrivals(&messages), once_each(&["FAIL-1".into()]));
    eventually("the row marked", WITHIN, || async {
        (pending(&world).await == 0).then_some(())
    })
    .await;
    working.stop().await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeper_shutting_down_publishes_everything_still_pending_even_within_the_grace() {
    let world = World::new(3).await;
    let sweeper = Sweeper::start(&world, Duration::from_secs(3600)).await;
    let skus = committed(&world, "LAST-", 3).await;

    sweeper.stop().await;
    assert_eq!(pending(&world).await, 0, "published before the sweeper returned");
    let messages = world.take(names::STOCK_QUEUE, skus.len(), WITHIN).await;
    assert_eq!(arrivals(&messages), once_each(&skus));
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_counts_unpublished_rows_and_the_age_of_the_oldest() {
    let world = World::new(3).await;
    assert_eq!(outbox::backlog(&world.pool).await.unwrap(), (0, 0.0));
    committed(&world, "OLD-", 2).await;
    let mut conn = world.pool.get_conn().await.unwrap();
    conn.query_drop(
        "UPDATE outbox SET created_at = CURRENT_TIMESTAMP(6) - INTERVAL 90 SECOND WHERE aggregate_id = 'OLD-000'",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload, published_at) VALUES ('stock_empty', 'stock_empty', 'DONE', 'c', '{}', CURRENT_TIMESTAMP(6) - INTERVAL 1 HOUR)")
        .await
        .unwrap();
    drop(conn);
    let (count, oldest) = outbox::backlog(&world.pool).await.unwrap();
    assert_eq!(count, 2, "published rows are not pending");
    assert!(
        (90.0..120.0).contains(&oldest),
        "the oldest pending row is 90 s old: {oldest}"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_rows_older_than_a_week_are_pruned_and_nothing_else() {
    let world = World::new(3).await;
    let mut conn = world.pool.get_conn().await.unwrap();
    for (aggregate, created, published) in [
        ("OLD-PUBLISHED", "8 DAY", Some("8 DAY")),
        ("RECENT-PUBLISHED", "6 DAY", Some("6 DAY")),
        ("OLD-PENDING", "8 DAY", None),
    ] {
        let published = published.map_or("NULL".to_string(), |p| format!("CURRENT_TIMESTAMP(6) - INTERVAL {p}"));
        conn.query_drop(format!(
            "INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload, created_at, published_at) \
             VALUES ('nowhere', 'stock_empty', '{aggregate}', 'c', '{{}}', CURRENT_TIMESTAMP(6) - INTERVAL {created}, {published})"
        ))
        .await
        .unwrap();
    }
    drop(conn);
    // The pending row's topic is not one the publisher knows: it stays pending.
    let sweeper = Sweeper::start(&world, Duration::from_millis(100)).await;

    eventually("the week-old published row pruned", WITHIN, || async {
        (world
            .scalar("SELECT COUNT(*) FROM outbox WHERE aggregate_id = 'OLD-PUBLISHED'")
            .await
            == 0)
            .then_some(())
    })
    .await;
    sweeper.stop().await;
    assert_eq!(
        world
            .scalar("SELECT COUNT(*) FROM outbox WHERE aggregate_id = 'RECENT-PUBLISHED'")
            .await,
        1
    );
    assert_eq!(
        world
            .scalar("SELECT COUNT(*) FROM outbox WHERE aggregate_id = 'OLD-PENDING'")
            .await,
        1,
        "never a pending event"
    );
    world.stop().await;
}
