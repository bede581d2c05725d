//! The factory's settings (environment variables, README "Configuration").

use serde::{Deserialize, Serialize};
use stockflow_messaging::settings::ServiceSettings;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub service: ServiceSettings,
    /// `FACTORY_PORT`; 0 picks a free port (tests).
    pub factory_port: u16,
    /// `FACTORY_DB`: the factory's own database.
    pub factory_db: String,
    /// `FACTORY_PRODUCTION_SECONDS`: how long production takes (0 in tests).
    pub factory_production_seconds: f64,
    /// `OUTBOX_SWEEP_MS`: how often the relay looks for events left unpublished.
    pub outbox_sweep_ms: u64,
    /// `FACTORY_FAULTS_ENABLED`: serve `/admin/faults` for drills (off in production).
    pub factory_faults_enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            service: ServiceSettings::default(),
            factory_port: stockflow_contracts::ports::FACTORY.port,
            factory_db: "factory".into(),
            factory_production_seconds: 5.0,
            outbox_sweep_ms: 1000,
            factory_faults_enabled: false,
        }
    }
}
