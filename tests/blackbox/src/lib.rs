//! The black-box suite's view of a running stockflow: only its addresses (see
//! [`config`]). It starts and stops nothing; each test makes its own products (named
//! `BB-…`), so tests run in parallel with each other and beside other users of the
//! stack, and cleans up the messages it put into the dead-letter and alert queues.
//!
//! Run it against a `scripts/up` stack with `scripts/test blackbox`, or by hand:
//! `cargo nextest run --profile blackbox` (the default profile skips it).

pub mod config;
pub mod fixtures;
pub mod queues;
pub mod stockctl;

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

pub use config::StackConfig;

/// Polls `check` every 200 ms until it returns `Some`, or fails after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A short unique id for this test's products and messages.
pub fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()
}

/// The stack under test.
pub struct Stack {
    pub config: StackConfig,
    pub http: reqwest::Client,
    pub queues: queues::Queues,
    pub warehouse: fixtures::Warehouse,
}

/// An HTTP answer: status, headers and the body as JSON (`Null` when not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Stack {
    /// Connects to the stack named by the environment; fails with what to start when
    /// sales does not answer.
    pub async fn connect() -> Self {
        let config = StackConfig::from_env();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        let ready = format!("{}/ready", config.sales_url);
        match http.get(&ready).send().await {
            Ok(r) if r.status().is_success() => {}
            other => panic!(
                "the stack is not up: GET {ready} answered {other:?}. Start one (scripts/up, or docker compose up -d --wait) \
                 and point SALES_URL, FACTORY_URL, AWS_ENDPOINT_URL, MYSQL_URL, WAREHOUSE_DB and STOCKFLOW_PREFIX at it"
            ),
        }
        let queues = queues::Queues::connect(&config).await;
        let warehouse = fixtures::Warehouse::connect(&config);
        Self {
            config,
            http,
            queues,
            warehouse,
        }
    }

    pub fn sales(&self, path: &str) -> String {
        format!("{}{path}", self.config.sales_url)
    }

    pub fn factory(&self, path: &str) -> String {
        format!("{}{path}", self.config.factory_url)
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.unwrap_or_default();
        Answer {
            status,
            content_type,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub async fn get(&self, url: &str) -> Answer {
        let response = self.http.get(url).send().await;
        Self::answer(response.unwrap_or_else(|e| panic!("GET {url}: {e}"))).await
    }

    /// `POST /checkout` with a raw body (any bytes) and optional `Idempotency-Key`.
    pub async fn checkout_raw(&self, body: &str, idempotency_key: Option<&str>) -> Answer {
        let mut request = self
            .http
            .post(self.sales("/checkout"))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        Self::answer(request.send().await.expect("sales answers /checkout")).await
    }

    pub async fn checkout(&self, body: &Value) -> Answer {
        self.checkout_raw(&body.to_string(), None).await
    }

    /// A product's stock as the Sales API shows it.
    pub async fn stock(&self, sku: &str) -> i64 {
        let answer = self.get(&self.sales(&format!("/products/{sku}"))).await;
        assert_eq!(answer.status, 200, "GET /products/{sku}: {answer:?}");
        answer.body["stock"].as_i64().expect("stock is a number")
    }
}
