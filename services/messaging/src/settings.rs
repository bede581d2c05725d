//! What every service that keeps a database reads alike: where it listens (`BIND_HOST`),
//! MySQL (`MYSQL_URL`, `DB_POOL_MAX`, …) and AWS (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `STOCKFLOW_PREFIX`, …). Each service's `Settings` flattens it beside its own variables.

use serde::{Deserialize, Serialize};
use stockflow_kit::config::{DatabaseSettings, HttpSettings};

use crate::aws::AwsSettings;

/// The shared part of sales', the factory's and stock-inc-worker's settings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServiceSettings {
    #[serde(flatten)]
    pub http: HttpSettings,
    #[serde(flatten)]
    pub database: DatabaseSettings,
    #[serde(flatten)]
    pub aws: AwsSettings,
}
