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
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(90);

fn arrival(sku: &str) -> StockArrival {
    StockArrival {
        production_order_id: Uuid::new_v4(),
        restock_request_id: Some(RestockRequestId::new()),
        sku: sku.into(),
        quantity: 1,
        ordered_at: Utc::now(),
        produced_at: Utc::now(),
    }
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

async fn production_orders(env: &TestEnv, sku: &str) -> i64 {
    env.factory_count("SELECT COUNT(*) FROM production_orders WHERE product_id = ?", sku)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_inc_worker_killed_mid_batch_applies_every_arrival_exactly_once() {
    let mut env = TestEnv::new().await;
    env.start_sales().await; // migrates the warehouse
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
    assert_eq!(
        env.warehouse_count("SELECT COUNT(*) FROM applied_production_orders WHERE sku = ?", "K9-INC")
            .await,
        150
    );
    assert!(env.invariant().await.holds());
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_worker_killed_while_calling_the_factory_orders_each_restock_once() {
    let mut env = TestEnv::new().await;
    let factory = env.start_factory().await;
    env.arm_factory_faults(json!({"delay_ms": 200})).await; // keeps calls in flight
    for _ in 0..30 {
        env.publish(&shortage("K9-ORDER")).await;
    }

    let worker = ServiceProcess::start(
        &env,
        "stock-worker",
        &[("FACTORY_URL", factory.clone()), ("WORKER_CONCURRENCY", "4".into())],
    );
    eventually("some orders placed", DEADLINE, || async {
        (production_orders(&env, "K9-ORDER").await >= 4).then_some(())
    })
    .await;
    worker.kill_9().await;
    assert!(
        production_orders(&env, "K9-ORDER").await < 30,
        "killed before it finished"
    );

    let restarted = ServiceProcess::start(&env, "stock-worker", &[("FACTORY_URL", factory)]);
    let ordered = eventually("the queue drained", DEADLINE, || async {
        (env.queue_depth(names::STOCK_QUEUE).await == 0).then_some(())
    })
    .then(|_| production_orders(&env, "K9-ORDER"))
    .await;
    let dead_lettered = env.queue_depth(names::STOCK_DLQ).await;
    assert_eq!((ordered, dead_lettered), (30, 0), "(production orders, dead-lettered)");
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_messages_in_hand_and_exits_cleanly() {
    let mut env = TestEnv::new().await;
    let factory = env.start_factory().await;
    env.arm_factory_faults(json!({"delay_ms": 1500})).await;
    for _ in 0..6 {
        env.publish(&shortage("TERM-1")).await;
    }
    let worker = ServiceProcess::start(
        &env,
        "stock-worker",
        &[
            ("FACTORY_URL", factory.clone()),
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
    let ordered_at_sigterm = production_orders(&env, "TERM-1").await;

    let status = worker.terminate(Duration::from_secs(15)).await;
    assert!(status.success(), "clean exit, got {status:?}");
    let ordered_at_exit = production_orders(&env, "TERM-1").await;
    let (_, hidden_at_exit) = env.visible_and_hidden(names::STOCK_QUEUE).await;
    // The fault happened: messages were in hand when SIGTERM came, and their factory
    // calls (1.5 s each) were still running; the worker finished them before it exited.
    assert!(
        ordered_at_exit > ordered_at_sigterm,
        "{held} messages in hand at SIGTERM; orders placed {ordered_at_sigterm} then, {ordered_at_exit} at exit"
    );
    assert_eq!(hidden_at_exit, 0, "no message was left in hand (hidden) at exit");

    env.arm_factory_faults(json!({"delay_ms": 0})).await;
    let restarted = ServiceProcess::start(&env, "stock-worker", &[("FACTORY_URL", factory)]);
    eventually("every restock ordered", DEADLINE, || async {
        (production_orders(&env, "TERM-1").await == 6 && env.queue_depth(names::STOCK_QUEUE).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        production_orders(&env, "TERM-1").await,
        6,
        "nothing lost, nothing doubled"
    );
    restarted.terminate(Duration::from_secs(15)).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_checkout_in_flight_finish() {
    use mysql_async::prelude::Queryable;
    let mut env = TestEnv::new().await;
    env.start_sales().await; // migrates the warehouse
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
    let mut holder = pool.get_conn().await.unwrap();
    holder.query_drop("BEGIN").await.unwrap();
    holder
        .query_drop("SELECT stock FROM products WHERE sku = 'TERM-S' FOR UPDATE")
        .await
        .unwrap();
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
