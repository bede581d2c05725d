//! Two replicas of every service as real processes (sales and factory sharing their
//! ports), and the faults that lose data when there are several: a sales replica killed
//! after its commit and before its publish, the factory killed mid-production, relays
//! and consumers competing for the same rows and messages, and a message lost outside
//! stockflow. Each test proves its fault happened, then that nothing was lost or doubled.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::json;
use stockflow_contracts::names;
use stockflow_devstack::process::Stack;
use stockflow_devstack::service::Service;
use stockflow_e2e::logs;
use stockflow_e2e::metrics::scrape;
use stockflow_e2e::replicas::{kill_replicas, listening, relaunch_replicas, set, set_all, stop_all};
use stockflow_e2e::shop::slowest;
use stockflow_e2e::{TestEnv, eventually};

const SETTLE: Duration = Duration::from_secs(120);

/// The restock requests a sales replica opened, from its JSON log ("out of stock" with
/// `opened: true`): the events only its fast path would have published.
fn opened_by(log: &std::path::Path) -> Vec<String> {
    logs::saying(log, "out of stock")
        .iter()
        .filter(|v| v["opened"] == true)
        .filter_map(|v| v["restock_request_id"].as_str().map(str::to_string))
        .collect()
}

/// Rows each sales replica's sweeper claimed, from its log (sales replicas share a port,
/// so their `/metrics` cannot be read one by one).
fn claimed_per_replica(stack: &Stack) -> Vec<u64> {
    stack
        .replicas(Service::Sales)
        .map(|r| logs::sum(r.log(), logs::SWEEPER_CLAIMED, "claimed"))
        .collect()
}

