//! stock-inc-worker: consumes `stock_arrival` events from `stock_inc_queue` and adds
//! the produced units to stock, once per production order, whatever SQS redelivers.

mod configuration;
mod handler;
mod surplus_alert;

use mysql_async::Pool;
use stockflow_contracts::names;
use stockflow_kit::db;
use stockflow_kit::health::Readiness;
use stockflow_messaging::worker::{WorkerApp, WorkerContext};

pub use configuration::Settings;
use handler::ApplyArrival;

/// Opens the warehouse database, connects to SQS and builds the worker.
pub async fn build(settings: Settings) -> anyhow::Result<WorkerApp<ApplyArrival, WarehouseReadiness>> {
    let pool = warehouse::open(&settings.service.database, &settings.warehouse_db).await?;
    let context = WorkerContext::connect(&settings.service.aws, names::STOCK_INC_QUEUE).await?;
    let handler = ApplyArrival::new(pool.clone(), context.alerts.clone());
    let readiness = WarehouseReadiness {
        pool: pool.clone(),
        sqs: context.sqs.clone(),
        queue_url: context.route.queue_url.clone(),
    };
    WorkerApp::new(
        stockflow_contracts::ports::STOCK_INC_WORKER,
        &settings.worker,
        &settings.service.http,
        settings.stock_inc_worker_port,
        context,
        handler,
        readiness,
    )
}

/// Ready when the warehouse database and SQS both answer.
pub struct WarehouseReadiness {
    pool: Pool,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Readiness for WarehouseReadiness {
    async fn checks(&self) -> Vec<(&'static str, anyhow::Result<()>)> {
        vec![
            ("database", db::ping(&self.pool).await),
            ("sqs", WorkerContext::ping(&self.sqs, &self.queue_url).await),
        ]
    }
}
