//! The Sales API's checkout against a real database: sales, the legacy body, and
//! every kind of bad input answered with problem+json and nothing written.

use serde_json::json;
use stockflow_e2e::TestEnv;
use stockflow_e2e::shop::header;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_stock_sells_decrements_and_records_the_order() {
    let env = TestEnv::selling("SELL-1", 5, 10).await;

    let body = env.expect_purchase("SELL-1", 2, 200).await;
    assert_eq!(body["status"], "sold");
    assert_eq!(body["message"], "판매완료");
    assert_eq!(body["sku"], "SELL-1");
    assert_eq!(body["quantity"], 2);
    assert_eq!(body["remaining_stock"], 3);
    assert!(body["order_id"].as_u64().unwrap() > 0);
    assert_eq!(env.stock("SELL-1").await, 3);
    assert_eq!(env.orders_where("SELL-1", "quantity = 2").await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_body_sells_the_same_way() {
    let env = TestEnv::running_sales().await;

    let (status, body) = env
        .purchase(json!({
            "MessageAttributeProductId": "CP-502101",
            "MessageAttributeProductCnt": "1",
            "MessageAttributeFactoryId": "FF-500293",
            "MessageAttributeRequester": "홍길동"
        }))
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "sold");
    assert_eq!(body["remaining_stock"], 2, "the seeded CP-502101 starts with 3");
    assert_eq!(env.orders_where("CP-502101", "requester = '홍길동'").await, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_are_listed_with_the_seed_data() {
    let env = TestEnv::running_sales().await;

    let products: serde_json::Value = env.get_json(&env.sales("/products")).await;
    let donut = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["sku"] == "CP-502101")
        .expect("seeded product");
    assert_eq!(donut["name"], "부산도너츠");
    assert_eq!(donut["price"], 19900);
    assert_eq!(donut["stock"], 3);
    assert_eq!(donut["factory_id"], "FF-500293");

    let one = env.http.get(env.sales("/products/CP-502101")).send().await.unwrap();
    assert_eq!(one.status(), 200);
    env.assert_get_problem("/products/NOPE-1", 404).await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_problem_and_writes_nothing() {
    let env = TestEnv::selling("BAD-1", 5, 10).await;

    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unknown sku", br#"{"sku":"NO-SUCH","quantity":1}"#.to_vec(), 404),
        ("malformed JSON", br#"{"sku": "BAD-1", "quantity": "#.to_vec(), 400),
        ("empty body", Vec::new(), 400),
        ("missing sku", br#"{"quantity":1}"#.to_vec(), 422),
        ("missing quantity", br#"{"sku":"BAD-1"}"#.to_vec(), 422),
        ("sku of wrong type", br#"{"sku":12,"quantity":1}"#.to_vec(), 422),
        (
            "quantity of wrong type",
            br#"{"sku":"BAD-1","quantity":"one"}"#.to_vec(),
            422,
        ),
        ("quantity 0", br#"{"sku":"BAD-1","quantity":0}"#.to_vec(), 422),
        ("negative quantity", br#"{"sku":"BAD-1","quantity":-5}"#.to_vec(), 422),
        (
            "quantity too large",
            br#"{"sku":"BAD-1","quantity":1001}"#.to_vec(),
            422,
        ),
        (
            "fractional quantity",
            br#"{"sku":"BAD-1","quantity":1.5}"#.to_vec(),
            422,
        ),
        ("not an object", br#"[{"sku":"BAD-1","quantity":1}]"#.to_vec(), 422),
        (
            "1 MB body",
            format!(r#"{{"sku":"BAD-1","quantity":1,"pad":"{}"}}"#, "x".repeat(1024 * 1024)).into_bytes(),
            413,
        ),
    ];
    for (name, body, expected) in cases {
        let response = env
            .http
            .post(env.sales("/checkout"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = header(&response, "content-type");
        let problem: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(status, expected, "{name}: {problem}");
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{name}");
        assert_eq!(problem["status"], expected, "{name}");
        assert!(
            problem["type"].as_str().is_some_and(|t| t.starts_with("/problems/")),
            "{name}: {problem}"
        );
        assert!(
            problem["title"].is_string() && problem["detail"].is_string(),
            "{name}: {problem}"
        );
    }

    assert_eq!(env.stock("BAD-1").await, 5);
    env.assert_warehouse("SELECT COUNT(*) FROM orders WHERE sku <> ?", "", 0)
        .await;
    env.assert_warehouse("SELECT COUNT(*) FROM restock_requests WHERE sku <> ?", "", 0)
        .await;
    env.assert_get_problem("/checkout", 405).await; // the wrong method
    env.assert_get_problem("/nowhere", 404).await; // an unknown route
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_go_back_to_the_pool_after_a_burst() {
    use mysql_async::prelude::Queryable;
    let mut env = TestEnv::new().await;
    let mut settings = env.sales_settings();
    settings.sales_workers = 1;
    settings.service.database.db_pool_max = 4;
    settings.combine.checkout_lanes = 4;
    env.start_sales_with(settings).await;
    // Four skus in four different checkout lanes, so four transactions run at once.
    let mut skus: Vec<String> = Vec::new();
    for i in 0.. {
        let sku = format!("POOL-{i}");
        let lane = warehouse::checkout::lane_of(&sku, 4);
        if skus.iter().all(|s| warehouse::checkout::lane_of(s, 4) != lane) {
            env.add_product(&sku, 100, 10).await;
            skus.push(sku);
        }
        if skus.len() == 4 {
            break;
        }
    }
    let pool = env.warehouse().await;
    let mut observer = pool.get_conn().await.unwrap();

    // A burst that holds all four connections at once: the product rows are locked, so
    // the four lanes' transactions wait in their locking read.
    let mut blocker = env.holding_products(&pool, &skus).await;
    let env = std::sync::Arc::new(env);
    let burst: Vec<_> = skus
        .iter()
        .map(|sku| {
            let env = env.clone();
            let sku = sku.clone();
            tokio::spawn(async move { env.purchase(json!({"sku": sku, "quantity": 1})).await })
        })
        .collect();
    let burst_connections = env.await_waiting(&mut observer, "SELECT p.sku, p.stock", 4).await;
    blocker.query_drop("COMMIT").await.unwrap();
    for purchase in burst {
        let (status, body) = purchase.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    for i in 0..10 {
        env.expect_purchase(&skus[i % 4], 1, 200).await;
    }

    let open = env.warehouse_connections(&mut observer, "").await;
    let closed: Vec<_> = burst_connections.difference(&open).collect();
    assert!(
        closed.is_empty(),
        "connections {closed:?} were closed after serving the burst: a connection must go back to the pool"
    );
    let mut left = 0;
    for sku in &skus {
        left += env.stock(sku).await;
    }
    assert_eq!(left, 400 - 14, "every purchase sold one unit");
    drop((observer, blocker));
    pool.disconnect().await.unwrap();
    TestEnv::stop_shared(env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_of_one_connection_migrates_and_sells() {
    let mut env = TestEnv::new().await;
    let mut settings = env.sales_settings();
    settings.service.database.db_pool_max = 1;
    // The migrations and their lock once needed two connections of the pool: a hang.
    tokio::time::timeout(std::time::Duration::from_secs(60), env.start_sales_with(settings))
        .await
        .expect("sales with DB_POOL_MAX=1 did not start within 60 s");
    env.add_product("ONE-1", 5, 10).await;
    env.expect_purchase("ONE-1", 1, 200).await;
    env.stop().await;
}
