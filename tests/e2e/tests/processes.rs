//! Faults only a real process can have: `kill -9` while holding messages, and
//! SIGTERM during processing. Nothing may be lost or doubled.

use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use serde_json::json;
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::{StockArrival, StockEmpty};
use stockflow_contracts::names;
use stockflow_e2e::process::ServiceProcess;
use stockflow_e2e::{TestEnv, eventually};

const DEADLINE: Duration = Duration::from_secs(90);

/// A production order for a restock request of its own: one unit of `sku`.
fn arrival(sku: &str) -> StockArrival {
    stockflow_e2e::arrival(sku, Some(RestockRequestId::new()), 1)
}

fn shortage(sku: &str) -> StockEmpty {
    StockEmpty {
        restock_request_id: RestockRequestId::new(),
        sku: sku.into(),
        quantity: 1,
        factory_id: "FF-TEST".into(),
        requester: "test".into(),
        requested_at: Utc::now(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_inc_worker_killed_mid_batch_applies_every_arrival_exactly_once() {
    let env = TestEnv::running_sales().await; // migrates the warehouse
    env.add_product("K9-INC", 0, 1).await;
    for _ in 0..150 {
        env.publish(&arrival("K9-INC")).await;
    }

    let worker = ServiceProcess::start(&env, "stock-inc-worker", &[("WORKER_CONCURRENCY", "4".into())]);
    eventually("some arrivals applied", DEADLINE, || async {
        (env.stock("K9-INC").await >= 10).then_some(())
    })
    .await;
    worker.kill_9().await;
    assert!(env.stock("K9-INC").await < 150, "killed before it finished");

    let restarted = ServiceProcess::start(&env, "stock-inc-worker", &[]);
    eventually("all 150 applied", DEADLINE, || async {
        (env.stock("K9-INC").await == 150 && env.queue_depth(names::STOCK_INC_QUEUE).await == 0).then_some(())
    })
    .await;
    assert_eq!(env.stock("K9-INC").await, 150, "each arrival added once");
    assert_eq!(env.applied_orders("K9-INC").await, 150);
    assert!(env.invariant().await.holds());
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

/// A world running only the factory, which answers each call after `delay_ms`, and
/// `count` shortages of `sku` waiting in stock_queue for a stock-worker: the world and the
/// factory's URL.
async fn slow_factory_with_shortages(delay_ms: u64, sku: &str, count: usize) -> (TestEnv, String) {
    let mut env = TestEnv::new().await;
    let factory = env.start_factory().await;
    env.arm_factory_faults(json!({ "delay_ms": delay_ms })).await;
    for _ in 0..count {
        env.publish(&shortage(sku)).await;
    }
    (env, factory)
}

/// A stock-worker process calling the factory at `factory`, with the variables `extra`.
fn stock_worker(env: &TestEnv, factory: &str, extra: &[(&str, String)]) -> ServiceProcess {
    let mut variables = vec![("FACTORY_URL", factory.to_string())];
    variables.extend_from_slice(extra);
    ServiceProcess::start(env, "stock-worker", &variables)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_worker_killed_while_calling_the_factory_orders_each_restock_once() {
    // The factory's delay keeps calls in flight.
    let (env, factory) = slow_factory_with_shortages(200, "K9-ORDER", 30).await;

    let worker = stock_worker(&env, &factory, &[("WORKER_CONCURRENCY", "4".into())]);
    eventually("some orders placed", DEADLINE, || async {
        (env.production_orders("K9-ORDER").await >= 4).then_some(())
    })
    .await;
    worker.kill_9().await;
    assert!(
        env.production_orders("K9-ORDER").await < 30,
        "killed before it finished"
    );

    let restarted = stock_worker(&env, &factory, &[]);
    let ordered = eventually("the queue drained", DEADLINE, || async {
        (env.queue_depth(names::STOCK_QUEUE).await == 0).then_some(())
    })
    .then(|_| env.production_orders("K9-ORDER"))
    .await;
    let dead_lettered = env.queue_depth(names::STOCK_DLQ).await;
    assert_eq!((ordered, dead_lettered), (30, 0), "(production orders, dead-lettered)");
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_messages_in_hand_and_exits_cleanly() {
    let (env, factory) = slow_factory_with_shortages(1500, "TERM-1", 6).await;
    let worker = stock_worker(
        &env,
        &factory,
        &[
            ("WORKER_SHUTDOWN_SECONDS", "10".into()),
            ("FACTORY_TIMEOUT_MS", "5000".into()),
            // A message abandoned at exit would stay hidden this long: longer than the test
            // looks, so "none hidden after exit" means every one in hand was finished.
            ("WORKER_VISIBILITY_SECONDS", "60".into()),
        ],
    );
    let held = eventually("messages in hand", DEADLINE, || async {
        let (_, hidden) = env.visible_and_hidden(names::STOCK_QUEUE).await;
        (hidden > 0).then_some(hidden)
    })
    .await;
    let ordered_at_sigterm = env.production_orders("TERM-1").await;

    let status = worker.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "clean exit, got {status:?}");
    let ordered_at_exit = env.production_orders("TERM-1").await;
    let (_, hidden_at_exit) = env.visible_and_hidden(names::STOCK_QUEUE).await;
    // The fault happened: messages were in hand when SIGTERM came, and their factory
    // calls (1.5 s each) were still running; the worker finished them before it exited.
    assert!(
        ordered_at_exit > ordered_at_sigterm,
        "{held} messages in hand at SIGTERM; orders placed {ordered_at_sigterm} then, {ordered_at_exit} at exit"
    );
    assert_eq!(hidden_at_exit, 0, "no message was left in hand (hidden) at exit");

    env.arm_factory_faults(json!({"delay_ms": 0})).await;
    let restarted = stock_worker(&env, &factory, &[]);
    eventually("every restock ordered", DEADLINE, || async {
        (env.production_orders("TERM-1").await == 6 && env.queue_depth(names::STOCK_QUEUE).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        env.production_orders("TERM-1").await,
        6,
        "nothing lost, nothing doubled"
    );
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_checkout_in_flight_finish() {
    use mysql_async::prelude::Queryable;
    let env = TestEnv::running_sales().await; // migrates the warehouse
    env.add_product("TERM-S", 5, 10).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sales = ServiceProcess::start(&env, "sales", &[("SALES_PORT", port.to_string())]);
    let url = format!("http://127.0.0.1:{port}");
    eventually("the sales process answers", DEADLINE, || async {
        env.http.get(format!("{url}/health")).send().await.ok().map(|_| ())
    })
    .await;

    // Hold the product row so that a purchase is still in flight when SIGTERM arrives.
    let pool = env.warehouse().await;
    let mut observer = pool.get_conn().await.unwrap();
    let mut holder = env.holding_products(&pool, &["TERM-S"]).await;
    let purchase = env
        .http
        .post(format!("{url}/checkout"))
        .json(&json!({"sku": "TERM-S", "quantity": 1}))
        .send();
    let purchase = tokio::spawn(purchase);
    env.await_waiting(&mut observer, "SELECT p.sku, p.stock", 1).await;

    let stopping = tokio::spawn(sales.terminate(Duration::from_secs(20)));
    eventually("sales refuses new connections", DEADLINE, || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
            .then_some(())
    })
    .await;
    holder.query_drop("COMMIT").await.unwrap();

    let answer = purchase.await.unwrap().expect("the purchase in flight is answered");
    assert_eq!(answer.status().as_u16(), 200, "sold before stopping");
    let status = stopping.await.unwrap();
    assert!(status.success(), "clean exit, got {status:?}");
    assert_eq!(env.stock("TERM-S").await, 4, "sold once");
    env.stop().await;
}
