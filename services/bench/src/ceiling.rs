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
use tokio::sync::Mutex;
use warehouse::checkout::{self, Purchase, Recorded};

use crate::load::{self, Outcome};

/// One checkout of `quantity` of `sku` in a transaction of its own: the warehouse's
/// checkout itself (`warehouse::checkout::transact`), on a bare pool, one purchase per
/// transaction, deadlock victims retried as the service does.
pub async fn checkout(pool: &Pool, sku: &str, quantity: u32) -> Outcome {
    let purchase = Purchase {
        sku: sku.to_string(),
        quantity,
        requester: "bench".into(),
        correlation_id: "ceiling".into(),
        key: None,
    };
    match checkout::transact(pool, std::slice::from_ref(&purchase)).await {
        Ok(committed) => match committed.recorded.first() {
            Some(Recorded::Fresh(checkout::Outcome::Sold { .. })) => Outcome::Sold,
            Some(Recorded::Fresh(checkout::Outcome::OutOfStock { .. })) => Outcome::OutOfStock,
            _ => Outcome::ClientError,
        },
        Err(_) => Outcome::Transport,
    }
}

/// The hot row's physical limit: the bare conditional decrement of one unit, autocommit,
/// with nothing else (no order row, no shortage path). Sold if a row changed.
pub async fn bare_update(pool: &Pool, sku: &str) -> Outcome {
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
        Ok(1) => Outcome::Sold,
        Ok(_) => Outcome::OutOfStock,
        Err(_) => Outcome::Transport,
    }
}

/// One long-poll receive of up to ten messages, as the workers do; `None` (after a
/// short pause) when SQS did not answer.
async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    wait_seconds: i32,
) -> Option<Vec<aws_sdk_sqs::types::Message>> {
    match sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .send()
        .await
    {
        Ok(out) => Some(out.messages.unwrap_or_default()),
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
    /// Per chain: (first receive, second publish done, second receive), ms after the first publish.
    pub chains: Vec<(f64, f64, f64)>,
    pub lost: usize,
}

pub struct Topology {
    pub stock_empty_arn: String,
    pub stock_arrival_arn: String,
    pub stock_queue: String,
    pub stock_inc_queue: String,
}

pub async fn hops(
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
    topology: Topology,
    chains: usize,
    rate_per_s: f64,
    wait_seconds: i32,
) -> anyhow::Result<HopResult> {
    let topology = Arc::new(topology);
    let sent: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let first: Arc<Mutex<HashMap<usize, (Instant, Instant)>>> = Arc::default();
    let done: Arc<Mutex<HashMap<usize, Instant>>> = Arc::default();
    let stop = tokio_stop();

    // Hop 2 and 3: receive from stock_queue, publish to stock_arrival at once.
    let relay = {
        let (sns, sqs, topology, first, stop) = (
            sns.clone(),
            sqs.clone(),
            topology.clone(),
            first.clone(),
            stop.1.clone(),
        );
        tokio::spawn(async move {
            while !*stop.borrow() {
                let Some(messages) = receive(&sqs, &topology.stock_queue, wait_seconds).await else {
                    continue;
                };
                for m in messages {
                    let received = Instant::now();
                    let (sns, sqs, topology, first) = (sns.clone(), sqs.clone(), topology.clone(), first.clone());
                    tokio::spawn(async move {
                        let body = m.body().unwrap_or_default().to_string();
                        let published = sns
                            .publish()
                            .topic_arn(&topology.stock_arrival_arn)
                            .message(body.clone())
                            .message_attributes("event_type", attr("stock_arrival"))
                            .send()
                            .await;
                        if published.is_ok()
                            && let Ok(i) = body.parse::<usize>()
                        {
                            first.lock().await.insert(i, (received, Instant::now()));
                        }
                        let _ = sqs
                            .delete_message()
                            .queue_url(&topology.stock_queue)
                            .receipt_handle(m.receipt_handle().unwrap_or_default())
                            .send()
                            .await;
                    });
                }
            }
        })
    };
    // Hop 4: receive from stock_inc_queue.
    let sink = {
        let (sqs, topology, done, stop) = (sqs.clone(), topology.clone(), done.clone(), stop.1.clone());
        tokio::spawn(async move {
            while !*stop.borrow() {
                let Some(messages) = receive(&sqs, &topology.stock_inc_queue, wait_seconds).await else {
                    continue;
                };
                let now = Instant::now();
                for m in messages {
                    if let Ok(i) = m.body().unwrap_or_default().parse::<usize>() {
                        done.lock().await.insert(i, now);
                    }
                    let sqs = sqs.clone();
                    let url = topology.stock_inc_queue.clone();
                    tokio::spawn(async move {
                        let _ = sqs
                            .delete_message()
                            .queue_url(url)
                            .receipt_handle(m.receipt_handle().unwrap_or_default())
                            .send()
                            .await;
                    });
                }
            }
        })
    };
    // Let both long polls be waiting, as the workers' are.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Hop 1: publish to stock_empty at the given rate.
    let every = Duration::from_secs_f64(1.0 / rate_per_s.max(0.1));
    let mut publishers = Vec::new();
    for i in 0..chains {
        let at = tokio::time::Instant::now() + every * i as u32;
        let (sns, topology, sent) = (sns.clone(), topology.clone(), sent.clone());
        publishers.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let t0 = Instant::now();
            sent.lock().await.insert(i, t0);
            let _ = sns
                .publish()
                .topic_arn(&topology.stock_empty_arn)
                .message(i.to_string())
                .message_attributes("event_type", attr("stock_empty"))
                .send()
                .await;
        }));
    }
    futures::future::join_all(publishers).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while done.lock().await.len() < chains && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.0.send(true);
    relay.abort();
    sink.abort();

    let sent = sent.lock().await;
    let first = first.lock().await;
    let done = done.lock().await;
    let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1000.0;
    let mut result = HopResult {
        chains: Vec::new(),
        lost: 0,
    };
    for i in 0..chains {
        match (sent.get(&i), first.get(&i), done.get(&i)) {
            (Some(&t0), Some(&(r1, p2)), Some(&r2)) => result.chains.push((ms(t0, r1), ms(t0, p2), ms(t0, r2))),
            _ => result.lost += 1,
        }
    }
    Ok(result)
}

fn tokio_stop() -> (tokio::sync::watch::Sender<bool>, tokio::sync::watch::Receiver<bool>) {
    tokio::sync::watch::channel(false)
}

fn attr(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .expect("data type and value are set")
}

/// Median, p95 and max of the hop timings, in ms.
pub fn hop_quantiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        load::quantile(values, 0.5),
        load::quantile(values, 0.95),
        values.last().copied().unwrap_or_default(),
    )
}
