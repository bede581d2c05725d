//! The brief's story against the running stack: a sale, the legacy body, bad input
//! answered with problem+json, a shortage answered 409 whose restock arrives from the
//! factory, many buyers at once without overselling, and `Idempotency-Key` replay.

use std::time::Duration;

use futures::future::join_all;
use serde_json::{Value, json};
use stockflow_blackbox::{Answer, Stack, eventually, unique};

/// Covers the factory's production time (5 s by default) and the workers' long polls.
const RESTOCK_DEADLINE: Duration = Duration::from_secs(120);

fn assert_problem(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert!(
        answer.content_type.starts_with("application/problem+json"),
        "{what}: content type {:?}",
        answer.content_type
    );
    for field in ["type", "title", "status", "detail"] {
        assert!(
            answer.body.get(field).is_some(),
            "{what}: no `{field}` in {}",
            answer.body
        );
    }
    assert_eq!(answer.body["status"], status, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_the_legacy_body_bad_input_and_a_shortage_the_factory_restocks() {
    let stack = Stack::connect().await;
    let sku = format!("BB-STORY-{}", unique());
    stack.warehouse.add_product(&sku, 2, 5).await;

    let sold = stack.checkout(&json!({"sku": sku, "quantity": 1})).await;
    assert_eq!(sold.status, 200, "{sold:?}");
    assert_eq!(sold.body["status"], "sold");
    assert_eq!(sold.body["message"], "판매완료");
    assert_eq!(sold.body["sku"], sku.as_str());
    assert_eq!(sold.body["quantity"], 1);
    assert_eq!(sold.body["remaining_stock"], 1);
    assert!(sold.body["order_id"].as_u64().is_some_and(|id| id > 0), "{sold:?}");

    let legacy = stack
        .checkout(&json!({
            "MessageAttributeProductId": sku,
            "MessageAttributeProductCnt": "1",
            "MessageAttributeFactoryId": "FF-500293",
            "MessageAttributeRequester": "홍길동"
        }))
        .await;
    assert_eq!(legacy.status, 200, "{legacy:?}");
    assert_eq!(legacy.body["status"], "sold");
    assert_eq!(legacy.body["remaining_stock"], 0);
    assert_eq!(stack.stock(&sku).await, 0);

    // Bad input: problem+json, and nothing changes.
    assert_problem(&stack.checkout_raw("{not json", None).await, 400, "malformed JSON");
    assert_problem(&stack.checkout(&json!({"sku": sku})).await, 422, "missing quantity");
    assert_problem(
        &stack.checkout(&json!({"sku": sku, "quantity": "x"})).await,
        422,
        "quantity of the wrong type",
    );
    assert_problem(
        &stack.checkout(&json!({"sku": sku, "quantity": 0})).await,
        422,
        "quantity 0",
    );
    assert_problem(
        &stack.checkout(&json!({"sku": sku, "quantity": 1001})).await,
        422,
        "quantity 1001",
    );
    let unknown = format!("BB-NONE-{}", unique());
    assert_problem(
        &stack.checkout(&json!({"sku": unknown, "quantity": 1})).await,
        404,
        "unknown sku",
    );
    assert_problem(
        &stack.get(&stack.sales(&format!("/products/{unknown}"))).await,
        404,
        "unknown product",
    );
    assert_eq!(stack.stock(&sku).await, 0, "bad requests changed nothing");

    // Out of stock: 409 with a restock request, which a second shortage joins.
    let short = stack.checkout(&json!({"sku": sku, "quantity": 1})).await;
    assert_eq!(short.status, 409, "{short:?}");
    assert_eq!(short.body["status"], "out_of_stock");
    assert_eq!(short.body["message"], "재고부족, 제품 생산 요청");
    let restock_id = short.body["restock_request_id"]
        .as_str()
        .expect("restock_request_id")
        .to_string();
    let again = stack.checkout(&json!({"sku": sku, "quantity": 2})).await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(
        again.body["restock_request_id"],
        restock_id.as_str(),
        "the second shortage joins the open request"
    );

    // The restock arrives: the factory produced the reorder quantity, added once.
    let product = eventually("the factory's goods arrive in stock", RESTOCK_DEADLINE, || async {
        let product = stack.get(&stack.sales(&format!("/products/{sku}"))).await.body;
        (product["stock"].as_i64() == Some(5) && product["restock"].is_null()).then_some(product)
    })
    .await;
    assert_eq!(product["stock"], 5, "{product}");
    let bought = stack.checkout(&json!({"sku": sku, "quantity": 5})).await;
    assert_eq!(
        (bought.status, &bought.body["remaining_stock"]),
        (200, &json!(0)),
        "{bought:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_buyers_at_once_never_oversell() {
    let stack = Stack::connect().await;
    let sku = format!("BB-RUSH-{}", unique());
    stack.warehouse.add_product(&sku, 20, 5).await;

    let body = json!({"sku": sku, "quantity": 1});
    let answers: Vec<Answer> = join_all((0..100).map(|_| stack.checkout(&body))).await;
    let count = |status| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(count(200), 20, "exactly the stock is sold");
    assert_eq!(count(409), 80, "the rest are told it is out of stock; no other answer");
    let mut orders: Vec<u64> = answers.iter().filter_map(|a| a.body["order_id"].as_u64()).collect();
    orders.sort_unstable();
    orders.dedup();
    assert_eq!(orders.len(), 20, "every sale is its own order");
    let restocks: Vec<&Value> = answers
        .iter()
        .filter(|a| a.status == 409)
        .map(|a| &a.body["restock_request_id"])
        .collect();
    assert!(
        restocks.iter().all(|id| *id == restocks[0]),
        "one restock request for the whole shortage"
    );
    assert_eq!(stack.stock(&sku).await, 0, "never below zero");

    eventually("the one restock arrives", RESTOCK_DEADLINE, || async {
        (stack.stock(&sku).await == 5).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let stack = Stack::connect().await;
    let sku = format!("BB-IDEM-{}", unique());
    stack.warehouse.add_product(&sku, 5, 5).await;
    let key = format!("blackbox-{}", unique());
    let body = json!({"sku": sku, "quantity": 2}).to_string();

    let first = stack.checkout_raw(&body, Some(&key)).await;
    assert_eq!(first.status, 200, "{first:?}");
    let replay = stack.checkout_raw(&body, Some(&key)).await;
    assert_eq!(replay.status, 200, "{replay:?}");
    assert_eq!(replay.body, first.body, "the same answer, the same order");
    assert_eq!(
        replay.headers.get("idempotency-replayed").and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(stack.stock(&sku).await, 3, "sold once");

    let other = json!({"sku": sku, "quantity": 1}).to_string();
    assert_problem(
        &stack.checkout_raw(&other, Some(&key)).await,
        422,
        "the key reused with another body",
    );
    assert_eq!(stack.stock(&sku).await, 3, "the refused request sold nothing");
}