/// The transactions on this test's warehouse database that hold row locks and wait for
/// nothing (`RUNNING`): a sweeper holding its claim while its publish hangs. One sales
/// replica sweeps one batch at a time, so two at once come from both replicas.
async fn claims_held_at_once(env: &TestEnv) -> (i64, String) {
    let pool = env.warehouse().await;
    let mut conn = pool.get_conn().await.unwrap();
    let rows: Vec<(String, u64)> = conn
        .exec(
            "SELECT t.trx_state, t.trx_rows_locked FROM information_schema.INNODB_TRX t \
             JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id WHERE p.DB = ?",
            (&env.warehouse_db,),
        )
        .await
        .unwrap();
    drop(conn);
    pool.disconnect().await.ok();
    let holding = rows
        .iter()
        .filter(|(state, locked)| state == "RUNNING" && *locked > 0)
        .count();
    (holding as i64, format!("{rows:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_relays_and_consumers_duplicate_messages_never_effects() {
    let mut env = TestEnv::new().await;
    // Sales reaches SNS through a relay the test can freeze (a broker that hangs): the fast
    // path stops publishing, and both replicas' sweepers compete for the same rows.
    let (stack, relay) = env.start_replicas_behind_relay(2).await;
    // More shortages than one sweep claims (50): one sweeper cannot take them all.
    const N: usize = 64;
    let skus = env.add_products("RACE", N, 0, 3).await;

    relay.freeze();
    let answers = env.buy_each(&skus).await;
    assert!(answers.iter().all(|a| a.status == 409), "{answers:?}");
    // Each sweeper holds its claim while its publish hangs: the second can claim only by
    // skipping the first one's locked rows (FOR UPDATE SKIP LOCKED); a plain FOR UPDATE
    // would wait for them, and the two would never hold claims at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let locks = loop {
        let (holding, locks) = claims_held_at_once(&env).await;
        if holding >= 2 {
            break locks;
        }
        assert!(
            Instant::now() < deadline,
            "both sales replicas' sweepers never held claimed rows at once within 60 s: \
             claimed per replica (from their logs) {:?}; this database's transactions {locks}",
            claimed_per_replica(&stack)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let claimed = claimed_per_replica(&stack);
    println!("while SNS hung: sweepers claimed {claimed:?}; transactions {locks}");
    // Once SNS answers, the fast path and both sweepers publish the claimed events:
    // duplicates for the consumers.
    relay.restore();
    env.settle(SETTLE).await;

    let published = env
        .warehouse_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL AND topic = 'stock_empty'")
        .await;
    assert_eq!(published, N as i64, "every event published");
    let claimed = claimed_per_replica(&stack);
    let swept: Vec<u64> = stack
        .replicas(Service::Sales)
        .map(|r| logs::sum(r.log(), logs::SWEEPER_PUBLISHED, "published"))
        .collect();
    let mut handled = Vec::new();
    for (service, queue) in [
        (Service::StockWorker, names::STOCK_QUEUE),
        (Service::StockIncWorker, names::STOCK_INC_QUEUE),
    ] {
        let series = format!(
            r#"messages_handled_total{{queue="{}",result="processed""#,
            env.resources.name(queue)
        );
        for replica in stack.replicas(service) {
            handled.push((service, replica.index, scrape(&env.http, &replica.url(), &series).await));
        }
    }
    println!(
        "{N} stock_empty events; sales sweepers claimed {claimed:?} and published {swept:?}; \
         messages handled per worker replica {handled:?}"
    );
    assert!(claimed.iter().all(|c| *c > 0), "both sweepers claimed: {claimed:?}");
    assert!(swept.iter().all(|s| *s > 0), "both sweepers published: {swept:?}");
    assert!(
        handled.iter().all(|h| h.2 > 0.0),
        "every worker replica handled messages: {handled:?}"
    );
    let stock_worker: f64 = handled
        .iter()
        .filter(|h| h.0 == Service::StockWorker)
        .map(|h| h.2)
        .sum();
    assert!(
        stock_worker > N as f64,
        "duplicates reached the consumers: {stock_worker} stock_empty messages handled for {N} events"
    );
    // Duplicates of messages, never of effects: exactly one production order and one
    // applied order per request, each sku restocked once.
    assert_eq!(
        env.factory_scalar("SELECT COUNT(*) FROM production_orders").await,
        N as i64,
        "one production order per restock request"
    );
    assert_eq!(
        env.warehouse_scalar("SELECT COUNT(*) FROM applied_production_orders")
            .await,
        N as i64,
        "one applied production order per restock request"
    );
    env.assert_exactly_once().await;
    for sku in &skus {
        assert_eq!(env.stock(sku).await, 3, "{sku} restocked once");
    }
    stop_all(stack, env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sales_replica_killed_after_commit_before_publish_loses_no_shortage() {
    let mut env = TestEnv::new().await;
    // Sales reaches SNS through a relay the test can freeze (a broker that hangs).
    let (mut stack, relay) = env.start_replicas_behind_relay(2).await;
    let skus = env.add_products("K9S", 16, 0, 2).await;

    relay.freeze();
    let answers = env.buy_each(&skus).await;
    assert!(
        answers.iter().all(|a| a.status == 409),
        "shortages are answered: {answers:?}"
    );
    println!("16 shortages with SNS frozen: slowest answer {:?}", slowest(&answers));
    let pending = env
        .warehouse_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .await;
    assert_eq!(pending, 16, "committed, and no event got through");

    // Kill the replica that committed the most shortages, its publishes still in flight.
    let opened: Vec<Vec<String>> = (0..2)
        .map(|i| opened_by(stack.replica(Service::Sales, i).unwrap().log()))
        .collect();
    let victim = if opened[0].len() >= opened[1].len() { 0 } else { 1 };
    let orphans = opened[victim].clone();
    assert!(!orphans.is_empty(), "the victim committed shortages: {opened:?}");
    stack.kill_9(Service::Sales, victim).await.expect("kill -9");
    assert!(
        listening(stack.launcher.ports.sales),
        "the survivor still serves the shared port"
    );
    let left = env
        .warehouse_scalar("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL")
        .await;
    assert_eq!(left, 16, "the killed replica published nothing before it died");

    let thawed = Instant::now();
    relay.restore();
    env.settle(SETTLE).await;
    println!(
        "after SNS returned: every shortage restocked in {:.1} s",
        thawed.elapsed().as_secs_f64()
    );
    // Only the survivor's sweeper can have published the orphans.
    let swept = scrape(
        &env.http,
        &env.sales(""),
        r#"outbox_published_total{topic="stock_empty",path="sweep""#,
    )
    .await;
    assert!(
        swept >= orphans.len() as f64,
        "the survivor swept {swept} events, the killed replica left {}",
        orphans.len()
    );
    for id in &orphans {
        let applied = env
            .warehouse_count(
                "SELECT COUNT(*) FROM applied_production_orders WHERE restock_request_id = ?",
                id,
            )
            .await;
        assert_eq!(applied, 1, "orphaned restock request {id} applied once");
    }
    env.assert_exactly_once().await;
    stop_all(stack, env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_factory_killed_mid_production_completes_every_order_once_after_restart() {
    let mut env = TestEnv::new().await;
    let mut stack = env
        .start_replicas(2, |l| set(l, Service::Factory, "FACTORY_PRODUCTION_SECONDS", "4"))
        .await;
    let skus = env.add_products("K9F", 12, 0, 5).await;

    let answers = env.buy_each(&skus).await;
    assert!(answers.iter().all(|a| a.status == 409), "{answers:?}");
    eventually("every production order placed", Duration::from_secs(60), || async {
        (env.factory_scalar("SELECT COUNT(*) FROM production_orders").await == 12).then_some(())
    })
    .await;
    let in_production = env
        .factory_scalar("SELECT COUNT(*) FROM production_orders WHERE completed_at IS NULL")
        .await;
    assert!(in_production > 0, "orders are still in production");
    let killed_at = Instant::now();
    kill_replicas(&mut stack, Service::Factory, 2).await;
    assert!(!listening(stack.launcher.ports.factory), "no factory process is left");
    let unfinished = env
        .factory_scalar("SELECT COUNT(*) FROM production_orders WHERE completed_at IS NULL")
        .await;
    assert!(unfinished > 0, "the crash left orders unfinished");

    relaunch_replicas(&mut stack, Service::Factory, 2).await;
    env.settle(SETTLE).await;
    println!(
        "factory down with {unfinished} orders unfinished; all restocked {:.1} s after the crash",
        killed_at.elapsed().as_secs_f64()
    );
    assert_eq!(
        env.factory_scalar("SELECT COUNT(*) FROM production_orders").await,
        12,
        "no order was placed twice"
    );
    env.assert_exactly_once().await;
    env.assert_each_stock(&skus, 5).await;
    stop_all(stack, env, Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_message_is_published_again_past_the_bound_and_the_factory_announces_again() {
    let mut env = TestEnv::new().await;
    let mut stack = env
        .start_replicas(2, |l| set_all(l, "RESTOCK_REPUBLISH_SECONDS", "4"))
        .await;
    // stock_empty lost: no stock-worker reads the queue while it is purged.
    kill_replicas(&mut stack, Service::StockWorker, 2).await;
    let lost_order = env.add_products("LOST-ORDER", 1, 0, 4).await;
    assert_eq!(env.purchase(json!({"sku": lost_order[0], "quantity": 1})).await.0, 409);
    eventually("the stock_empty event published", Duration::from_secs(30), || async {
        (env.queue_depth(names::STOCK_QUEUE).await == 1).then_some(())
    })
    .await;
    purge(&env, names::STOCK_QUEUE).await;
    assert_eq!(env.queue_depth(names::STOCK_QUEUE).await, 0, "the message is gone");
    // Kept open for two more bounds (nobody reads stock_queue): republished twice, no more.
    eventually("the event republished twice", Duration::from_secs(40), || async {
        (events_of(&env, &lost_order[0]).await >= 3).then_some(())
    })
    .await;
    relaunch_replicas(&mut stack, Service::StockWorker, 2).await;

    // stock_arrival lost: the factory completed the order, its completion never applied.
    kill_replicas(&mut stack, Service::StockIncWorker, 2).await;
    let lost_arrival = env.add_products("LOST-ARRIVAL", 1, 0, 6).await;
    assert_eq!(
        env.purchase(json!({"sku": lost_arrival[0], "quantity": 1})).await.0,
        409
    );
    eventually("the factory completed the order", Duration::from_secs(30), || async {
        (env.queue_depth(names::STOCK_INC_QUEUE).await >= 1).then_some(())
    })
    .await;
    purge(&env, names::STOCK_INC_QUEUE).await;
    relaunch_replicas(&mut stack, Service::StockIncWorker, 2).await;

    env.settle(SETTLE).await;
    assert_eq!(env.stock(&lost_order[0]).await, 4);
    assert_eq!(env.stock(&lost_arrival[0]).await, 6);
    let events = events_of(&env, &lost_order[0]).await;
    assert!(events >= 3, "the lost stock_empty was enqueued again ({events} events)");
    // The upper bound, across both replicas' republishers: a request's next event is
    // written only once its previous one has been published for a whole bound, so any
    // replica's republish after the publish and within the bound is caught here.
    const BOUND_MICROS: i64 = 4_000_000;
    let mut conn = env.warehouse().await.get_conn().await.unwrap();
    for sku in [&lost_order[0], &lost_arrival[0]] {
        let (events, closest, span): (i64, Option<i64>, i64) = conn
            .exec_first(
                "SELECT COUNT(*), MIN(after_publish), \
                        TIMESTAMPDIFF(MICROSECOND, MIN(created_at), MAX(created_at)) \
                 FROM (SELECT created_at, TIMESTAMPDIFF(MICROSECOND, \
                              LAG(published_at) OVER (ORDER BY id), created_at) AS after_publish \
                       FROM outbox WHERE topic = 'stock_empty' AND payload LIKE CONCAT('%', ?, '%')) e",
                (sku,),
            )
            .await
            .unwrap()
            .unwrap();
        println!(
            "{sku}: {events} stock_empty events over {span} µs; the soonest written {closest:?} µs \
             after its predecessor was published"
        );
        let closest = closest.unwrap_or_else(|| panic!("{sku}: never republished ({events} event)"));
        let timeline: Vec<(u64, String, Option<String>)> = conn
            .exec(
                "SELECT id, CAST(created_at AS CHAR), CAST(published_at AS CHAR) FROM outbox \
                 WHERE topic = 'stock_empty' AND payload LIKE CONCAT('%', ?, '%') ORDER BY id",
                (sku,),
            )
            .await
            .unwrap();
        assert!(
            closest >= BOUND_MICROS,
            "{sku}: an event written {closest} µs after the previous one was published, within one 4 s bound \
             (id, written, published): {timeline:?}"
        );
        assert!(
            (events - 1) * BOUND_MICROS <= span,
            "{sku}: {} republishes in {span} µs, more than one per 4 s bound",
            events - 1
        );
    }
    drop(conn);
    let announced = env
        .factory_scalar(
            "SELECT COUNT(*) FROM outbox o JOIN production_orders p ON o.aggregate_id = p.id \
             WHERE p.product_id LIKE 'LOST-ARRIVAL%'",
        )
        .await;
    assert!(
        announced >= 2,
        "the factory published the completion again ({announced} events)"
    );
    env.assert_exactly_once().await;
    stop_all(stack, env, Duration::from_secs(20)).await;
}

/// The `stock_empty` events written for `sku`'s restock request.
async fn events_of(env: &TestEnv, sku: &str) -> i64 {
    env.warehouse_count(
        "SELECT COUNT(*) FROM outbox WHERE topic = 'stock_empty' AND payload LIKE CONCAT('%', ?, '%')",
        sku,
    )
    .await
}

/// Empties a queue of this test's topology, as a broker losing its messages would.
async fn purge(env: &TestEnv, base: &str) {
    env.sqs
        .purge_queue()
        .queue_url(env.queue_url(base).await)
        .send()
        .await
        .expect("purge");
    eventually("the purge took effect", Duration::from_secs(30), || async {
        (env.queue_depth(base).await == 0).then_some(())
    })
    .await;
}
