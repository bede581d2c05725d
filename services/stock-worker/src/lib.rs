//! stock-worker: consumes `stock_empty` events from `stock_queue` and orders the
//! restock from the Factory API. The message is deleted only after the factory
//! accepted the order; the restock request id is the factory's `Idempotency-Key`,
//! so a redelivered message never starts a second production order.

mod configuration;
mod factory_client;
mod handler;

use std::time::Duration;

use stockflow_contracts::names;
use stockflow_kit::health::Readiness;
use stockflow_messaging::worker::{WorkerApp, WorkerContext};

pub use configuration::Settings;
use factory_client::FactoryClient;
use handler::OrderFromFactory;

/// Connects to SQS and builds the worker.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp<OrderFromFactory, QueueReadiness>> {
    let context = WorkerContext::connect(&settings.aws, names::STOCK_QUEUE).await?;
    let factory = FactoryClient::new(
        &settings.factory_url,
        Duration::from_millis(settings.factory_timeout_ms),
        settings.factory_callback_url.clone(),
    )?;
    let readiness = QueueReadiness {
        sqs: context.sqs.clone(),
        queue_url: context.route.queue_url.clone(),
    };
    WorkerApp::new(
        stockflow_contracts::ports::STOCK_WORKER,
        &settings.worker,
        &settings.http,
        settings.stock_worker_port,
        context,
        OrderFromFactory::new(factory),
        readiness,
    )
}

/// Ready when SQS answers for `stock_queue`.
pub struct QueueReadiness {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Readiness for QueueReadiness {
    async fn checks(&self) -> Vec<(&'static str, anyhow::Result<()>)> {
        vec![("sqs", WorkerContext::ping(&self.sqs, &self.queue_url).await)]
    }
}
