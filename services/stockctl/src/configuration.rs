//! stockctl's settings: the services' environment variables it reads, and its own
//! `ALERT_WEBHOOK_URL` (README "Configuration").

use serde::{Deserialize, Serialize};
use stockflow_kit::config::DatabaseSettings;
use stockflow_messaging::aws::AwsSettings;

/// stockctl's settings: the services' variables (`MYSQL_URL`, `WAREHOUSE_DB`,
/// `AWS_ENDPOINT_URL`, `AWS_REGION`, `STOCKFLOW_PREFIX`, …).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub database: DatabaseSettings,
    #[serde(flatten)]
    pub aws: AwsSettings,
    /// `WAREHOUSE_DB`: the warehouse database.
    pub warehouse_db: String,
    /// `ALERT_WEBHOOK_URL`: where `stockctl alerts` forwards each alert (a Slack-compatible
    /// incoming webhook); empty: print only. `--webhook` overrides it.
    pub alert_webhook_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings {
                db_pool_max: 2,
                ..DatabaseSettings::default()
            },
            aws: AwsSettings::default(),
            warehouse_db: warehouse::DEFAULT_DATABASE.into(),
            alert_webhook_url: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_services_defaults() {
        let s = Settings::default();
        assert_eq!(s.warehouse_db, "stockflow");
        assert_eq!(s.aws.aws_endpoint_url, "http://127.0.0.1:4566");
    }
}
