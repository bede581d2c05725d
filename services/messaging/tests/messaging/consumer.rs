//! The typed SQS consumer: a message handled is deleted and never comes back; a transient
//! failure comes back after its back-off and is dead-lettered on the last allowed
//! delivery; a permanent one, or a body that does not decode, is dead-lettered at once
//! with its reason and ops is alerted; a slow handler keeps its message; no more handlers
//! run than allowed; shutdown finishes what it holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use stockflow_contracts::FailureKind;
use stockflow_contracts::dead_letter::attr;
use stockflow_contracts::events::{OpsAlert, StockEmpty};
use stockflow_contracts::names;
use stockflow_messaging::consumer::{Consumer, ConsumerSettings, Delivery, Disposition, Handler, QueueRoute};
use stockflow_messaging::sqs;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::support::{World, attribute, counter, eventually, stock_empty};

const WITHIN: Duration = Duration::from_secs(30);
const SERVICE: &str = "messaging-test";

/// What the handler saw of one delivery.
#[derive(Clone, Debug)]
struct Seen {
    sku: String,
    receive_count: u32,
    correlation_id: String,
    message_id: String,
    at: Instant,
}

/// A handler that takes `work` over each message and answers `decide`.
struct Scripted {
    seen: Arc<Mutex<Vec<Seen>>>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    work: Duration,
    decide: fn(&StockEmpty) -> Disposition,
}

impl Handler for Scripted {
    type Event = StockEmpty;

    async fn handle(&self, event: StockEmpty, delivery: &Delivery) -> Disposition {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.seen.lock().unwrap().push(Seen {
            sku: event.sku.clone(),
            receive_count: delivery.receive_count,
            correlation_id: delivery.correlation_id.clone(),
            message_id: delivery.message_id.clone(),
            at: Instant::now(),
        });
        tokio::time::sleep(self.work).await; // the handler's own work: a slow factory, say
        self.running.fetch_sub(1, Ordering::SeqCst);
        (self.decide)(&event)
    }
}

