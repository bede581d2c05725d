//! Exactly once by the schema, end to end through SNS: a second production order for a
//! restock request another order fulfilled (a factory that lost its database, a second
//! factory) adds no stock. It is recorded, counted, alerted on `ops_alerts` and shown by
//! `stockctl status` and `stockctl alerts`, whether it arrives after the first or races
//! it. A legacy order that names no request is applied once per production order.

use std::time::Duration;

use serde_json::Value;
use stockflow_contracts::events::{ATTR_EVENT_TYPE, Event, SurplusArrival};
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, arrival, attribute, ctl, eventually};

const DEADLINE: Duration = Duration::from_secs(60);

/// The surplus alerts waiting in `ops_alert_queue` (left in place).
async fn surplus_alerts(env: &TestEnv) -> Vec<SurplusArrival> {
    env.peek(names::OPS_ALERT_QUEUE)
        .await
        .iter()
        .filter(|m| attribute(m, ATTR_EVENT_TYPE).as_deref() == Some(SurplusArrival::TYPE))
        .filter_map(|m| serde_json::from_str(m.body()?).ok())
        .collect()
}

/// Every delivery of `stock_inc_queue` handled: none visible, none in flight.
async fn drained(env: &TestEnv) -> bool {
    env.visible_and_hidden(names::STOCK_INC_QUEUE).await == (0, 0)
}

async fn surplus_counted(env: &TestEnv) -> f64 {
    stockflow_e2e::metrics::sum(
        &env.get_text(&env.sales("/metrics")).await,
        "stock_arrivals_surplus_total",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_production_order_for_a_fulfilled_request_is_alerted_and_not_applied() {
    let env = TestEnv::running_all().await;
    let request = env.ran_out("SURPLUS-1", 5).await;
    // The pipeline restocks it through the factory: the request is fulfilled.
    eventually("restocked to 5 by the factory", DEADLINE, || async {
        (env.stock("SURPLUS-1").await == 5 && drained(&env).await).then_some(())
    })
    .await;
    let first_order: String = env
        .warehouse_first(
            "SELECT production_order_id FROM restock_requests WHERE id = ? AND fulfilled_at IS NOT NULL",
            (request.to_string(),),
        )
        .await
        .expect("the request is fulfilled");

    // A second production order for the same request, as a factory that lost its
    // database would announce it.
    let second = arrival("SURPLUS-1", Some(request), 5);
    env.publish(&second).await;

    let alerts = eventually("the surplus alert on ops_alert_queue", DEADLINE, || async {
        Some(surplus_alerts(&env).await).filter(|a| !a.is_empty())
    })
    .await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert.production_order_id, second.production_order_id);
    assert_eq!(alert.restock_request_id, request);
    assert_eq!(alert.fulfilled_by.map(|id| id.to_string()), Some(first_order));
    assert_eq!((alert.sku.as_str(), alert.quantity), ("SURPLUS-1", 5));
    eventually("the delivery handled", DEADLINE, || async {
        drained(&env).await.then_some(())
    })
    .await;
    assert_eq!(env.stock("SURPLUS-1").await, 5, "the second order added nothing");
    let alerted = "SELECT COUNT(*) FROM surplus_arrivals WHERE sku = ? AND alerted_at IS NOT NULL";
    let surplus_alerted = env.warehouse_count(alerted, "SURPLUS-1").await;
    assert_eq!(surplus_alerted, 1, "recorded, and its alert marked as sent");
    assert_eq!(surplus_counted(&env).await, 1.0, "counted once");
    assert_eq!(
        env.queue_depth(names::STOCK_INC_DLQ).await,
        0,
        "not a failure: no dead letter"
    );

    // The operator sees it in `status` and in `alerts`.
    let (code, status) = ctl::run(&env, &["--json", "status"]).await;
    assert_eq!(code, 0);
    let status: Value = serde_json::from_str(&status).unwrap();
    let order = second.production_order_id.to_string();
    assert_eq!(
        status["surplus"][0]["production_order_id"],
        order.as_str(),
        "{status:#}"
    );
    assert!(
        status["attention"].as_array().unwrap().iter().any(|line| line
            .as_str()
            .unwrap()
            .contains(&format!("stockctl surplus settle {order}"))),
        "{status:#}"
    );
    let (code, inbox) = ctl::run(&env, &["alerts"]).await;
    assert_eq!(code, 0);
    assert!(inbox.contains("SURPLUS") && inbox.contains(&order), "{inbox}");

    // A person keeps the goods: they are added once, and the books balance.
    let (code, settled) = ctl::run(&env, &["surplus", "settle", &order, "--keep"]).await;
    assert_eq!(code, 0, "{settled}");
    assert_eq!(env.stock("SURPLUS-1").await, 10);
    let (code, again) = ctl::run(&env, &["surplus", "settle", &order, "--return"]).await;
    assert_eq!(code, 0);
    assert!(again.contains("already settled as kept"), "{again}");
    assert_eq!(env.stock("SURPLUS-1").await, 10);
    assert!(env.invariant().await.holds(), "{:?}", env.invariant().await);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_production_orders_racing_for_one_request_apply_once_and_alert_once() {
    let mut env = TestEnv::running_sales().await;
    env.start_stock_inc_worker().await;
    let request = env.ran_out("SURPLUS-2", 5).await;
    let (first, second) = (
        arrival("SURPLUS-2", Some(request), 5),
        arrival("SURPLUS-2", Some(request), 5),
    );
    tokio::join!(env.publish(&first), env.publish(&second));

    let alerts = eventually("both handled, one alerted", DEADLINE, || async {
        let alerts = surplus_alerts(&env).await;
        (drained(&env).await && !alerts.is_empty()).then_some(alerts)
    })
    .await;
    assert_eq!(env.stock("SURPLUS-2").await, 5, "one order applied");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let (applied, surplus) = (&alerts[0].fulfilled_by, alerts[0].production_order_id);
    let orders = [first.production_order_id, second.production_order_id];
    assert!(orders.contains(&surplus) && applied.is_some_and(|a| orders.contains(&a) && a != surplus));
    assert_eq!(env.applied_orders("SURPLUS-2").await, 1);
    env.assert_warehouse("SELECT COUNT(*) FROM surplus_arrivals WHERE sku = ?", "SURPLUS-2", 1)
        .await;
    assert_eq!(surplus_counted(&env).await, 1.0);
    assert!(env.invariant().await.holds());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_order_without_a_request_is_applied_once_and_so_is_the_next() {
    let mut env = TestEnv::selling("LEGACY-1", 0, 5).await;
    env.start_stock_inc_worker().await;
    // A legacy client orders from the factory directly with a repeated group id: the
    // factory announces no restock request. The first order is delivered twice.
    let (first, next) = (arrival("LEGACY-1", None, 2), arrival("LEGACY-1", None, 3));
    env.publish(&first).await;
    env.publish(&first).await;
    env.publish(&next).await;

    eventually("all three deliveries handled", DEADLINE, || async {
        (env.stock("LEGACY-1").await == 5 && drained(&env).await).then_some(())
    })
    .await;
    assert_eq!(env.stock("LEGACY-1").await, 5, "2 + 3, the repeat added nothing");
    let applied_without_request =
        "SELECT COUNT(*) FROM applied_production_orders WHERE sku = ? AND restock_request_id IS NULL";
    env.assert_warehouse(applied_without_request, "LEGACY-1", 2).await;
    assert!(surplus_alerts(&env).await.is_empty(), "no alert: nothing abnormal");
    assert_eq!(surplus_counted(&env).await, 0.0);
    env.stop().await;
}
