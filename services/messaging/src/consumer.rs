//! The SQS consumer loop every worker runs.
//!
//! It long-polls a queue, decodes each message into its handler's event type, hands it
//! to the [`Handler`] with bounded concurrency, keeps the message invisible while the
//! handler works, and acts on the handler's [`Disposition`]:
//! - `Done`: the message is deleted (in batches, each entry's result checked);
//! - `Retry`: the message stays, hidden for a growing back-off, and SQS delivers it
//!   again; on the last delivery the queue's redrive policy allows, it is moved to the
//!   dead-letter queue with the reason and ops is alerted;
//! - `Reject`: a permanent failure: moved to the dead-letter queue at once with the
//!   reason as message attributes (`contracts::dead_letter`), and ops is alerted.
//!
//! A message whose body does not decode into the handler's event never reaches the
//! handler: it is rejected with the decoding error as its reason.
//!
//! The dead-letter queue and `maxReceiveCount` are read from the queue's own redrive
//! policy, so the worker and the CloudFormation template can never disagree. A crash
//! at any point loses nothing: an undeleted message becomes visible again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::publisher::Publisher;
use stockflow_contracts::FailureKind;
use stockflow_contracts::dead_letter::attr;
use stockflow_contracts::events::{ATTR_CORRELATION_ID, Event, OpsAlert, Subject};

/// What the consumer does with a message once its handler is done with it.
#[derive(Debug)]
pub enum Disposition {
    /// Processed: delete it.
    Done,
    /// A transient failure: deliver again later.
    Retry(anyhow::Error),
    /// A permanent failure: dead-letter it now, with this reason.
    Reject(String),
}

/// One received message, as the handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub message_id: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
    pub correlation_id: String,
}

/// The work a worker does with each message: it receives the decoded event.
pub trait Handler: Send + Sync + 'static {
    /// The event the queue carries.
    type Event: Event + Send + Sync;

    fn handle(&self, event: Self::Event, delivery: &Delivery) -> impl Future<Output = Disposition> + Send;
}

/// How a consumer polls and paces.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    /// Messages processed at once.
    pub max_in_flight: usize,
    /// Long-poll wait (0..=20 s).
    pub wait_seconds: i32,
    /// How long a message stays hidden while a handler holds it (extended as needed).
    pub visibility_seconds: i32,
    /// First back-off after a transient failure; doubles with each delivery.
    pub retry_base_seconds: i32,
    /// How long shutdown waits for in-flight messages.
    pub shutdown_grace: Duration,
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 16,
            wait_seconds: 20,
            visibility_seconds: 30,
            retry_base_seconds: 2,
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// A queue, its dead-letter queue and the redrive policy between them.
#[derive(Debug, Clone)]
pub struct QueueRoute {
    pub queue_name: String,
    pub queue_url: String,
    pub dlq_name: String,
    pub dlq_url: String,
    pub max_receive_count: u32,
}

impl QueueRoute {
    /// Reads the queue's redrive policy to find its DLQ and `maxReceiveCount`.
    pub async fn discover(sqs: &aws_sdk_sqs::Client, queue_name: &str, queue_url: &str) -> anyhow::Result<Self> {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .with_context(|| format!("cannot read the attributes of `{queue_name}`"))?;
        let policy = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .with_context(|| format!("`{queue_name}` has no redrive policy: deploy localstack/stockflow.yaml"))?;
        let policy: serde_json::Value = serde_json::from_str(policy)?;
        let dlq_arn = policy["deadLetterTargetArn"]
            .as_str()
            .context("redrive policy without deadLetterTargetArn")?;
        let max_receive_count = match &policy["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .context("redrive policy without maxReceiveCount")? as u32;
        let dlq_name = dlq_arn.rsplit(':').next().unwrap_or_default().to_string();
        let dlq_url = sqs
            .get_queue_url()
            .queue_name(&dlq_name)
            .send()
            .await
            .with_context(|| format!("dead-letter queue `{dlq_name}` not found"))?
            .queue_url
            .unwrap_or_default();
        Ok(Self {
            queue_name: queue_name.to_string(),
            queue_url: queue_url.to_string(),
            dlq_name,
            dlq_url,
            max_receive_count,
        })
    }
}

/// Consumes one queue with one handler.
pub struct Consumer<H> {
    service: &'static str,
    sqs: aws_sdk_sqs::Client,
    route: QueueRoute,
    settings: ConsumerSettings,
    handler: Arc<H>,
    alerts: Publisher,
}

impl<H: Handler> Consumer<H> {
    pub fn new(
        service: &'static str,
        sqs: aws_sdk_sqs::Client,
        route: QueueRoute,
        settings: ConsumerSettings,
        handler: H,
        alerts: Publisher,
    ) -> Self {
        Self {
            service,
            sqs,
            route,
            settings,
            handler: Arc::new(handler),
            alerts,
        }
    }

