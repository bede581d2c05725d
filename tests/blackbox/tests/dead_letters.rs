//! What fails on the way reaches a dead-letter queue and the operations team, and an
//! operator brings it back with `stockctl`: a poison message on `stock_queue`, and a
//! `stock_arrival` for a product the warehouse did not know yet, redriven once it does.
//! Each test removes from the DLQs and `ops_alert_queue` what it put there.

use std::time::Duration;

use serde_json::{Value, json};
use stockflow_blackbox::{Stack, eventually, stockctl, unique};

/// Covers the workers' long polls (20 s by default) and a busy machine.
const DEADLINE: Duration = Duration::from_secs(90);

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_reaches_the_dlq_and_ops_are_alerted() {
    let stack = Stack::connect().await;
    let poison = format!("blackbox poison {}", unique());
    let message_id = stack.queues.send_raw("stock_queue", &poison).await;

    let alert = stack
        .queues
        .take(
            "ops_alert_queue",
            DEADLINE,
            "stock-worker's alert about the poison message",
            |m| {
                m.attributes.get("event_type").map(String::as_str) == Some("ops_alert")
                    && json_body(&m.body)["message_id"] == message_id.as_str()
            },
        )
        .await;
    let alert = json_body(&alert.body);
    assert_eq!(alert["kind"], "dead_lettered", "{alert:#}");
    assert_eq!(alert["service"], "stock-worker", "{alert:#}");
    assert_eq!(alert["queue"], stack.config.name("stock_queue").as_str(), "{alert:#}");
    assert_eq!(
        alert["now_in"],
        stack.config.name("dead_letter_queue").as_str(),
        "{alert:#}"
    );
    assert_eq!(alert["body"], poison.as_str(), "{alert:#}");

    // The operator's view of it, then the test's cleanup.
    let (code, shown) = stockctl::run(&stack.config, &["dlq", "show", &message_id, "--queue", "stock"]).await;
    assert_eq!(code, 0, "{shown:#}");
    let shown = shown.to_string();
    assert!(
        shown.contains(&poison) && shown.contains("malformed"),
        "stockctl dlq show: {shown}"
    );
    let dead = stack
        .queues
        .take("dead_letter_queue", DEADLINE, "the poison message in the DLQ", |m| {
            m.body == poison
        })
        .await;
    assert_eq!(
        dead.attributes.get("failure_kind").map(String::as_str),
        Some("dead_lettered"),
        "{dead:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_arrival_redriven_with_stockctl_is_added_to_stock_once() {
    let stack = Stack::connect().await;
    let sku = format!("BB-REDRIVE-{}", unique());
    let production_order_id = uuid::Uuid::new_v4().to_string();
    let now = chrono::Utc::now().to_rfc3339();
    let arrival = json!({
        "production_order_id": production_order_id,
        "restock_request_id": uuid::Uuid::new_v4().to_string(),
        "sku": sku,
        "quantity": 4,
        "ordered_at": now,
        "produced_at": now,
    });
    let correlation_id = format!("blackbox-{}", unique());
    stack
        .queues
        .publish("stock_arrival", "stock_arrival", &correlation_id, &arrival.to_string())
        .await;

    // Unknown sku: a permanent failure, dead-lettered at once, with an alert.
    let alert = stack
        .queues
        .take(
            "ops_alert_queue",
            DEADLINE,
            "stock-inc-worker's alert about the unknown sku",
            |m| json_body(&m.body)["sku"] == sku.as_str(),
        )
        .await;
    let alert = json_body(&alert.body);
    assert_eq!(alert["service"], "stock-inc-worker", "{alert:#}");
    assert_eq!(
        alert["now_in"],
        stack.config.name("stock_inc_dead_letter_queue").as_str(),
        "{alert:#}"
    );
    assert_eq!(alert["correlation_id"], correlation_id.as_str(), "{alert:#}");
    let (code, listed) = stockctl::run(&stack.config, &["dlq", "list", "--queue", "stock-inc"]).await;
    assert_eq!(code, 0, "{listed:#}");
    assert!(
        listed.to_string().contains(&sku),
        "the arrival is listed in the DLQ: {listed:#}"
    );

    // The cause is fixed (the product now exists), then the operator redrives.
    stack.warehouse.add_product(&sku, 0, 5).await;
    let (code, redriven) = stockctl::run(&stack.config, &["dlq", "redrive", "--queue", "stock-inc"]).await;
    assert_eq!(code, 0, "{redriven:#}");
    assert_eq!(redriven["tasks"][0]["status"], "COMPLETED", "{redriven:#}");
    eventually("the redriven arrival is added to stock", DEADLINE, || async {
        (stack.stock(&sku).await == 4).then_some(())
    })
    .await;
    let (code, verified) = stockctl::run(&stack.config, &["verify"]).await;
    assert_eq!(code, 0, "the stock invariant holds: {verified:#}");
    assert!(
        stack
            .queues
            .find("stock_inc_dead_letter_queue", |m| m.body.contains(&sku))
            .await
            .is_none(),
        "nothing of it is left in the DLQ"
    );
}
