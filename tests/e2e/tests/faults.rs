//! Delivery guarantees under faults, each broken on purpose: a failing or hanging
//! factory, a factory gone for good, duplicate and malformed messages, and killed
//! database connections.

use std::time::Duration;

use futures::future::join_all;
use mysql_async::prelude::Queryable;
use serde_json::json;
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, attribute, eventually};

const RESTOCK_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn factory_errors_are_retried_and_the_order_arrives_once() {
    let env = TestEnv::running_all().await;
    env.arm_factory_faults(json!({"fail_next": 2, "status": 500})).await;
    env.ran_out("RETRY-1", 4).await;

    eventually("restocked after the factory recovered", RESTOCK_DEADLINE, || async {
        (env.stock("RETRY-1").await == 4).then_some(())
    })
    .await;
    assert_eq!(env.production_orders("RETRY-1").await, 1);
    assert_eq!(env.queue_depth(names::STOCK_DLQ).await, 0, "nothing dead-lettered");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_slower_than_the_timeout_still_makes_one_order() {
    let env = TestEnv::running_all().await;
    // Longer than the worker's 2 s timeout: the first call times out and is retried
    // with the same Idempotency-Key.
    env.arm_factory_faults(json!({"delay_ms": 3000})).await;
    env.add_product("SLOW-1", 0, 3).await;

    env.purchase(json!({"sku": "SLOW-1", "quantity": 1})).await;
    // The factory finishes the slow request after the worker gave up on it.
    eventually(
        "the slow request recorded an order",
        Duration::from_secs(20),
        || async { (env.production_orders("SLOW-1").await == 1).then_some(()) },
    )
    .await;
    env.arm_factory_faults(json!({"delay_ms": 0})).await;

    eventually("restocked", RESTOCK_DEADLINE, || async {
        (env.stock("SLOW-1").await == 3).then_some(())
    })
    .await;
    // The fault happened: the worker's call timed out (counted as unavailable), and after
    // its back-off it called again with the same Idempotency-Key (the factory replayed the
    // order it had finished meanwhile, and announced its completion again).
    let factory = env.factory_url.clone().expect("factory started");
    let metrics = eventually("the retry reached the factory", Duration::from_secs(30), || async {
        let metrics = env.get_text(&format!("{factory}/metrics")).await;
        let replayed = stockflow_e2e::metrics::sum(&metrics, r#"production_orders_total{result="replayed""#);
        (replayed >= 1.0).then_some(metrics)
    })
    .await;
    let timed_out =
        stockflow_e2e::metrics::sum(&metrics, r#"factory_call_duration_seconds_count{outcome="unavailable""#);
    assert!(timed_out >= 1.0, "the worker's call timed out: {metrics}");
    env.settle(RESTOCK_DEADLINE).await;
    assert_eq!(env.stock("SLOW-1").await, 3, "restocked once");
    assert_eq!(env.production_orders("SLOW-1").await, 1);
    assert_eq!(env.applied_orders("SLOW-1").await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_factory_down_for_good_dead_letters_after_max_receive_count() {
    let mut env = TestEnv::running_sales().await;
    env.start_stock_worker().await; // no factory: its URL points at a closed port
    env.add_product("DOWN-1", 0, 2).await;

    let (_, body) = env.purchase(json!({"sku": "DOWN-1", "quantity": 1})).await;
    let restock_id = body["restock_request_id"].as_str().unwrap().to_string();

    let dead = eventually("the message in dead_letter_queue", RESTOCK_DEADLINE, || async {
        env.peek(names::STOCK_DLQ).await.into_iter().next()
    })
    .await;
    assert_eq!(
        attribute(&dead, "failure_attempts").as_deref(),
        Some("3"),
        "maxReceiveCount of the test topology"
    );
    assert_eq!(
        attribute(&dead, "failure_kind").as_deref(),
        Some("final_attempt_failed")
    );
    assert!(
        attribute(&dead, "failure_reason").unwrap().contains("calling"),
        "{dead:?}"
    );
    assert!(dead.body().unwrap().contains(&restock_id));

    let alert = eventually("an ops alert", Duration::from_secs(20), || async {
        env.ops_alerts().await.into_iter().next()
    })
    .await;
    assert_eq!(alert["kind"], "final_attempt_failed");
    assert_eq!(alert["sku"], "DOWN-1");
    assert_eq!(alert["restock_request_id"], restock_id.as_str());
    assert_eq!(alert["attempts"], 3);
    assert_eq!(alert["now_in"], env.resources.name(names::STOCK_DLQ).as_str());
    assert_eq!(env.queue_depth(names::STOCK_QUEUE).await, 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_stock_arrival_twice_raises_stock_once() {
    let mut env = TestEnv::selling("DUP-1", 0, 5).await;
    env.start_stock_inc_worker().await;
    let arrival = stockflow_e2e::arrival("DUP-1", Some(RestockRequestId::new()), 5);

    env.publish(&arrival).await;
    env.publish(&arrival).await;

    // Both copies handled (the process's recorder holds stock-inc-worker's counters; sales
    // renders them), the second one seen as a duplicate: only then is the stock final.
    let handled = format!(
        r#"messages_handled_total{{queue="{}",result="processed""#,
        env.resources.name(names::STOCK_INC_QUEUE)
    );
    eventually("both deliveries handled", RESTOCK_DEADLINE, || async {
        let count = stockflow_e2e::metrics::scrape(&env.http, &env.sales(""), &handled).await;
        (count >= 2.0 && env.queue_depth(names::STOCK_INC_QUEUE).await == 0).then_some(())
    })
    .await;
    let metrics = env.get_text(&env.sales("/metrics")).await;
    assert_eq!(
        stockflow_e2e::metrics::sum(&metrics, &handled),
        2.0,
        "two copies, each handled once"
    );
    assert_eq!(env.stock("DUP-1").await, 5, "stock rose once");
    assert_eq!(env.applied_orders("DUP-1").await, 1);
    assert_eq!(env.queue_depth(names::STOCK_INC_DLQ).await, 0);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_are_dead_lettered_at_once_and_the_rest_flows() {
    let env = TestEnv::running_all().await;
    env.add_product("GOOD-1", 0, 2).await;

    env.send_raw(names::STOCK_QUEUE, "this is not an event").await;
    env.send_raw(names::STOCK_INC_QUEUE, r#"{"sku": "GOOD-1"}"#).await;
    let unknown = stockflow_e2e::arrival("NO-SUCH-SKU", None, 1);
    env.publish(&unknown).await;
    env.purchase(json!({"sku": "GOOD-1", "quantity": 1})).await;

    eventually("the good restock completes", RESTOCK_DEADLINE, || async {
        (env.stock("GOOD-1").await == 2).then_some(())
    })
    .await;
    let stock_dlq = eventually("stock DLQ holds the garbage", Duration::from_secs(20), || async {
        Some(env.peek(names::STOCK_DLQ).await).filter(|m| !m.is_empty())
    })
    .await;
    assert_eq!(stock_dlq.len(), 1);
    assert_eq!(stock_dlq[0].body(), Some("this is not an event"));
    assert_eq!(
        attribute(&stock_dlq[0], "failure_attempts").as_deref(),
        Some("1"),
        "on the first receive"
    );
    assert_eq!(
        attribute(&stock_dlq[0], "failure_kind").as_deref(),
        Some("dead_lettered")
    );
    assert!(
        attribute(&stock_dlq[0], "failure_reason")
            .unwrap()
            .contains("malformed")
    );

    let inc_dlq = eventually(
        "stock-inc DLQ holds both bad arrivals",
        Duration::from_secs(20),
        || async { Some(env.peek(names::STOCK_INC_DLQ).await).filter(|m| m.len() == 2) },
    )
    .await;
    let reasons: Vec<String> = inc_dlq
        .iter()
        .map(|m| attribute(m, "failure_reason").unwrap())
        .collect();
    assert!(reasons.iter().any(|r| r.contains("malformed")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("unknown sku")), "{reasons:?}");
    assert!(
        inc_dlq
            .iter()
            .all(|m| attribute(m, "failure_attempts").as_deref() == Some("1"))
    );
    assert!(env.invariant().await.holds());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_database_connections_lose_no_sale() {
    let env = TestEnv::selling("KILL-1", 100, 10).await;
    let pool = env.warehouse().await;
    let mut observer = pool.get_conn().await.unwrap();
    // Hold the product row, so that the checkouts wait inside their transaction...
    let mut holder = env.holding_products(&pool, &["KILL-1"]).await;
    let buyers: Vec<_> = (0..5)
        .map(|_| {
            let (http, url) = (env.http.clone(), env.sales("/checkout"));
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .json(&json!({"sku": "KILL-1", "quantity": 1}))
                    .send()
                    .await
                    .expect("sales answers");
                let retry_after = response.headers().get("retry-after").cloned();
                (response.status().as_u16(), retry_after)
            })
        })
        .collect();
    // ...then kill the connection of every checkout transaction that waits on the row,
    // until every purchase has its answer: the purchases share transactions (the first
    // goes alone, the others queue meanwhile and share the next), so each killed
    // connection fails every purchase of its batch.
    let mut killed = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !buyers.iter().all(|buyer| buyer.is_finished()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the purchases never all answered"
        );
        for id in env.warehouse_connections(&mut observer, "SELECT p.sku, p.stock").await {
            if killed.insert(id) {
                observer.query_drop(format!("KILL {id}")).await.unwrap();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!killed.is_empty(), "a checkout connection was killed mid-statement");
    eventually("the killed connections are gone", Duration::from_secs(10), || async {
        let mut conn = pool.get_conn().await.ok()?;
        let left = env.warehouse_connections(&mut conn, "").await;
        killed.is_disjoint(&left).then_some(())
    })
    .await;
    holder.query_drop("COMMIT").await.unwrap();

    let answers: Vec<_> = join_all(buyers).await.into_iter().map(Result::unwrap).collect();
    assert!(
        answers
            .iter()
            .all(|(status, retry_after)| *status == 503 && retry_after.is_some()),
        "each purchase whose connection was killed is answered 503 with Retry-After: {answers:?}"
    );
    assert_eq!(
        env.orders("KILL-1").await,
        0,
        "a purchase answered 503 was not recorded"
    );
    assert_eq!(env.stock("KILL-1").await, 100, "nothing was sold");
    // Sales replaces the dead connections by itself.
    eventually("sales sells again", Duration::from_secs(20), || async {
        (env.purchase(json!({"sku": "KILL-1", "quantity": 1})).await.0 == 200).then_some(())
    })
    .await;
    let ready = env.http.get(env.sales("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(env.invariant().await.holds());
    drop((observer, holder));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_aws_unreachable_sales_answers_and_publishes_once_it_returns() {
    let mut env = TestEnv::new().await;
    let localstack = env.aws.aws_endpoint_url.trim_start_matches("http://").to_string();
    let cutoff = stockflow_e2e::cutoff::Cutoff::start(&localstack).await;
    let mut settings = env.sales_settings();
    settings.service.aws.aws_endpoint_url = cutoff.url();
    env.start_sales_with(settings).await;
    env.start_factory().await;
    env.start_stock_inc_worker().await;
    env.start_stock_worker().await;
    let skus: Vec<String> = (0..5).map(|i| format!("DARK-{i}")).collect();
    for sku in &skus {
        env.add_product(sku, 0, 3).await;
    }

    cutoff.cut();
    eventually("/ready reports SNS unreachable", Duration::from_secs(30), || async {
        let response = env.http.get(env.sales("/ready")).send().await.ok()?;
        let body: serde_json::Value = response.json().await.ok()?;
        (body["status"] == "not_ready" && body["checks"]["sns"] != "ok" && body["checks"]["database"] == "ok")
            .then_some(())
    })
    .await;
    for sku in &skus {
        let (status, body) = env.purchase(json!({"sku": sku, "quantity": 1})).await;
        assert_eq!(status, 409, "purchases still answer correctly: {body}");
    }
    let pending = env
        .warehouse_count(
            "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND topic <> ?",
            "",
        )
        .await;
    assert_eq!(pending, 5, "every stock_empty event waits in the outbox");

    cutoff.restore();
    for sku in &skus {
        eventually("restocked after AWS returned", RESTOCK_DEADLINE, || async {
            (env.stock(sku).await == 3).then_some(())
        })
        .await;
    }
    let unpublished = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND topic <> ?";
    env.assert_warehouse(unpublished, "", 0).await;
    let production_orders_like = "SELECT COUNT(*) FROM production_orders WHERE product_id LIKE ?";
    env.assert_factory(production_orders_like, "DARK-%", 5).await;
    let ready = env.http.get(env.sales("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "ready again without a restart");
    assert!(env.invariant().await.holds());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_past_its_visibility_timeout_is_not_delivered_twice() {
    let mut env = TestEnv::new().await;
    let factory = env.start_factory().await;
    env.start_sales().await;
    env.start_stock_inc_worker().await;
    // The factory takes 4.5 s, more than twice the 2 s visibility timeout: only the
    // worker's visibility extension keeps SQS from handing the message out again.
    env.arm_factory_faults(json!({"delay_ms": 4500})).await;
    let mut settings = env.stock_worker_settings();
    settings.worker.worker_visibility_seconds = 2;
    settings.factory_timeout_ms = 10_000;
    env.start_stock_worker_with(settings).await;
    env.add_product("HOLD-1", 0, 2).await;

    env.purchase(json!({"sku": "HOLD-1", "quantity": 1})).await;

    eventually("restocked", RESTOCK_DEADLINE, || async {
        (env.stock("HOLD-1").await == 2).then_some(())
    })
    .await;
    let metrics = env.get_text(&format!("{factory}/metrics")).await;
    assert!(
        metrics.contains(r#"production_orders_total{result="created"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"result="replayed""#),
        "the factory was called once: {metrics}"
    );
    env.stop().await;
}
