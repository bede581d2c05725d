//! stock-worker's settings (environment variables, README "Configuration").

use serde::{Deserialize, Serialize};
use stockflow_kit::config::HttpSettings;
use stockflow_messaging::aws::AwsSettings;
use stockflow_messaging::worker::WorkerSettings;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub aws: AwsSettings,
    #[serde(flatten)]
    pub http: HttpSettings,
    #[serde(flatten)]
    pub worker: WorkerSettings,
    /// `STOCK_WORKER_PORT`: `/health` and `/ready`; 0 picks a free port (tests).
    pub stock_worker_port: u16,
    /// `FACTORY_URL`: the Factory API.
    pub factory_url: String,
    /// `FACTORY_TIMEOUT_MS`: a factory call slower than this is retried later.
    pub factory_timeout_ms: u64,
    /// `FACTORY_CALLBACK_URL`: sent as the legacy `CallbackUrl` (recorded by the factory).
    pub factory_callback_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            aws: AwsSettings::default(),
            http: HttpSettings::default(),
            worker: WorkerSettings::default(),
            stock_worker_port: stockflow_contracts::ports::STOCK_WORKER.port,
            factory_url: stockflow_contracts::ports::FACTORY.local_url(),
            factory_timeout_ms: 5000,
            factory_callback_url: String::new(),
        }
    }
}
