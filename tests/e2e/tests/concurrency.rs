//! Many buyers at once: the conditional decrement sells exactly the stock there is.

use futures::future::join_all;
use serde_json::json;
use stockflow_e2e::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_simultaneous_buyers_of_fifty_units_buy_exactly_fifty() {
    let env = TestEnv::selling("HOT-1", 50, 10).await;

    let purchases = (0..200).map(|_| env.purchase(json!({"sku": "HOT-1", "quantity": 1})));
    let answers = join_all(purchases).await;

    let sold = answers.iter().filter(|(status, _)| *status == 200).count();
    let out_of_stock = answers.iter().filter(|(status, _)| *status == 409).count();
    let server_errors: Vec<_> = answers.iter().filter(|(status, _)| *status >= 500).collect();
    assert!(server_errors.is_empty(), "5xx answers: {server_errors:?}");
    assert_eq!(sold, 50);
    assert_eq!(out_of_stock, 150);
    assert_eq!(env.stock("HOT-1").await, 0);
    let units_ordered = "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE sku = ?";
    env.assert_warehouse(units_ordered, "HOT-1", 50).await;
    let requests = env
        .warehouse_count("SELECT COUNT(*) FROM restock_requests WHERE sku = ?", "HOT-1")
        .await;
    assert_eq!(requests, 1, "all shortages join one restock request");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simultaneous_shortages_of_many_skus_each_open_one_restock_without_errors() {
    let env = TestEnv::running_sales().await;
    for i in 0..40 {
        env.add_product(&format!("STORM-{i:02}"), 0, 5).await;
    }

    let purchases = (0..200).map(|i| env.purchase(json!({"sku": format!("STORM-{:02}", i % 40), "quantity": 1})));
    let answers = join_all(purchases).await;

    let not_409: Vec<_> = answers.iter().filter(|(status, _)| *status != 409).collect();
    assert!(
        not_409.is_empty(),
        "every purchase is out of stock, none fails: {not_409:?}"
    );
    env.assert_warehouse("SELECT COUNT(*) FROM restock_requests WHERE sku LIKE ?", "STORM-%", 40)
        .await;
    env.assert_warehouse("SELECT COUNT(*) FROM outbox WHERE aggregate_id <> ?", "", 40)
        .await;
    env.stop().await;
}

/// A purchase of a sold-out sku waits for the product row while a restock holds it: once
/// the restock commits, the purchase reads the stock that arrived and sells it, instead of
/// joining the request the restock closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restock_landing_while_a_purchase_waits_for_the_product_sells_instead() {
    use mysql_async::prelude::Queryable;
    let env = TestEnv::running_sales().await;
    let request = env.ran_out("RACE-1", 10).await.to_string();

    // Hold the product row, as the restock transaction does (its first statement adds
    // the stock), so that the next purchase waits in its locking read of the product.
    let pool = env.warehouse().await;
    let mut observer = pool.get_conn().await.unwrap();
    let mut restock = pool.get_conn().await.unwrap();
    restock.query_drop("BEGIN").await.unwrap();
    restock
        .exec_drop("UPDATE products SET stock = stock + 10 WHERE sku = 'RACE-1'", ())
        .await
        .unwrap();
    let env = std::sync::Arc::new(env);
    let buyer = {
        let env = env.clone();
        tokio::spawn(async move { env.purchase(json!({"sku": "RACE-1", "quantity": 1})).await })
    };
    env.await_waiting(&mut observer, "SELECT p.sku, p.stock", 1).await;
    restock
        .exec_drop(
            "UPDATE restock_requests SET fulfilled_at = CURRENT_TIMESTAMP(6) WHERE id = ?",
            (&request,),
        )
        .await
        .unwrap();
    restock.query_drop("COMMIT").await.unwrap();

    let (status, body) = buyer.await.unwrap();
    assert_eq!(status, 200, "the purchase must buy the stock that arrived: {body}");
    assert_eq!(env.stock("RACE-1").await, 9);
    let shortages = env
        .warehouse_count("SELECT shortages FROM restock_requests WHERE sku = ?", "RACE-1")
        .await;
    assert_eq!(
        shortages, 1,
        "the closed request must not count the purchase that bought"
    );
    drop((observer, restock));
    pool.disconnect().await.unwrap();
    TestEnv::stop_shared(env).await;
}
