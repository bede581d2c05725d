//! The ceilings: what the database and LocalStack give with no service in between.
//!
//! `checkout` is the warehouse's own checkout transaction (`warehouse::checkout::transact`)
//! with one purchase per transaction, so the ceiling and the service can never drift
//! apart; `bare_update` is the single conditional `UPDATE`, the hot row's physical limit.
//! Both run in a database of their own (same schema, same server), whose outbox is
//! never relayed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sns::types::MessageAttributeValue;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_contracts::names;
use stockflow_messaging::aws::{self, AwsSettings, Resources};
use stockflow_messaging::sqs;
use tokio::sync::{Mutex, Semaphore, watch};
use warehouse::checkout::{self, Purchase, Recorded};
use warehouse::{Quantity, Sku};

use crate::load::RequestOutcome;

/// One checkout of `quantity` of `sku` in a transaction of its own: the warehouse's
/// checkout itself (`warehouse::checkout::transact`), on a bare pool, one purchase per
/// transaction, deadlock victims retried as the service does.
pub async fn checkout(pool: &Pool, sku: &str, quantity: u32) -> RequestOutcome {
    let (Ok(sku), Ok(quantity)) = (Sku::parse(sku), Quantity::new(i64::from(quantity))) else {
        return RequestOutcome::ClientError;
    };
    let purchase = Purchase {
        sku,
        quantity,
        requester: "bench".into(),
        correlation_id: "ceiling".into(),
        key: None,
    };
    match checkout::transact(pool, std::slice::from_ref(&purchase)).await {
        Ok(committed) => match committed.recorded.first() {
            Some(Recorded::Fresh(checkout::CheckoutOutcome::Sold { .. })) => RequestOutcome::Sold,
            Some(Recorded::Fresh(checkout::CheckoutOutcome::OutOfStock { .. })) => RequestOutcome::OutOfStock,
            _ => RequestOutcome::ClientError,
        },
        Err(_) => RequestOutcome::Transport,
    }
}

/// The hot row's physical limit: the bare conditional decrement of one unit, autocommit,
/// with nothing else (no order row, no shortage path). Sold if a row changed.
pub async fn bare_update(pool: &Pool, sku: &str) -> RequestOutcome {
    let result = async {
        let mut conn = pool.get_conn().await?;
        conn.exec_drop(
            "UPDATE products SET stock = stock - 1 WHERE sku = ? AND stock >= 1",
            (sku,),
        )
        .await?;
        Ok::<_, mysql_async::Error>(conn.affected_rows())
    }
    .await;
    match result {
        Ok(1) => RequestOutcome::Sold,
        Ok(_) => RequestOutcome::OutOfStock,
        Err(_) => RequestOutcome::Transport,
    }
}