/// A consumer of `stock_queue` running in the background.
struct Running {
    seen: Arc<Mutex<Vec<Seen>>>,
    peak: Arc<AtomicUsize>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(
        world: &World,
        settings: ConsumerSettings,
        work: Duration,
        decide: fn(&StockEmpty) -> Disposition,
    ) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let peak = Arc::new(AtomicUsize::new(0));
        let handler = Scripted {
            seen: seen.clone(),
            running: Arc::new(AtomicUsize::new(0)),
            peak: peak.clone(),
            work,
            decide,
        };
        let consumer = Consumer::new(
            SERVICE,
            world.sqs.clone(),
            world.route().await,
            settings,
            handler,
            world.publisher().await,
        );
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(consumer.run(shutdown.clone()));
        Self {
            seen,
            peak,
            shutdown,
            task,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn until_seen(&self, count: usize) -> Vec<Seen> {
        eventually(&format!("{count} deliveries handled"), WITHIN, || async {
            let seen = self.seen();
            (seen.len() >= count).then_some(seen)
        })
        .await
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }

    /// Stops the consumer, then `world`: the end of a test.
    async fn stop_with(self, world: World) {
        self.stop().await;
        world.stop().await;
    }
}

fn settings() -> ConsumerSettings {
    ConsumerSettings {
        max_in_flight: 4,
        wait_seconds: 1,
        visibility_seconds: 10,
        retry_base_seconds: 1,
        shutdown_grace: Duration::from_secs(20),
    }
}

/// Publishes one `stock_empty` per sku to its topic, as sales does; returns the events.
async fn publish(world: &World, skus: &[impl AsRef<str>]) -> Vec<StockEmpty> {
    let publisher = world.publisher().await;
    let mut events = Vec::new();
    for sku in skus {
        let sku = sku.as_ref();
        let event = stock_empty(sku);
        publisher.publish(&event, &format!("c-{sku}")).await.unwrap();
        events.push(event);
    }
    events
}

/// `messages_handled_total{result}` of this test's process.
fn handled(result: &str) -> f64 {
    counter("messages_handled_total", &[("result", result)])
}

fn done(_: &StockEmpty) -> Disposition {
    Disposition::Done
}

/// The one message in the dead-letter queue and the one ops alert, once both arrived.
async fn dead_lettered(world: &World) -> (aws_sdk_sqs::types::Message, OpsAlert) {
    let dlq = world.take(names::STOCK_DLQ, 1, WITHIN).await.remove(0);
    let alert = world.take(names::OPS_ALERT_QUEUE, 1, WITHIN).await.remove(0);
    let alert: OpsAlert = serde_json::from_str(alert.body().unwrap()).unwrap();
    (dlq, alert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_handled_are_deleted_and_never_delivered_again() {
    let world = World::new(3).await;
    let skus: Vec<String> = (0..25).map(|i| format!("DONE-{i:02}")).collect();
    publish(&world, &skus).await;
    let consumer = Running::start(&world, settings(), Duration::ZERO, done).await;

    consumer.until_seen(skus.len()).await;
    // Deleted, not merely hidden: the queue holds nothing, not even in flight.
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    let seen = consumer.seen();
    let mut skus_seen: Vec<&str> = seen.iter().map(|s| s.sku.as_str()).collect();
    skus_seen.sort();
    assert_eq!(skus_seen, skus, "each message handled once");
    assert_eq!(handled("processed"), 25.0);
    for s in &seen {
        assert_eq!(s.receive_count, 1, "{s:?}");
        assert_eq!(
            s.correlation_id,
            format!("c-{}", s.sku),
            "the correlation id travels: {s:?}"
        );
    }
    consumer.stop().await;
    assert_eq!(world.depth(names::STOCK_DLQ).await, (0, 0), "nothing dead-lettered");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_comes_back_after_its_back_off_and_is_dead_lettered_on_the_last_allowed_delivery() {
    let world = World::new(3).await;
    let event = publish(&world, &["RETRY-1"]).await.remove(0);
    let consumer = Running::start(&world, settings(), Duration::ZERO, |_| {
        Disposition::Retry(anyhow::anyhow!("the factory is down"))
    })
    .await;

    let (dlq, alert) = dead_lettered(&world).await;
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    let seen = consumer.seen();
    let counts: Vec<u32> = seen.iter().map(|s| s.receive_count).collect();
    assert_eq!(counts, [1, 2, 3], "delivered three times, then given up: {seen:?}");
    assert_eq!(handled("failed"), 2.0, "two deliveries counted as failed");
    assert_eq!(handled("dead_lettered"), 1.0, "the last one counted as dead-lettered");
    assert_eq!(handled("processed"), 0.0);
    // Hidden 1 s after the first failure and 2 s after the second (base 1 s, doubling).
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(900), "{gaps:?}");
    assert!(gaps[1] >= Duration::from_millis(1900), "{gaps:?}");
    // ...and not for the receive's visibility timeout (10 s), which a failed hide leaves.
    assert!(gaps.iter().all(|gap| *gap < Duration::from_secs(8)), "{gaps:?}");

    assert_eq!(
        dlq.body(),
        Some(serde_json::to_string(&event).unwrap().as_str()),
        "the body as sent"
    );
    let reason = attribute(&dlq, attr::FAILURE_REASON).unwrap();
    assert_eq!(reason, "gave up after 3 deliveries: the factory is down");
    assert_eq!(
        attribute(&dlq, attr::FAILURE_KIND).as_deref(),
        Some("final_attempt_failed")
    );
    assert_eq!(attribute(&dlq, attr::FAILURE_ATTEMPTS).as_deref(), Some("3"));
    assert_eq!(attribute(&dlq, attr::FAILURE_SERVICE).as_deref(), Some(SERVICE));
    assert_eq!(
        attribute(&dlq, attr::SOURCE_QUEUE),
        Some(world.resources.name(names::STOCK_QUEUE))
    );
    assert_eq!(
        attribute(&dlq, attr::ORIGINAL_MESSAGE_ID).as_deref(),
        Some(seen[0].message_id.as_str())
    );
    assert_eq!(
        attribute(&dlq, "correlation_id").as_deref(),
        Some("c-RETRY-1"),
        "its own attributes kept"
    );

    assert_eq!(alert.kind, FailureKind::FinalAttemptFailed);
    assert_eq!(alert.service, SERVICE);
    assert_eq!(alert.queue, world.resources.name(names::STOCK_QUEUE));
    assert_eq!(alert.now_in, world.resources.name(names::STOCK_DLQ));
    assert_eq!(alert.error, reason);
    assert_eq!(alert.attempts, 3);
    assert_eq!(alert.message_id, seen[0].message_id);
    assert_eq!(alert.sku.as_deref(), Some("RETRY-1"));
    assert_eq!(alert.restock_request_id, Some(event.restock_request_id));
    assert_eq!(alert.correlation_id.as_deref(), Some("c-RETRY-1"));
    consumer.stop_with(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_is_dead_lettered_at_once_with_its_reason() {
    let world = World::new(3).await;
    publish(&world, &["REJECT-1"]).await;
    let consumer = Running::start(&world, settings(), Duration::ZERO, |event| {
        Disposition::Reject(format!("no product {}", event.sku))
    })
    .await;

    let (dlq, alert) = dead_lettered(&world).await;
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    assert_eq!(consumer.seen().len(), 1, "handled once, never again");
    assert_eq!((handled("dead_lettered"), handled("failed")), (1.0, 0.0));
    assert_eq!(
        attribute(&dlq, attr::FAILURE_REASON).as_deref(),
        Some("no product REJECT-1")
    );
    assert_eq!(attribute(&dlq, attr::FAILURE_KIND).as_deref(), Some("dead_lettered"));
    assert_eq!(attribute(&dlq, attr::FAILURE_ATTEMPTS).as_deref(), Some("1"));
    assert_eq!(alert.kind, FailureKind::DeadLettered);
    assert_eq!(alert.error, "no product REJECT-1");
    assert_eq!(alert.attempts, 1);
    consumer.stop_with(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_decode_never_reaches_the_handler_and_is_dead_lettered_with_the_error() {
    let world = World::new(3).await;
    let url = world.queue_url(names::STOCK_QUEUE).await;
    sqs::send_body(&world.sqs, &url, r#"{"sku": 7}"#).await.unwrap();
    let consumer = Running::start(&world, settings(), Duration::ZERO, done).await;

    let (dlq, alert) = dead_lettered(&world).await;
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    assert!(consumer.seen().is_empty(), "the handler never saw it");
    let reason = attribute(&dlq, attr::FAILURE_REASON).unwrap();
    assert!(reason.starts_with("malformed stock_empty message: "), "{reason}");
    assert!(
        reason.contains("restock_request_id") || reason.contains("invalid type"),
        "the decoding error: {reason}"
    );
    assert_eq!(attribute(&dlq, attr::FAILURE_KIND).as_deref(), Some("dead_lettered"));
    assert_eq!(dlq.body(), Some(r#"{"sku": 7}"#));
    assert_eq!(alert.kind, FailureKind::DeadLettered);
    assert_eq!(alert.error, reason);
    assert_eq!(alert.correlation_id.as_deref(), Some("-"), "a message without one");
    consumer.stop_with(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_the_visibility_timeout_keeps_its_message_hidden() {
    let world = World::new(3).await;
    publish(&world, &["SLOW-1"]).await;
    // Hidden for 4 s at a time, renewed every 2 s, while the handler works for 9 s.
    let slow = ConsumerSettings {
        visibility_seconds: 4,
        ..settings()
    };
    let consumer = Running::start(&world, slow, Duration::from_secs(9), done).await;

    consumer.until_seen(1).await;
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    let seen = consumer.seen();
    assert_eq!(
        seen.len(),
        1,
        "never delivered to a second handler while the first worked: {seen:?}"
    );
    consumer.stop_with(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_more_handlers_run_at_once_than_allowed() {
    let world = World::new(3).await;
    let skus: Vec<String> = (0..12).map(|i| format!("BUSY-{i:02}")).collect();
    publish(&world, &skus).await;
    eventually("every message in the queue", WITHIN, || async {
        (world.depth(names::STOCK_QUEUE).await.0 == 12).then_some(())
    })
    .await;
    let three = ConsumerSettings {
        max_in_flight: 3,
        ..settings()
    };
    let consumer = Running::start(&world, three, Duration::from_millis(400), done).await;

    consumer.until_seen(skus.len()).await;
    world.drained(names::STOCK_QUEUE, WITHIN).await;
    let peak = consumer.peak.load(Ordering::SeqCst);
    assert!(
        (2..=3).contains(&peak),
        "handlers ran side by side, at most 3 at once: {peak}"
    );
    consumer.stop_with(world).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_message_in_hand_finish_and_deletes_it() {
    let world = World::new(3).await;
    publish(&world, &["LAST-1"]).await;
    let consumer = Running::start(&world, settings(), Duration::from_secs(2), done).await;

    consumer.until_seen(1).await;
    let seen = consumer.seen.clone();
    consumer.stop().await;
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(
        world.depth(names::STOCK_QUEUE).await,
        (0, 0),
        "deleted before the consumer returned"
    );
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_comes_from_the_queues_redrive_policy() {
    let world = World::new(4).await;
    let route = world.route().await;
    assert_eq!(route.max_receive_count, 4);
    assert_eq!(route.dlq_name, world.resources.name(names::STOCK_DLQ));
    assert_eq!(route.dlq_url, world.queue_url(names::STOCK_DLQ).await);

    let dlq = world.queue_url(names::STOCK_DLQ).await;
    let name = world.resources.name(names::STOCK_DLQ);
    let error = QueueRoute::discover(&world.sqs, &name, &dlq)
        .await
        .expect_err("a dead-letter queue has no redrive policy of its own");
    assert!(format!("{error:#}").contains("has no redrive policy"), "{error:#}");
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_policy_written_with_a_string_count_is_read_too() {
    // CloudFormation and the AWS console may write `"maxReceiveCount": "5"`, a string.
    let world = World::new(3).await;
    let dlq_arn = format!(
        "arn:aws:sqs:us-east-1:000000000000:{}",
        world.resources.name(names::STOCK_DLQ)
    );
    let name = world.resources.name("string_count_queue");
    let url = world
        .sqs
        .create_queue()
        .queue_name(&name)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"5"}}"#),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let route = QueueRoute::discover(&world.sqs, &name, &url).await;
    world.sqs.delete_queue().queue_url(&url).send().await.ok();
    assert_eq!(route.expect("the route").max_receive_count, 5);
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_that_cannot_receive_keeps_trying_and_stops_when_asked() {
    let world = World::new(3).await;
    let name = world.resources.name("gone_queue");
    let url = world
        .sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    world.sqs.delete_queue().queue_url(&url).send().await.unwrap();
    let route = QueueRoute {
        queue_name: name.clone(),
        queue_url: url,
        ..world.route().await
    };
    let handler = Scripted {
        seen: Arc::default(),
        running: Arc::default(),
        peak: Arc::default(),
        work: Duration::ZERO,
        decide: done,
    };
    let consumer = Consumer::new(
        SERVICE,
        world.sqs.clone(),
        route,
        settings(),
        handler,
        world.publisher().await,
    );
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(consumer.run(shutdown.clone()));

    eventually("receives failing and counted", WITHIN, || async {
        (counter("sqs_receive_failures_total", &[("queue", &name)]) >= 3.0).then_some(())
    })
    .await;
    assert!(!task.is_finished(), "still trying");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops when asked")
        .expect("without a panic");
    world.stop().await;
}
