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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::publisher::Publisher;
use crate::sqs;
use stockflow_contracts::FailureKind;
use stockflow_contracts::events::{ATTR_CORRELATION_ID, Event};

mod disposal;
mod route;

pub use route::QueueRoute;

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
            while held.len() < sqs::MAX_BATCH {
                match permits.clone().try_acquire_owned() {
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            let received = tokio::select! {
                _ = shutdown.cancelled() => break,
                r = this.receive(held.len()) => r,
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

    async fn receive(&self, max: usize) -> anyhow::Result<Vec<Message>> {
        Ok(sqs::Receive::up_to(max)
            .waiting(self.settings.wait_seconds)
            .hidden_for(self.settings.visibility_seconds)
            .from(&self.sqs, &self.route.queue_url)
            .await?)
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
}

fn delivery_of(message: &Message) -> Delivery {
    Delivery {
        message_id: message.message_id().unwrap_or_default().to_string(),
        body: message.body().unwrap_or_default().to_string(),
        receive_count: sqs::receive_count(message).unwrap_or(1),
        correlation_id: sqs::string_attribute(message, ATTR_CORRELATION_ID)
            .unwrap_or("-")
            .to_string(),
    }
}

fn retry_delay(base_seconds: i32, receive_count: u32) -> i32 {
    let factor = 1i64 << receive_count.saturating_sub(1).min(20);
    (i64::from(base_seconds.max(0)) * factor).min(900) as i32
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
