//! Closed-loop load: `clients` tasks each run one operation after another until the
//! request budget or the time limit is spent; every latency goes into an HDR histogram.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What one request answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestOutcome {
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

/// Runs `op(client, i)` for i = 0, 1, … from `clients` concurrent tasks, each with its
/// own `client` from `new_client` (handed to `op` and back), until `requests` were issued
/// or `limit` is over.
pub async fn closed_loop<C, F, Fut>(
    clients: usize,
    requests: u64,
    limit: Duration,
    new_client: impl Fn() -> C,
    op: F,
) -> Stats
where
    C: Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (C, RequestOutcome)> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + limit;
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let op = op.clone();
        let next = next.clone();
        let mut client = new_client();
        tasks.push(tokio::spawn(async move {
            let mut latency = histogram();
            let mut counts = [0u64; 5];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                let (returned, outcome) = op(client, i).await;
                client = returned;
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
        stats.sold += counts[RequestOutcome::Sold as usize];
        stats.out_of_stock += counts[RequestOutcome::OutOfStock as usize];
        stats.client_errors += counts[RequestOutcome::ClientError as usize];
        stats.server_errors += counts[RequestOutcome::ServerError as usize];
        stats.transport_errors += counts[RequestOutcome::Transport as usize];
    }
    stats.elapsed = start.elapsed();
    stats
}

/// How long one request may take before it counts as a transport error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One client's keep-alive HTTP/1.1 connection to one server: no pool, no URL parsing, no
/// middleware, reconnecting after an error. The load generator shares the cores with the
/// system it measures, so it is kept as lean as the direct-SQL ceiling's MySQL client.
pub struct HttpClient {
    addr: SocketAddr,
    host: HeaderValue,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl HttpClient {
    pub fn new(addr: SocketAddr) -> Self {
        let host = HeaderValue::from_str(&addr.to_string()).expect("a socket address is a valid Host");
        Self {
            addr,
            host,
            sender: None,
        }
    }

    /// `POST /checkout` of `quantity` of `sku`: the outcome and the answer's body.
    pub async fn checkout(&mut self, sku: &str, quantity: u32) -> (RequestOutcome, Option<String>) {
        let body = serde_json::json!({ "sku": sku, "quantity": quantity, "requester": "bench" }).to_string();
        let request = Request::post("/checkout")
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)));
        match self.send(request).await {
            Some((status, body)) => (
                RequestOutcome::of(status),
                Some(String::from_utf8_lossy(&body).into_owned()),
            ),
            None => (RequestOutcome::Transport, None),
        }
    }

    /// `GET path`; a 2xx counts as `Sold` (the HTTP floor: no work behind it).
    pub async fn get(&mut self, path: &str) -> RequestOutcome {
        match self.send(Request::get(path).body(Full::new(Bytes::new()))).await {
            Some((status, _)) if (200..300).contains(&status) => RequestOutcome::Sold,
            Some((status, _)) => RequestOutcome::of(status),
            None => RequestOutcome::Transport,
        }
    }

    /// `GET path`: the body of a 2xx answer, `None` otherwise.
    pub async fn text(&mut self, path: &str) -> Option<String> {
        match self.send(Request::get(path).body(Full::new(Bytes::new()))).await {
            Some((status, body)) if (200..300).contains(&status) => Some(String::from_utf8_lossy(&body).into_owned()),
            _ => None,
        }
    }

    /// Sends `request` on the connection (opened first if needed) and reads the whole
    /// answer; `None` on any transport error or timeout, after which the next request
    /// opens a new connection.
    async fn send(&mut self, request: hyper::http::Result<Request<Full<Bytes>>>) -> Option<(u16, Bytes)> {
        let mut request = request.ok()?;
        request.headers_mut().insert(HOST, self.host.clone());
        let exchange = async {
            let sender = match &mut self.sender {
                Some(sender) if !sender.is_closed() => sender,
                slot => slot.insert(connect(self.addr).await?),
            };
            let response = sender.send_request(request).await.ok()?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, body))
        };
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await.ok().flatten();
        if answer.is_none() {
            self.sender = None;
        }
        answer
    }
}

async fn connect(addr: SocketAddr) -> Option<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.ok()?;
    tokio::spawn(connection);
    Some(sender)
}

impl RequestOutcome {
    /// The outcome an HTTP status stands for.
    fn of(status: u16) -> Self {
        match status {
            200 => RequestOutcome::Sold,
            409 => RequestOutcome::OutOfStock,
            400..=499 => RequestOutcome::ClientError,
            500..=599 => RequestOutcome::ServerError,
            _ => RequestOutcome::Transport,
        }
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

/// Median, p95 and max of a list of milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Quantiles {
    pub fn of(mut values_ms: Vec<f64>) -> Self {
        values_ms.sort_by(f64::total_cmp);
        Self {
            p50: quantile(&values_ms, 0.5),
            p95: quantile(&values_ms, 0.95),
            max: values_ms.last().copied().unwrap_or_default(),
        }
    }

    /// p50, p95 and max as three table cells, one decimal each.
    pub fn cells(&self) -> String {
        format!("{:.1} | {:.1} | {:.1}", self.p50, self.p95, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let q = Quantiles::of(vec![5.0, 1.0, 4.0, 2.0, 3.0]);
        assert_eq!(
            q,
            Quantiles {
                p50: 3.0,
                p95: 5.0,
                max: 5.0
            }
        );
        assert_eq!(q.cells(), "3.0 | 5.0 | 5.0");
        assert_eq!(Quantiles::of(Vec::new()), Quantiles::default());
    }
}
