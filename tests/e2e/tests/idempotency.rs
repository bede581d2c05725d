//! `Idempotency-Key` on checkout: a replay answers the first answer, a reused key with
//! another request is refused, concurrent requests with one key buy once, an expired key
//! is forgotten, and a purchase answered 503 although its commit landed (the commit's
//! answer lost on the way back) gets that sale back when retried with its key.

use std::time::Duration;

use futures::future::join_all;
use mysql_async::prelude::Queryable;
use serde_json::json;
use stockflow_e2e::TestEnv;
use stockflow_e2e::shop::header;

async fn purchase_with_key(
    env: &TestEnv,
    key: &str,
    body: serde_json::Value,
) -> (u16, Option<String>, serde_json::Value) {
    let response = env
        .http
        .post(env.sales("/checkout"))
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let replayed = header(&response, "idempotency-replayed");
    (status, replayed, response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_and_body_replays_the_first_answer_even_after_a_restart() {
    let mut env = TestEnv::selling("IDEM-1", 5, 10).await;
    let body = json!({"sku": "IDEM-1", "quantity": 2});

    let (status, replayed, first) = purchase_with_key(&env, "key-1", body.clone()).await;
    assert_eq!((status, replayed), (200, None));
    let (status, replayed, second) = purchase_with_key(&env, "key-1", body.clone()).await;
    assert_eq!((status, replayed.as_deref()), (200, Some("true")));
    assert_eq!(second, first, "the same order, the same remaining stock");
    assert_eq!(env.stock("IDEM-1").await, 3, "sold once");

    // A new sales process (same database) still knows the key.
    env.start_sales().await;
    let (_, replayed, third) = purchase_with_key(&env, "key-1", body).await;
    assert_eq!((replayed.as_deref(), third), (Some("true"), first));
    assert_eq!(env.stock("IDEM-1").await, 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_reused_with_another_body_is_refused() {
    let env = TestEnv::selling("IDEM-2", 5, 10).await;

    purchase_with_key(&env, "key-2", json!({"sku": "IDEM-2", "quantity": 1})).await;
    let (status, _, problem) = purchase_with_key(&env, "key-2", json!({"sku": "IDEM-2", "quantity": 3})).await;

    assert_eq!(status, 422);
    assert_eq!(problem["type"], "/problems/idempotency-key-reused");
    assert_eq!(env.stock("IDEM-2").await, 4);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_buy_once() {
    let env = TestEnv::selling("IDEM-3", 100, 10).await;

    let attempts = (0..20).map(|_| purchase_with_key(&env, "key-3", json!({"sku": "IDEM-3", "quantity": 1})));
    let answers = join_all(attempts).await;

    assert!(answers.iter().all(|(status, _, _)| *status == 200), "{answers:?}");
    assert_eq!(
        answers.iter().filter(|(_, replayed, _)| replayed.is_none()).count(),
        1,
        "one fresh answer"
    );
    let order_ids: std::collections::HashSet<_> = answers.iter().map(|(_, _, body)| body["order_id"].clone()).collect();
    assert_eq!(order_ids.len(), 1);
    assert_eq!(env.stock("IDEM-3").await, 99);
    assert_eq!(env.orders("IDEM-3").await, 1);
    env.stop().await;
}

/// Makes `key` a day and an hour old: past its time to live.
async fn age_key(env: &TestEnv, key: &str) {
    let mut conn = env.warehouse().await.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE idempotency_keys SET created_at = CURRENT_TIMESTAMP(6) - INTERVAL 25 HOUR WHERE idempotency_key = ?",
        (key,),
    )
    .await
    .unwrap();
}

async fn key_count(env: &TestEnv, key: &str) -> i64 {
    env.warehouse_count("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = ?", key)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_key_is_a_new_key_and_is_pruned() {
    let mut env = TestEnv::selling("IDEM-4", 5, 10).await;

    // Past its time to live, a key with another body is a new purchase, not a reuse.
    purchase_with_key(&env, "key-4a", json!({"sku": "IDEM-4", "quantity": 1})).await;
    age_key(&env, "key-4a").await;
    let (status, replayed, _) = purchase_with_key(&env, "key-4a", json!({"sku": "IDEM-4", "quantity": 2})).await;
    assert_eq!((status, replayed), (200, None), "an expired key starts afresh");
    assert_eq!(env.stock("IDEM-4").await, 2, "both purchases sold");

    // Housekeeping (at start, then hourly) deletes expired keys and keeps the others.
    purchase_with_key(&env, "key-4b", json!({"sku": "IDEM-4", "quantity": 1})).await;
    age_key(&env, "key-4b").await;
    env.start_sales().await;
    stockflow_e2e::eventually("the expired key-4b pruned", Duration::from_secs(10), || async {
        (key_count(&env, "key-4b").await == 0).then_some(())
    })
    .await;
    assert_eq!(
        key_count(&env, "key-4a").await,
        1,
        "a key within its time to live stays"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_answered_503_whose_commit_landed_gets_its_sale_back_on_retry() {
    let mut env = TestEnv::new().await;
    // Sales reaches MySQL through a relay that can lose the answer to a COMMIT.
    let relay = stockflow_e2e::lost_commit::LostCommit::start(&env.database.mysql_url).await;
    let mut settings = env.sales_settings();
    settings.service.database.mysql_url = relay.url();
    // No sweeps meanwhile: the next COMMIT sales sends is the purchase's own.
    settings.outbox_sweep_ms = 3_600_000;
    env.start_sales_with(settings).await;
    env.add_product("IDEM-5", 5, 10).await;
    let body = json!({"sku": "IDEM-5", "quantity": 2});

    relay.arm();
    let (status, _, problem) = purchase_with_key(&env, "key-5", body.clone()).await;
    assert_eq!(relay.lost(), 1, "the answer to the purchase's COMMIT was lost");
    assert_eq!(status, 503, "the purchase is answered 'retry': {problem}");
    // ...and yet the database kept the sale.
    assert_eq!(env.stock("IDEM-5").await, 3, "the commit landed");
    let order_id: i64 = env
        .warehouse_count("SELECT MAX(id) FROM orders WHERE sku = ?", "IDEM-5")
        .await;
    assert!(order_id > 0, "the order row is there");

    // The client retries with its key: the committed answer, not a second sale.
    let (status, replayed, answer) = purchase_with_key(&env, "key-5", body).await;
    assert_eq!((status, replayed.as_deref()), (200, Some("true")), "{answer}");
    assert_eq!(answer["order_id"], order_id, "the sale that landed: {answer}");
    assert_eq!(answer["remaining_stock"], 3, "{answer}");
    assert_eq!(env.stock("IDEM-5").await, 3, "sold once");
    assert_eq!(env.orders("IDEM-5").await, 1);
    env.stop().await;
}
