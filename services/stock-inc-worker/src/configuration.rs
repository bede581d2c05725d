//! stock-inc-worker's settings (environment variables, README "Configuration").

use serde::{Deserialize, Serialize};
use stockflow_messaging::settings::ServiceSettings;
use stockflow_messaging::worker::WorkerSettings;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub service: ServiceSettings,
    #[serde(flatten)]
    pub worker: WorkerSettings,
    /// `STOCK_INC_WORKER_PORT`: `/health` and `/ready`; 0 picks a free port (tests).
    pub stock_inc_worker_port: u16,
    /// `WAREHOUSE_DB`: the database shared with sales.
    pub warehouse_db: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            service: ServiceSettings::default(),
            worker: WorkerSettings::default(),
            stock_inc_worker_port: stockflow_contracts::ports::STOCK_INC_WORKER.port,
            warehouse_db: warehouse::DEFAULT_DATABASE.into(),
        }
    }
}
