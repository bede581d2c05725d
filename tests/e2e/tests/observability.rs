//! What the people who call and run stockflow see: the OpenAPI document and Swagger
//! UI, Prometheus metrics, and one request id followed through every service's logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use stockflow_e2e::{TestEnv, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_documents_and_swagger_ui_are_served_offline() {
    let mut env = TestEnv::new().await;
    let sales = env.start_sales().await;
    let factory = env.start_factory().await;

    for (base, path) in [(&sales, "/checkout"), (&factory, "/api/manufactures")] {
        let doc: serde_json::Value = env.get_json(&format!("{base}/openapi.json")).await;
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        assert!(doc["paths"][path]["post"].is_object(), "{path} documented");
        let ui = env.http.get(format!("{base}/docs/")).send().await.unwrap();
        assert_eq!(ui.status(), 200);
        assert!(ui.text().await.unwrap().contains("swagger"), "Swagger UI page");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_sales_outcomes() {
    let env = TestEnv::selling("METRIC-1", 1, 5).await;
    env.purchase(json!({"sku": "METRIC-1", "quantity": 1})).await;
    env.purchase(json!({"sku": "METRIC-1", "quantity": 1})).await;

    let metrics = env.get_text(&env.sales("/metrics")).await;
    assert!(
        metrics.contains(r#"sales_checkouts_total{outcome="sold"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sales_checkouts_total{outcome="out_of_stock"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"http_requests_total{method="POST",route="/checkout",status="200"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("http_request_duration_seconds_bucket"),
        "latency histogram"
    );
    env.stop().await;
}

/// Collects every log line of the process (JSON), to search afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_id_follows_the_purchase_into_factory_and_worker_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .init();
    let env = TestEnv::running_all().await;
    env.add_product("TRACE-1", 0, 2).await;

    let request_id = format!("trace-{}", env.id);
    let response = env
        .http
        .post(env.sales("/checkout"))
        .header("X-Request-Id", &request_id)
        .json(&json!({"sku": "TRACE-1", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], request_id.as_str(), "echoed");
    eventually("restocked", Duration::from_secs(60), || async {
        (env.stock("TRACE-1").await == 2).then_some(())
    })
    .await;
    env.stop().await;

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines_with_id: Vec<serde_json::Value> = text
        .lines()
        .filter(|line| line.contains(&request_id))
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let targets: Vec<&str> = lines_with_id.iter().filter_map(|l| l["target"].as_str()).collect();
    for service in ["sales::", "stock_worker::", "factory::", "stock_inc_worker::"] {
        assert!(
            targets.iter().any(|t| t.starts_with(service)),
            "no {service} log line names {request_id}: {targets:?}"
        );
    }
}
