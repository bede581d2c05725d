//! Buying as many clients would, for the replica and fault tests: products added in a
//! batch, purchases each on a connection of its own (so the kernel spreads them over the
//! sales replicas sharing the port), answers timed.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;

use crate::TestEnv;

/// How long a client waits for an answer: a service must answer within it, even when a
/// dependency is down.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// After the database restarts, each connection a pool held before the crash fails the
/// one request that next uses it (then the pool replaces it): a few 503s can follow the
/// first sale after the restart. That tail is part of the outage, bounded in time by
/// this and in number by the pooled connections (`DB_POOL_MAX` per replica).
pub const DB_RECOVERY_SLACK: Duration = Duration::from_secs(10);

/// A client that opens a new connection per request.
pub fn spreading_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap()
}

/// One answer of sales, as the client saw it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// 0 when no answer came within [`CLIENT_TIMEOUT`] (or the connection failed).
    pub status: u16,
    pub latency: Duration,
    pub content_type: String,
    pub retry_after: Option<String>,
    pub body: serde_json::Value,
    /// When it was sent, from the test's start.
    pub sent_at: Instant,
}

impl TestEnv {
    /// Adds `count` products `<prefix>-NN` with `stock` and `reorder` quantity.
    pub async fn add_products(&self, prefix: &str, count: usize, stock: i64, reorder: i64) -> Vec<String> {
        let skus: Vec<String> = (0..count).map(|i| format!("{prefix}-{i:02}")).collect();
        for sku in &skus {
            self.add_product(sku, stock, reorder).await;
        }
        skus
    }

    /// `POST /checkout` of `quantity` of `sku`, timed.
    pub async fn buy(&self, client: &reqwest::Client, sku: &str, quantity: u32) -> Answer {
        let sent_at = Instant::now();
        let sent = client
            .post(self.sales("/checkout"))
            .json(&json!({"sku": sku, "quantity": quantity}))
            .send()
            .await;
        let latency = sent_at.elapsed();
        match sent {
            Ok(response) => {
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                };
                let content_type = header("content-type").unwrap_or_default();
                let retry_after = header("retry-after");
                let status = response.status().as_u16();
                Answer {
                    status,
                    latency,
                    content_type,
                    retry_after,
                    body: response.json().await.unwrap_or_default(),
                    sent_at,
                }
            }
            Err(_) => Answer {
                status: 0,
                latency,
                content_type: String::new(),
                retry_after: None,
                body: serde_json::Value::Null,
                sent_at,
            },
        }
    }

    /// Buys one unit of each sku at once, each on a new connection.
    pub async fn buy_each(&self, skus: &[String]) -> Vec<Answer> {
        let client = spreading_client();
        join_all(skus.iter().map(|sku| self.buy(&client, sku, 1))).await
    }
}

/// The slowest of `answers`.
pub fn slowest(answers: &[Answer]) -> Duration {
    answers.iter().map(|a| a.latency).max().unwrap_or_default()
}

/// `GET url`'s status and JSON body within [`CLIENT_TIMEOUT`] (status 0 if none came).
pub async fn get_status(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    match client.get(url).timeout(CLIENT_TIMEOUT).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or_default())
        }
        Err(_) => (0, serde_json::Value::Null),
    }
}
