//! Buying as many clients would, for the replica and fault tests: products added in a
//! batch, purchases each on a connection of its own (so the kernel spreads them over the
//! sales replicas sharing the port), answers timed; buyers that keep buying through a
//! fault, and what their answers add up to (throughput, p99).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// The patience of a client of the faults where sales itself must give up first (its
/// checkout deadline, `CHECKOUT_TIMEOUT_MS`, is shorter): a database that hangs, a
/// network that swallows packets.
pub const PATIENT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A client that opens a new connection per request and waits [`CLIENT_TIMEOUT`].
pub fn spreading_client() -> reqwest::Client {
    spreading_client_waiting(CLIENT_TIMEOUT)
}

/// A client that opens a new connection per request and waits `timeout` for an answer.
pub fn spreading_client_waiting(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(timeout)
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
                let content_type = header(&response, "content-type").unwrap_or_default();
                let retry_after = header(&response, "retry-after");
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

    /// Every purchase among `answers` answered 200 is recorded in `orders`: never a sale
    /// without its commit.
    pub async fn assert_sold_are_recorded(&self, answers: &[Answer]) {
        use mysql_async::prelude::Queryable;
        let pool = self.warehouse().await;
        let mut conn = pool.get_conn().await.unwrap();
        for answer in answers.iter().filter(|a| a.status == 200) {
            let id = answer.body["order_id"].as_u64().expect("order_id");
            let found: Option<u64> = conn
                .exec_first("SELECT id FROM orders WHERE id = ?", (id,))
                .await
                .unwrap();
            assert_eq!(found, Some(id), "order {id} answered 200 is recorded");
        }
    }

    /// Buys one unit of `sku` until it sells (within 30 s); when it did.
    pub async fn await_selling(&self, client: &reqwest::Client, sku: &str) -> Instant {
        crate::eventually(&format!("sales sells {sku} again"), Duration::from_secs(30), || async {
            (self.buy(client, sku, 1).await.status == 200).then_some(Instant::now())
        })
        .await
    }

    /// Waits (30 s) until sales sold `sku` below `stock` units: the buyers are buying.
    pub async fn await_stock_below(&self, sku: &str, stock: i64) {
        crate::eventually("sales sells", Duration::from_secs(30), || async {
            (self.stock(sku).await < stock).then_some(())
        })
        .await
    }

    /// Asserts that sales' `/ready`, asked with `client`, answers 503 within
    /// [`PATIENT_CLIENT_TIMEOUT`] and names its dependency `check` as not answering;
    /// `during` says under which fault.
    pub async fn assert_not_ready(&self, client: &reqwest::Client, check: &str, during: &str) {
        let asked = Instant::now();
        let (status, body) = get_status(client, &self.sales("/ready")).await;
        assert!(asked.elapsed() < PATIENT_CLIENT_TIMEOUT, "/ready answered in time");
        assert_eq!(status, 503, "/ready {during}: {body}");
        assert!(
            body["checks"][check]
                .as_str()
                .is_some_and(|s| s.contains("did not answer")),
            "/ready names {check} as not answering {during}: {body}"
        );
    }

    /// Buys one unit of each sku at once, each on a new connection.
    pub async fn buy_each(&self, skus: &[String]) -> Vec<Answer> {
        let client = spreading_client();
        join_all(skus.iter().map(|sku| self.buy(&client, sku, 1))).await
    }
}

/// Buyers that keep buying one unit of a sku each, in a loop, through a fault, until
/// stopped.
pub struct Buyers {
    stop: Arc<AtomicBool>,
    answers: tokio::task::JoinHandle<Vec<Answer>>,
}

impl Buyers {
    /// Starts `clients` buyers of `sku`, buying with `client`.
    pub fn start(env: &Arc<TestEnv>, sku: &str, clients: usize, client: &reqwest::Client) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let buyers: Vec<_> = (0..clients)
            .map(|_| {
                let (env, sku, stop, client) = (env.clone(), sku.to_string(), stop.clone(), client.clone());
                async move {
                    let mut answers = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        answers.push(env.buy(&client, &sku, 1).await);
                    }
                    answers
                }
            })
            .collect();
        let answers = tokio::spawn(async move { join_all(buyers).await.into_iter().flatten().collect() });
        Self { stop, answers }
    }

    /// Stops the buyers (each after the purchase it is making); every answer they got.
    pub async fn stop(self) -> Vec<Answer> {
        self.stop.store(true, Ordering::Relaxed);
        self.answers.await.expect("a buyer panicked")
    }
}

/// The answers sent and answered within `from..to` (under one fault: an answer that
/// began under another belongs to neither): how many, how many a second, the 99th
/// percentile of their latency, by status; printed as `what`.
pub fn report(what: &str, answers: &[Answer], from: Instant, to: Instant) -> Vec<Answer> {
    let within: Vec<Answer> = answers
        .iter()
        .filter(|a| a.sent_at >= from && a.sent_at + a.latency < to)
        .cloned()
        .collect();
    let mut latencies: Vec<Duration> = within.iter().map(|a| a.latency).collect();
    latencies.sort();
    let p99 = latencies
        .get((latencies.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for answer in &within {
        *statuses.entry(answer.status).or_default() += 1;
    }
    let seconds = (to - from).as_secs_f64().max(0.001);
    println!(
        "{what}: {} answers in {seconds:.1} s ({:.1}/s), p99 {p99:?}, slowest {:?}, by status {statuses:?}",
        within.len(),
        within.len() as f64 / seconds,
        slowest(&within)
    );
    within
}

/// The header `name` of `response`, if it has one; panics if it is not text.
pub fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    let text = value
        .to_str()
        .unwrap_or_else(|_| panic!("header {name} is not text: {value:?}"));
    Some(text.to_string())
}

/// `answer` is sales' "retry shortly": 503 problem+json with `Retry-After`.
pub fn assert_retry_later(answer: &Answer) {
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json", "{answer:?}");
    assert!(answer.retry_after.is_some(), "Retry-After: {answer:?}");
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
