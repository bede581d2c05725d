//! The brief's whole story on real LocalStack and MySQL: sell, run out, order from
//! the factory, receive the goods, sell again.

use std::time::Duration;

use serde_json::json;
use stockflow_contracts::names;
use stockflow_e2e::{TestEnv, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_stock_publishes_one_stock_empty_event_to_stock_queue() {
    let env = TestEnv::selling("EMPTY-1", 0, 7).await;

    let (status, body) = env
        .purchase(json!({"sku": "EMPTY-1", "quantity": 2, "requester": "kim"}))
        .await;

    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], "out_of_stock");
    assert_eq!(body["message"], "재고부족, 제품 생산 요청");
    let restock_id = body["restock_request_id"].as_str().unwrap().to_string();
    let messages = eventually("stock_empty on stock_queue", Duration::from_secs(20), || async {
        Some(env.peek(names::STOCK_QUEUE).await).filter(|m| !m.is_empty())
    })
    .await;
    assert_eq!(messages.len(), 1);
    let event: serde_json::Value =
        serde_json::from_str(messages[0].body().unwrap()).expect("raw JSON body, not an SNS envelope");
    assert_eq!(event["restock_request_id"], restock_id.as_str());
    assert_eq!(event["sku"], "EMPTY-1");
    assert_eq!(
        event["quantity"], 7,
        "the reorder quantity, as it exceeds the shortfall of 2"
    );
    assert_eq!(event["requester"], "kim");
    let attributes = messages[0]
        .message_attributes()
        .expect("message attributes survive raw delivery");
    assert_eq!(attributes["event_type"].string_value(), Some("stock_empty"));
    assert!(attributes.contains_key("correlation_id"));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shortage_is_restocked_through_the_factory_and_sells_again() {
    let env = TestEnv::running_all().await;
    env.add_product("FLOW-1", 1, 5).await;

    env.expect_purchase("FLOW-1", 1, 200).await;
    let body = env.expect_purchase("FLOW-1", 1, 409).await;
    let restock_id = body["restock_request_id"].as_str().unwrap().to_string();

    eventually("stock back to 5", Duration::from_secs(60), || async {
        (env.stock("FLOW-1").await == 5).then_some(())
    })
    .await;
    assert_eq!(env.production_orders("FLOW-1").await, 1);
    let closed = "SELECT COUNT(*) FROM restock_requests WHERE sku = ? AND status = 'fulfilled' AND open_sku IS NULL";
    env.assert_warehouse(closed, "FLOW-1", 1).await;
    let product: serde_json::Value = env.get_json(&env.sales("/products/FLOW-1")).await;
    assert!(
        product["restock"].is_null(),
        "no open restock request after fulfilment: {product}"
    );
    let fulfilled = env
        .warehouse_count(
            "SELECT COUNT(*) FROM restock_requests WHERE id = ? AND fulfilled_at IS NOT NULL",
            &restock_id,
        )
        .await;
    assert_eq!(fulfilled, 1);

    let body = env.expect_purchase("FLOW-1", 1, 200).await;
    assert_eq!(body["remaining_stock"], 4);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shortages_while_a_restock_is_open_make_one_factory_order() {
    let mut env = TestEnv::selling("COALESCE-1", 0, 10).await;

    let mut restock_ids = Vec::new();
    for _ in 0..5 {
        let (status, body) = env.purchase(json!({"sku": "COALESCE-1", "quantity": 1})).await;
        assert_eq!(status, 409);
        restock_ids.push(body["restock_request_id"].as_str().unwrap().to_string());
    }
    restock_ids.dedup();
    assert_eq!(restock_ids.len(), 1, "every shortage joins the open request");
    env.assert_warehouse("SELECT shortages FROM restock_requests WHERE sku = ?", "COALESCE-1", 5)
        .await;

    // Only now start the rest: the one event travels, the factory gets one order.
    env.start_factory().await;
    env.start_stock_inc_worker().await;
    env.start_stock_worker().await;
    eventually("restocked", Duration::from_secs(60), || async {
        (env.stock("COALESCE-1").await == 10).then_some(())
    })
    .await;
    assert_eq!(env.production_orders("COALESCE-1").await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_queue_redrives_to_dead_letter_queue() {
    let env = TestEnv::new().await;
    let url = env.queue_url(names::STOCK_QUEUE).await;
    let attrs = env
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let policy: serde_json::Value =
        serde_json::from_str(&attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy])
            .unwrap();
    let target = policy["deadLetterTargetArn"].as_str().unwrap();
    assert!(
        target.ends_with(&format!(":{}", env.resources.name(names::STOCK_DLQ))),
        "{policy}"
    );
    assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "3");
    env.stop().await;
}
