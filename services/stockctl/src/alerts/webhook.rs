//! Delivering alerts: the Slack-compatible incoming webhook they are POSTed to, and
//! which alerts a chat should hear of at all.

use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudwatch::types::StateValue;

use super::Alert;
use crate::table::preview;

/// A Slack-compatible incoming webhook that alerts are forwarded to.
#[derive(Clone)]
pub struct Webhook {
    url: reqwest::Url,
    client: reqwest::Client,
}

/// How long one POST to the webhook may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

impl Webhook {
    pub fn new(url: &str) -> anyhow::Result<Self> {
        let parsed = reqwest::Url::parse(url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                anyhow!("the alert webhook must be an http(s) URL, e.g. https://hooks.slack.com/services/…: check --webhook or ALERT_WEBHOOK_URL")
            })?;
        let client = reqwest::Client::builder()
            .timeout(WEBHOOK_TIMEOUT)
            .build()
            .map_err(|e| anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Self { url: parsed, client })
    }

    /// Scheme and host only: a webhook's path is its secret, so it is never printed.
    pub fn display(&self) -> String {
        let port = self.url.port().map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{}://{}{port}/…",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default()
        )
    }

    /// POSTs one alert. `Err` says why it was not accepted, and whether the webhook
    /// looks down (5xx, 408, 429, no answer: stop trying for now) or refused this one
    /// alert (another 4xx: try the others).
    pub async fn post(&self, alert: &Alert) -> Result<(), WebhookError> {
        let response = self
            .client
            .post(self.url.clone())
            .json(&alert.slack_body())
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() {
                    "did not answer in time"
                } else if e.is_connect() {
                    "is unreachable"
                } else {
                    "failed"
                };
                WebhookError {
                    message: format!("webhook {} {what}", self.display()),
                    down: true,
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(WebhookError {
            message: format!(
                "webhook {} answered {status}: {}",
                self.display(),
                preview(body.trim(), 200)
            ),
            down: status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429,
        })
    }
}

/// Why the webhook did not take an alert.
#[derive(Debug, Clone)]
pub struct WebhookError {
    pub message: String,
    /// Down or overloaded: the rest of the batch is not tried.
    pub down: bool,
}

impl Alert {
    /// Whether a chat should hear of it: everything but an alarm change that neither
    /// enters nor leaves ALARM (a new alarm's INSUFFICIENT_DATA → OK is noise). Such
    /// changes are still printed and consumed.
    pub fn worth_a_message(&self) -> bool {
        match self {
            Alert::Alarm {
                new_state, old_state, ..
            } => *new_state == StateValue::Alarm || *old_state == Some(StateValue::Alarm),
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::worker_alert;
    use super::*;

    #[test]
    fn only_changes_into_or_out_of_alarm_are_worth_a_chat_message() {
        let alarm = |old: &str, new: &str| Alert::Alarm {
            message_id: "m".into(),
            alarm_name: "a".into(),
            new_state: StateValue::from(new),
            old_state: Some(StateValue::from(old)),
            reason: String::new(),
            at: None,
        };
        assert!(alarm("OK", "ALARM").worth_a_message());
        assert!(alarm("ALARM", "OK").worth_a_message());
        assert!(!alarm("INSUFFICIENT_DATA", "OK").worth_a_message());
        assert!(worker_alert().worth_a_message());
        assert_eq!(
            alarm("ALARM", "OK").slack_body()["text"],
            ":white_check_mark: stockflow: CloudWatch alarm a is OK (was ALARM): "
        );
    }

    #[test]
    fn a_webhook_must_be_an_http_url_and_its_path_is_never_shown() {
        assert!(Webhook::new("hooks.slack.com/services/x").is_err());
        assert!(Webhook::new("ftp://example.com/x").is_err());
        let hook = Webhook::new("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(hook.display(), "https://hooks.slack.com/…");
    }
}
