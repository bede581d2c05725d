//! The sales service's settings (environment variables, README "Configuration").

use serde::{Deserialize, Serialize};
use stockflow_messaging::settings::ServiceSettings;
use warehouse::checkout::CombineSettings;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// `CHECKOUT_BATCH_MAX`, `CHECKOUT_LANES`: how concurrent checkouts share transactions;
    /// `CHECKOUT_TIMEOUT_MS`: how long one may take.
    #[serde(flatten)]
    pub combine: CombineSettings,
    /// `SALES_PORT`; 0 picks a free port (tests).
    pub sales_port: u16,
    /// `WAREHOUSE_DB`: the database holding products, orders and restock requests.
    pub warehouse_db: String,
    /// `SALES_WORKERS`: HTTP worker threads (0 = one per core). One by default: a checkout
    /// mostly waits on the database, and one thread keeps more of that waiting in each
    /// wake-up (docs/benchmarks.md, "Settings for production").
    pub sales_workers: usize,
    /// `OUTBOX_SWEEP_MS`: how often the relay looks for events left unpublished.
    pub outbox_sweep_ms: u64,
    /// `RESTOCK_REPUBLISH_SECONDS`: a restock request open longer than this has its
    /// `stock_empty` event published again (a lost message delays a restock, never drops it).
    pub restock_republish_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            service: ServiceSettings::default(),
            combine: CombineSettings::default(),
            sales_port: stockflow_contracts::ports::SALES.port,
            warehouse_db: warehouse::DEFAULT_DATABASE.into(),
            sales_workers: 1,
            outbox_sweep_ms: 1000,
            restock_republish_seconds: 300,
        }
    }
}