/// One long-poll receive of up to `max` (at most ten) messages, as the workers do;
/// `None` (after a short pause) when SQS did not answer.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: usize,
    wait_seconds: i32,
) -> Option<Vec<aws_sdk_sqs::types::Message>> {
    match sqs::Receive::up_to(max)
        .waiting(wait_seconds)
        .from(sqs, queue_url)
        .await
    {
        Ok(messages) => Some(messages),
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// The bare hops of a restock: SNS publish → SQS receive → SNS publish → SQS receive,
/// through a private copy of the topology (stock_empty → stock_queue, stock_arrival →
/// stock_inc_queue), each queue read by one long-polling loop as the workers do.
pub struct HopResult {
    /// Per chain: when its first publish began (ms after the first chain's), then its
    /// first receive, second publish done and second receive, ms after its first publish.
    pub chains: Vec<Chain>,
    pub lost: usize,
}

/// One chain's timings in ms (see [`HopResult::chains`]).
#[derive(Clone, Copy, Debug)]
pub struct Chain {
    pub started: f64,
    pub first_receive: f64,
    pub second_publish: f64,
    pub second_receive: f64,
}

impl HopResult {
    /// From the first chain's publish to the last chain's second receive, ms.
    pub fn span_ms(&self) -> f64 {
        self.chains
            .iter()
            .map(|c| c.started + c.second_receive)
            .fold(0.0, f64::max)
    }
}

/// The private topology of the bare hops, and the clients that reach it.
pub struct Topology {
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub stock_empty_arn: String,
    pub stock_arrival_arn: String,
    pub stock_queue: String,
    pub stock_inc_queue: String,
}

impl Topology {
    /// The topology deployed under `prefix` at `endpoint`, with its clients.
    pub async fn discover(endpoint: &str, prefix: &str) -> anyhow::Result<Self> {
        let settings = AwsSettings {
            aws_endpoint_url: endpoint.to_string(),
            aws_region: "us-east-1".into(),
            stockflow_prefix: prefix.to_string(),
        };
        let sdk = aws::sdk_config(&settings).await;
        let (sns, sqs) = (aws_sdk_sns::Client::new(&sdk), aws_sdk_sqs::Client::new(&sdk));
        let res = Resources::new(&settings);
        Ok(Self {
            stock_empty_arn: res.topic_arn(&sns, names::STOCK_EMPTY_TOPIC).await?,
            stock_arrival_arn: res.topic_arn(&sns, names::STOCK_ARRIVAL_TOPIC).await?,
            stock_queue: res.queue_url(&sqs, names::STOCK_QUEUE).await?,
            stock_inc_queue: res.queue_url(&sqs, names::STOCK_INC_QUEUE).await?,
            sns,
            sqs,
        })
    }
}

/// How the first publishes come.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// One chain every 1/rate seconds.
    Rate(f64),
    /// Every chain at once, `publishers` publishing at a time.
    Burst { publishers: usize },
}

/// How the bare chains run: how many, how they start, and the workers' consumer
/// discipline on each queue (messages in hand at once, the long-poll wait).
pub struct HopPlan {
    pub chains: usize,
    pub pace: Pace,
    /// Messages in hand at once per queue (`WORKER_CONCURRENCY`); a receive asks for the
    /// free ones, at most ten, as `shared::consumer` does.
    pub in_flight: usize,
    pub wait_seconds: i32,
    /// How long to wait for the last chain.
    pub deadline: Duration,
}

/// How long the two receive loops may take to get a first answer from their queues.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// One receive loop on a queue: what it needs besides its handler.
struct Consumer {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    in_flight: usize,
    wait_seconds: i32,
    stop: watch::Receiver<bool>,
    /// Set once the queue answered a first receive (then the loop long-polls).
    ready: watch::Sender<bool>,
}

/// Receives from the queue with at most `in_flight` messages in hand, runs `handle` on
/// each and deletes it after (the permit is released when `handle` returns, as the
/// workers' deletes are batched after the handler), until `stop`. The first receive
/// does not wait: its answer tells that the queue is reached, so that the next one, a
/// long poll like the workers', is waiting before anything is published.
fn consume<H, Fut>(consumer: Consumer, handle: H) -> tokio::task::JoinHandle<()>
where
    H: Fn(String, Instant) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let Consumer {
        sqs,
        queue_url,
        in_flight,
        wait_seconds,
        stop,
        ready,
    } = consumer;
    let handle = Arc::new(handle);
    let permits = Arc::new(Semaphore::new(in_flight.max(1)));
    tokio::spawn(async move {
        let mut wait = 0;
        while !*stop.borrow() {
            let Ok(first) = permits.clone().acquire_owned().await else {
                return;
            };
            let mut held = vec![first];
            while held.len() < 10 {
                match permits.clone().try_acquire_owned() {
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            let Some(messages) = receive(&sqs, &queue_url, held.len(), wait).await else {
                continue;
            };
            if !*ready.borrow() {
                wait = wait_seconds;
                ready.send_replace(true);
            }
            let received = Instant::now();
            for m in messages {
                let Some(permit) = held.pop() else { break };
                let (sqs, url, handle) = (sqs.clone(), queue_url.clone(), handle.clone());
                tokio::spawn(async move {
                    handle(m.body().unwrap_or_default().to_string(), received).await;
                    drop(permit);
                    let receipt = m.receipt_handle().unwrap_or_default();
                    let _ = sqs::delete_batch(&sqs, &url, [receipt]).await;
                });
            }
        }
    })
}

/// When a chain's message came off stock_queue and when its second publish was done.
#[derive(Clone, Copy)]
struct Relayed {
    received: Instant,
    published: Instant,
}

pub async fn hops(topology: Topology, plan: HopPlan) -> anyhow::Result<HopResult> {
    let topology = Arc::new(topology);
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let relayed: Arc<Mutex<HashMap<usize, Relayed>>> = Arc::default();
    let done: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let (stop, stopped) = watch::channel(false);
    let consumer = |queue_url: &str| {
        let (ready, is_ready) = watch::channel(false);
        let consumer = Consumer {
            sqs: topology.sqs.clone(),
            queue_url: queue_url.to_string(),
            in_flight: plan.in_flight,
            wait_seconds: plan.wait_seconds,
            stop: stopped.clone(),
            ready,
        };
        (consumer, is_ready)
    };

    // Hop 2 and 3: receive from stock_queue, publish to stock_arrival at once.
    let (relay_consumer, mut relay_ready) = consumer(&topology.stock_queue);
    let relay = {
        let (topology, relayed) = (topology.clone(), relayed.clone());
        consume(relay_consumer, move |body, received| {
            let (topology, relayed) = (topology.clone(), relayed.clone());
            async move {
                let published = publish(&topology.sns, &topology.stock_arrival_arn, &body, "stock_arrival").await;
                if published && let Ok(i) = body.parse::<usize>() {
                    let published = Instant::now();
                    relayed.lock().await.insert(i, Relayed { received, published });
                }
            }
        })
    };
    // Hop 4: receive from stock_inc_queue.
    let (sink_consumer, mut sink_ready) = consumer(&topology.stock_inc_queue);
    let sink = {
        let done = done.clone();
        consume(sink_consumer, move |body, received| {
            let done = done.clone();
            async move {
                if let Ok(i) = body.parse::<usize>() {
                    done.lock().await.insert(i, received);
                }
            }
        })
    };
    // Let both long polls be waiting, as the workers' are.
    let both_ready = async {
        let _ = relay_ready.wait_for(|ready| *ready).await;
        let _ = sink_ready.wait_for(|ready| *ready).await;
    };
    if tokio::time::timeout(READY_WITHIN, both_ready).await.is_err() {
        crate::progress(format!(
            "bare hops: the queues did not answer within {} s; publishing anyway",
            READY_WITHIN.as_secs()
        ));
    }

    // Hop 1: publish to stock_empty at the given pace.
    let publishing = Arc::new(Semaphore::new(match plan.pace {
        Pace::Rate(_) => plan.chains.max(1),
        Pace::Burst { publishers } => publishers.max(1),
    }));
    let every = match plan.pace {
        Pace::Rate(rate) => Duration::from_secs_f64(1.0 / rate.max(0.1)),
        Pace::Burst { .. } => Duration::ZERO,
    };
    let mut publishers = Vec::new();
    for i in 0..plan.chains {
        let at = tokio::time::Instant::now() + every * i as u32;
        let (topology, sent, publishing) = (topology.clone(), sent.clone(), publishing.clone());
        publishers.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let _permit = publishing.acquire().await;
            let t0 = Instant::now();
            sent.lock().await.insert(i, t0);
            publish(&topology.sns, &topology.stock_empty_arn, &i.to_string(), "stock_empty").await;
        }));
    }
    futures::future::join_all(publishers).await;
    let deadline = Instant::now() + plan.deadline;
    while done.lock().await.len() < plan.chains && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    relay.abort();
    sink.abort();

    let sent = sent.lock().await;
    let relayed = relayed.lock().await;
    let done = done.lock().await;
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    let origin = sent.values().min().copied();
    let mut result = HopResult {
        chains: Vec::new(),
        lost: 0,
    };
    for i in 0..plan.chains {
        match (origin, sent.get(&i), relayed.get(&i), done.get(&i)) {
            (Some(origin), Some(&t0), Some(relay), Some(&r2)) => result.chains.push(Chain {
                started: ms(origin, t0),
                first_receive: ms(t0, relay.received),
                second_publish: ms(t0, relay.published),
                second_receive: ms(t0, r2),
            }),
            _ => result.lost += 1,
        }
    }
    Ok(result)
}

/// Publishes `body` to `topic_arn` with the `event_type` attribute the services set;
/// whether SNS took it.
async fn publish(sns: &aws_sdk_sns::Client, topic_arn: &str, body: &str, event_type: &str) -> bool {
    let event_type = MessageAttributeValue::builder()
        .data_type("String")
        .string_value(event_type)
        .build()
        .expect("data type and value are set");
    sns.publish()
        .topic_arn(topic_arn)
        .message(body)
        .message_attributes("event_type", event_type)
        .send()
        .await
        .is_ok()
}