    /// Receives and processes until `shutdown`, then finishes what it holds (within
    /// the grace period) and flushes pending deletes.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.settings.max_in_flight.max(1)));
        let (done_tx, done_rx) = mpsc::channel::<String>(1024);
        let deleter = tokio::spawn(this.clone().delete_in_batches(done_rx));
        let mut tasks = JoinSet::new();
        let mut receive_failures = 0u32;

        tracing::info!(queue = %this.route.queue_name, dlq = %this.route.dlq_name, max_receive_count = this.route.max_receive_count, "consuming");
        while !shutdown.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => permit.expect("semaphore never closes"),
            };
            let mut held = vec![first];
            while held.len() < 10 {
                match permits.clone().try_acquire_owned() {
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            let received = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = this.receive(held.len() as i32) => r,
            };
            let messages = match received {
                Ok(messages) => {
                    receive_failures = 0;
                    messages
                }
                Err(err) => {
                    receive_failures += 1;
                    metrics::counter!("sqs_receive_failures_total", "queue" => this.route.queue_name.clone())
                        .increment(1);
                    let pause = Duration::from_millis(250 * u64::from(receive_failures.min(20)));
                    tracing::warn!(queue = %this.route.queue_name, error = %format!("{err:#}"), retry_in_ms = pause.as_millis() as u64, "cannot receive; is SQS reachable?");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            };
            for message in messages {
                let Some(permit) = held.pop() else { break };
                let this = this.clone();
                let done_tx = done_tx.clone();
                tasks.spawn(async move {
                    this.process(message, done_tx).await;
                    drop(permit);
                });
            }
        }

        let grace = this.settings.shutdown_grace;
        let finished = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if finished.is_err() {
            tracing::warn!(
                in_flight = tasks.len(),
                "shutdown grace period over: abandoning in-flight messages (they will be delivered again)"
            );
            tasks.abort_all();
        }
        drop(done_tx);
        deleter.await.ok();
        tracing::info!(queue = %this.route.queue_name, "consumer stopped");
    }

    async fn receive(&self, max: i32) -> anyhow::Result<Vec<Message>> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.route.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(self.settings.wait_seconds)
            .visibility_timeout(self.settings.visibility_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await?;
        Ok(out.messages.unwrap_or_default())
    }

