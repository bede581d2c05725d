//! The ceilings: what the database and LocalStack give with no service in between.
//!
//! `checkout_tx` is the checkout transaction of `services/sales/src/store.rs`
//! (without an idempotency key), statement for statement: the conditional UPDATE,
//! INSERT order, SELECT remaining stock, COMMIT; and on a miss the shortage path (join
//! the open restock request; else lock the product row, lock or open the request,
//! outbox row). It runs in a database of its own (same schema, same server), so its
//! outbox is never relayed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sns::types::MessageAttributeValue;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use tokio::sync::Mutex;

use crate::load::{self, Outcome};

/// How often the service tries a transaction chosen as a deadlock victim (store.rs).
const MAX_ATTEMPTS: u32 = 5;

/// One checkout of `quantity` of `sku`, retried on deadlock/lock-wait timeout like the service.
pub async fn checkout(pool: &Pool, sku: &str, quantity: u32) -> Outcome {
    let mut attempt = 1;
    loop {
        match checkout_tx(pool, sku, quantity).await {
            Ok(outcome) => return outcome,
            Err(err) if attempt < MAX_ATTEMPTS && stockflow_shared::db::is_retryable(&err) => {
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(_) => return Outcome::Transport,
        }
    }
}

async fn checkout_tx(pool: &Pool, sku: &str, quantity: u32) -> Result<Outcome, mysql_async::Error> {
    let mut conn = pool.get_conn().await?;
    // The services' transaction options (isolation level included).
    let mut tx = conn.start_transaction(stockflow_shared::db::tx_opts()).await?;
    loop {
        tx.exec_drop(
            "UPDATE products SET stock = stock - ? WHERE sku = ? AND stock >= ?",
            (quantity, sku, quantity),
        )
        .await?;
        if tx.affected_rows() == 1 {
            tx.exec_drop(
                "INSERT INTO orders (sku, quantity, requester, correlation_id) VALUES (?, ?, ?, ?)",
                (sku, quantity, "bench", "ceiling"),
            )
            .await?;
            let _order_id = tx.last_insert_id().unwrap_or_default();
            let _remaining: Option<i64> = tx
                .exec_first("SELECT stock FROM products WHERE sku = ?", (sku,))
                .await?;
            tx.commit().await?;
            return Ok(Outcome::Sold);
        }
        let open: Option<String> = tx
            .exec_first("SELECT id FROM restock_requests WHERE open_sku = ?", (sku,))
            .await?;
        if let Some(id) = open {
            tx.exec_drop(
                "UPDATE restock_requests SET shortages = shortages + 1 WHERE id = ? AND open_sku IS NOT NULL",
                (&id,),
            )
            .await?;
            if tx.affected_rows() == 1 {
                tx.commit().await?;
                return Ok(Outcome::OutOfStock);
            }
        }
        let product: Option<(i64, i64, String, Option<String>)> = tx
            .exec_first(
                "SELECT p.stock, p.reorder_quantity, p.factory_id, r.id FROM products p \
                 LEFT JOIN restock_requests r ON r.open_sku = p.sku WHERE p.sku = ? FOR UPDATE",
                (sku,),
            )
            .await?;
        let Some((stock, reorder_quantity, factory_id, open)) = product else {
            tx.rollback().await?;
            return Ok(Outcome::ClientError);
        };
        if stock >= i64::from(quantity) {
            continue;
        }
        if let Some(id) = open {
            tx.exec_drop(
                "UPDATE restock_requests SET shortages = shortages + 1 WHERE id = ?",
                (&id,),
            )
            .await?;
        } else {
            let id = uuid::Uuid::new_v4().to_string();
            let quantity_ordered = reorder_quantity.max(i64::from(quantity) - stock);
            let now = chrono::Utc::now();
            tx.exec_drop(
                "INSERT INTO restock_requests (id, sku, quantity, factory_id, requester, open_sku, correlation_id, requested_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (&id, sku, quantity_ordered, &factory_id, "bench", sku, "ceiling", now.naive_utc()),
            )
            .await?;
            let payload = serde_json::json!({
                "restock_request_id": id, "sku": sku, "quantity": quantity_ordered,
                "factory_id": factory_id, "requester": "bench", "requested_at": now,
            })
            .to_string();
            tx.exec_drop(
                "INSERT INTO outbox (topic, event_type, aggregate_id, correlation_id, payload) VALUES (?, ?, ?, ?, ?)",
                ("stock_empty", "stock_empty", &id, "ceiling", payload),
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(Outcome::OutOfStock);
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
