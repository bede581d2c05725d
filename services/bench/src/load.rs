//! Closed-loop load: `clients` tasks each run one operation after another until the
//! request budget or the time limit is spent; every latency goes into an HDR histogram.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one request answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 200: sold.
    Sold,
    /// 409: out of stock (a business answer, not an error).
    OutOfStock,
    /// Any other 4xx.
    ClientError,
    /// 5xx.
    ServerError,
    /// No answer: connection refused, timeout, database error in the direct client.
    Transport,
}

/// Latencies in microseconds, 1 µs .. 120 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds")
}

/// The result of one measured phase.
#[derive(Clone)]
pub struct Stats {
    pub clients: usize,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub sold: u64,
    pub out_of_stock: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.sold + self.out_of_stock + self.client_errors + self.server_errors + self.transport_errors
    }

    /// Answered requests (sold or out of stock) per second.
    pub fn throughput(&self) -> f64 {
        (self.sold + self.out_of_stock) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn errors(&self) -> u64 {
        self.client_errors + self.server_errors + self.transport_errors
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.latency.max() as f64 / 1000.0
    }

    pub fn summary(&self) -> String {
        format!(
            "{:.0} req/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.1} ms; {} requests in {:.1} s: {} sold, {} out of stock, errors {} (4xx {}, 5xx {}, transport {})",
            self.throughput(),
            self.ms(0.50),
            self.ms(0.95),
            self.ms(0.99),
            self.max_ms(),
            self.requests(),
            self.elapsed.as_secs_f64(),
            self.sold,
            self.out_of_stock,
            self.errors(),
            self.client_errors,
            self.server_errors,
            self.transport_errors
        )
    }
}

/// Runs `op(i)` for i = 0, 1, … from `clients` concurrent tasks until `requests` were
/// issued or `limit` is over.
pub async fn closed_loop<F, Fut>(clients: usize, requests: u64, limit: Duration, op: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let op = op.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut counts = [0u64; 5];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                let outcome = op(i).await;
                latency.saturating_record(t0.elapsed().as_micros().max(1) as u64);
                counts[outcome as usize] += 1;
            }
            (latency, counts)
        }));
    }
    let mut stats = Stats {
        clients,
        elapsed: Duration::ZERO,
        latency: histogram(),
        sold: 0,
        out_of_stock: 0,
        client_errors: 0,
        server_errors: 0,
        transport_errors: 0,
    };
    for task in tasks {
        let (latency, counts) = task.await.expect("load task panicked");
        stats.latency.add(&latency).expect("same histogram bounds");
        stats.sold += counts[Outcome::Sold as usize];
        stats.out_of_stock += counts[Outcome::OutOfStock as usize];
        stats.client_errors += counts[Outcome::ClientError as usize];
        stats.server_errors += counts[Outcome::ServerError as usize];
        stats.transport_errors += counts[Outcome::Transport as usize];
    }
    stats.elapsed = start.elapsed();
    stats
}

/// `POST /checkout` of `quantity` of `sku`; the body is read so the connection is reused.
pub async fn checkout(http: &reqwest::Client, url: &str, sku: &str, quantity: u32) -> (Outcome, Option<String>) {
    let body = serde_json::json!({ "sku": sku, "quantity": quantity, "requester": "bench" });
    let response = match http.post(url).json(&body).send().await {
        Ok(response) => response,
        Err(_) => return (Outcome::Transport, None),
    };
    let status = response.status().as_u16();
    let text = response.text().await.ok();
    let outcome = match status {
        200 => Outcome::Sold,
        409 => Outcome::OutOfStock,
        400..=499 => Outcome::ClientError,
        500..=599 => Outcome::ServerError,
        _ => Outcome::Transport,
    };
    (outcome, text)
}

/// `GET url` (the HTTP floor: the same client and server with no work behind them);
/// 200 counts as `Sold`.
pub async fn get(http: &reqwest::Client, url: &str) -> Outcome {
    match http.get(url).send().await {
        Ok(response) if response.status().is_success() => match response.bytes().await {
            Ok(_) => Outcome::Sold,
            Err(_) => Outcome::Transport,
        },
        Ok(response) if response.status().is_server_error() => Outcome::ServerError,
        Ok(_) => Outcome::ClientError,
        Err(_) => Outcome::Transport,
    }
}

/// A quantile of a list of milliseconds (nearest rank); 0 for an empty list.
pub fn quantile(sorted_ms: &[f64], q: f64) -> f64 {
    if sorted_ms.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted_ms.len() as f64).ceil() as usize).clamp(1, sorted_ms.len());
    sorted_ms[rank - 1]
}
