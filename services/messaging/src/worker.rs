//! What both workers share: settings, connecting to SQS and finding their queue and
//! its dead-letter queue, the `/health` and `/ready` port, and running the consumer
//! (and the depth gauges of both queues, `queue_metrics`) until shutdown.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::aws::{self, AwsSettings, Resources};
use crate::consumer::{Consumer, ConsumerSettings, Handler, QueueRoute};
use crate::publisher::Publisher;
use crate::queue_metrics::{self, WatchedQueue};
use stockflow_contracts::names;
use stockflow_contracts::ports::DefaultPort;
use stockflow_kit::config::HttpSettings;
use stockflow_kit::health::{self, Readiness};

/// Consumer pacing, shared by both workers (environment variables `WORKER_*`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// `WORKER_CONCURRENCY`: messages processed at once.
    pub worker_concurrency: usize,
    /// `WORKER_WAIT_SECONDS`: SQS long-poll wait (0-20).
    pub worker_wait_seconds: i32,
    /// `WORKER_VISIBILITY_SECONDS`: how long a held message stays hidden (extended while working).
    pub worker_visibility_seconds: i32,
    /// `WORKER_RETRY_BASE_SECONDS`: first back-off after a transient failure (doubles per delivery).
    pub worker_retry_base_seconds: i32,
    /// `WORKER_SHUTDOWN_SECONDS`: how long SIGTERM waits for messages in hand.
    pub worker_shutdown_seconds: u64,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        let defaults = ConsumerSettings::default();
        Self {
            worker_concurrency: defaults.max_in_flight,
            worker_wait_seconds: defaults.wait_seconds,
            worker_visibility_seconds: defaults.visibility_seconds,
            worker_retry_base_seconds: defaults.retry_base_seconds,
            worker_shutdown_seconds: defaults.shutdown_grace.as_secs(),
        }
    }
}

impl WorkerSettings {
    fn consumer_settings(&self) -> ConsumerSettings {
        ConsumerSettings {
            max_in_flight: self.worker_concurrency,
            wait_seconds: self.worker_wait_seconds.clamp(0, 20),
            visibility_seconds: self.worker_visibility_seconds.max(1),
            retry_base_seconds: self.worker_retry_base_seconds.max(0),
            shutdown_grace: Duration::from_secs(self.worker_shutdown_seconds),
        }
    }
}

/// The AWS side of a worker: its queue (with DLQ and redrive policy) and the
/// ops-alerts publisher.
pub struct WorkerContext {
    pub sqs: aws_sdk_sqs::Client,
    pub route: QueueRoute,
    pub alerts: Publisher,
}

impl WorkerContext {
    pub async fn connect(aws_settings: &AwsSettings, queue: &str) -> anyhow::Result<Self> {
        let sdk = aws::sdk_config(aws_settings).await;
        let resources = Resources::new(aws_settings);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue_name = resources.name(queue);
        let queue_url = resources.queue_url(&sqs, queue).await?;
        let route = QueueRoute::discover(&sqs, &queue_name, &queue_url).await?;
        let alerts = Publisher::open(aws_sdk_sns::Client::new(&sdk), &resources, &[names::OPS_ALERTS_TOPIC]).await?;
        Ok(Self { sqs, route, alerts })
    }

    /// Checks that SQS answers for the worker's queue (for `/ready`).
    pub async fn ping(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> anyhow::Result<()> {
        health::within("SQS", async {
            sqs.get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .context("SQS does not answer")?;
            Ok(())
        })
        .await
    }
}

/// A worker ready to run: its consumer and its health port.
pub struct WorkerApp<H: Handler, R: Readiness> {
    port: u16,
    listener: TcpListener,
    consumer: Consumer<H>,
    readiness: R,
    sqs: aws_sdk_sqs::Client,
    watched: Vec<WatchedQueue>,
}

impl<H: Handler, R: Readiness> WorkerApp<H, R> {
    pub fn new(
        service: DefaultPort,
        settings: &WorkerSettings,
        http: &HttpSettings,
        port: u16,
        context: WorkerContext,
        handler: H,
        readiness: R,
    ) -> anyhow::Result<Self> {
        let listener = http.listen(port, service.service, service.variable)?;
        let port = listener.local_addr()?.port();
        let watched = vec![
            WatchedQueue {
                name: context.route.queue_name.clone(),
                url: context.route.queue_url.clone(),
            },
            WatchedQueue {
                name: context.route.dlq_name.clone(),
                url: context.route.dlq_url.clone(),
            },
        ];
        let sqs = context.sqs.clone();
        let consumer = Consumer::new(
            service.service,
            context.sqs,
            context.route,
            settings.consumer_settings(),
            handler,
            context.alerts,
        );
        Ok(Self {
            port,
            listener,
            consumer,
            readiness,
            sqs,
            watched,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Consumes until `shutdown`, finishes what it holds, then stops the health port.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (handle, server) = health::serve_worker_endpoints(self.listener, self.readiness)?;
        let gauges = tokio::spawn(queue_metrics::run(self.sqs, self.watched, shutdown.clone()));
        self.consumer.run(shutdown).await;
        gauges.await.ok();
        handle.stop(true).await;
        server.await.ok();
        Ok(())
    }
}

impl<H: Handler, R: Readiness> stockflow_kit::binary::Service for WorkerApp<H, R> {
    fn port(&self) -> u16 {
        self.port()
    }

    async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.run_until_stopped(shutdown).await
    }
}