    async fn process(&self, message: Message, done: mpsc::Sender<String>) {
        let delivery = delivery_of(&message);
        let receipt = message.receipt_handle().unwrap_or_default().to_string();
        let span = tracing::info_span!("message", queue = %self.route.queue_name, message_id = %delivery.message_id, correlation_id = %delivery.correlation_id, attempt = delivery.receive_count);
        let queue = self.route.queue_name.clone();
        metrics::counter!("messages_received_total", "queue" => queue.clone()).increment(1);
        let started = std::time::Instant::now();
        async {
            let outcome = match serde_json::from_str::<H::Event>(&delivery.body) {
                Ok(event) => self.handle_with_heartbeat(event, &delivery, &receipt).await,
                Err(err) => Disposition::Reject(format!("malformed {} message: {err}", H::Event::TYPE)),
            };
            metrics::histogram!("message_handling_seconds", "queue" => queue.clone()).record(started.elapsed().as_secs_f64());
            let result = match &outcome {
                Disposition::Done => "processed",
                Disposition::Retry(_) if delivery.receive_count >= self.route.max_receive_count => "dead_lettered",
                Disposition::Retry(_) => "failed",
                Disposition::Reject(_) => "dead_lettered",
            };
            metrics::counter!("messages_handled_total", "queue" => queue, "result" => result).increment(1);
            match outcome {
                Disposition::Done => {
                    tracing::info!("processed");
                    done.send(receipt).await.ok();
                }
                Disposition::Retry(err) if delivery.receive_count >= self.route.max_receive_count => {
                    let reason = format!("gave up after {} deliveries: {err:#}", delivery.receive_count);
                    tracing::error!(error = %reason, "last allowed delivery failed: dead-lettering");
                    self.dead_letter(&message, &delivery, &receipt, FailureKind::FinalAttemptFailed, &reason)
                        .await;
                }
                Disposition::Retry(err) => {
                    let hide = retry_delay(self.settings.retry_base_seconds, delivery.receive_count);
                    tracing::warn!(error = %format!("{err:#}"), retry_in_s = hide, "transient failure: will be delivered again");
                    self.set_visibility(&receipt, hide).await;
                }
                Disposition::Reject(reason) => {
                    tracing::error!(error = %reason, "permanent failure: dead-lettering");
                    self.dead_letter(&message, &delivery, &receipt, FailureKind::DeadLettered, &reason)
                        .await;
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Runs the handler, extending the message's visibility while it works.
    async fn handle_with_heartbeat(&self, event: H::Event, delivery: &Delivery, receipt: &str) -> Disposition {
        let every = Duration::from_secs((self.settings.visibility_seconds.max(2) / 2) as u64);
        let work = self.handler.handle(event, delivery);
        tokio::pin!(work);
        loop {
            tokio::select! {
                outcome = &mut work => return outcome,
                _ = tokio::time::sleep(every) => self.set_visibility(receipt, self.settings.visibility_seconds).await,
            }
        }
    }

    async fn set_visibility(&self, receipt: &str, seconds: i32) {
        let result = self
            .sqs
            .change_message_visibility()
            .queue_url(&self.route.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "cannot change visibility; the message returns after its current timeout");
        }
    }

    /// Moves the message to the DLQ with the reason attached, then deletes it from
    /// the source queue and alerts ops. If the move fails the message is left where it
    /// is, so the redrive policy still catches it.
    async fn dead_letter(
        &self,
        message: &Message,
        delivery: &Delivery,
        receipt: &str,
        kind: FailureKind,
        reason: &str,
    ) {
        let mut attributes: HashMap<String, MessageAttributeValue> =
            message.message_attributes().cloned().unwrap_or_default();
        let mut put = |name: &str, value: String| {
            if let Ok(v) = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
            {
                attributes.insert(name.to_string(), v);
            }
        };
        put(attr::FAILURE_REASON, truncate(reason, 1000));
        put(attr::FAILURE_KIND, kind.to_string());
        put(attr::FAILURE_SERVICE, self.service.to_string());
        put(attr::FAILURE_ATTEMPTS, delivery.receive_count.to_string());
        put(attr::SOURCE_QUEUE, self.route.queue_name.clone());
        put(attr::ORIGINAL_MESSAGE_ID, delivery.message_id.clone());
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.route.dlq_url)
            .message_body(&delivery.body)
            .set_message_attributes(Some(attributes))
            .send()
            .await;
        let now_in = match sent {
            Ok(_) => {
                self.delete_one(receipt).await;
                self.route.dlq_name.clone()
            }
            Err(err) => {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "cannot move the message to the DLQ; the redrive policy will move it");
                self.route.queue_name.clone()
            }
        };
        let subject = Subject::of_body(&delivery.body);
        let alert = OpsAlert {
            kind,
            service: self.service.to_string(),
            queue: self.route.queue_name.clone(),
            now_in,
            error: reason.to_string(),
            attempts: delivery.receive_count,
            message_id: delivery.message_id.clone(),
            sku: subject.sku,
            restock_request_id: subject.restock_request_id,
            correlation_id: Some(delivery.correlation_id.clone()),
            body: delivery.body.clone(),
            at: Utc::now(),
        };
        if let Err(err) = self.alerts.publish(&alert, &delivery.correlation_id).await {
            tracing::error!(error = %format!("{err:#}"), "cannot publish the ops alert; the DLQ alarm still fires");
        }
    }

    async fn delete_one(&self, receipt: &str) {
        let result = self
            .sqs
            .delete_message()
            .queue_url(&self.route.queue_url)
            .receipt_handle(receipt)
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "delete failed; the message may be delivered again (handled idempotently)");
        }
    }

    /// Deletes processed messages in batches of up to ten, checking each entry.
    async fn delete_in_batches(self: Arc<Self>, mut done: mpsc::Receiver<String>) {
        let mut batch = Vec::with_capacity(10);
        while done.recv_many(&mut batch, 10).await > 0 {
            let entries = batch
                .drain(..)
                .enumerate()
                .filter_map(|(i, receipt)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            match self
                .sqs
                .delete_message_batch()
                .queue_url(&self.route.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    for failed in out.failed() {
                        tracing::warn!(
                            entry = failed.id(),
                            code = failed.code(),
                            reason = failed.message().unwrap_or_default(),
                            "delete failed for one message; it may be delivered again (handled idempotently)"
                        );
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "batch delete failed; those messages may be delivered again (handled idempotently)");
                }
            }
        }
    }
}

fn delivery_of(message: &Message) -> Delivery {
    let receive_count = message
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let correlation_id = message
        .message_attributes()
        .and_then(|a| a.get(ATTR_CORRELATION_ID))
        .and_then(|v| v.string_value())
        .unwrap_or("-")
        .to_string();
    Delivery {
        message_id: message.message_id().unwrap_or_default().to_string(),
        body: message.body().unwrap_or_default().to_string(),
        receive_count,
        correlation_id,
    }
}

/// Seconds to hide a message after its `receive_count`-th delivery failed:
/// base, 2×base, 4×base, … capped at 15 minutes.
fn retry_delay(base_seconds: i32, receive_count: u32) -> i32 {
    let factor = 1i64 << receive_count.saturating_sub(1).min(20);
    (i64::from(base_seconds.max(0)) * factor).min(900) as i32
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_per_delivery_and_is_capped() {
        assert_eq!(retry_delay(2, 1), 2);
        assert_eq!(retry_delay(2, 2), 4);
        assert_eq!(retry_delay(2, 3), 8);
        assert_eq!(retry_delay(2, 40), 900);
        assert_eq!(retry_delay(0, 3), 0);
    }

    #[test]
    fn a_message_without_attributes_is_a_first_delivery() {
        let message = Message::builder().message_id("m-1").body("{}").build();
        let delivery = delivery_of(&message);
        assert_eq!(delivery.receive_count, 1);
        assert_eq!(delivery.correlation_id, "-");
        assert_eq!(delivery.body, "{}");
    }
}
