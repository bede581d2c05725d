//! `stockctl alerts`: the `ops_alert_queue` inbox, what one alert is, and where each
//! part of the command lives.
//!
//! Three kinds of message arrive there through the `ops_alerts` topic: the workers'
//! alerts (message attribute `event_type` = `ops_alert`, an [`OpsAlert`] body),
//! stock-inc-worker's surplus arrivals (`surplus_arrival`, a [`SurplusArrival`] body: goods
//! for a fulfilled restock request, not added to stock) and CloudWatch alarm
//! notifications (a JSON body with `AlarmName`, `NewStateValue`, …).
//! Reading is like an inbox: what is printed is deleted, so the next read shows only
//! what is new; `--peek` leaves everything in place.
//!
//! With a webhook (`--webhook URL` or `ALERT_WEBHOOK_URL`) each alert is also POSTed
//! as a Slack-compatible JSON body (`{"text": …, "blocks": […]}`), and deleted only
//! once the webhook answered 2xx: while it is down the alerts stay in the queue and
//! are offered again later, so nothing is lost (a webhook that took an alert but
//! whose answer was lost may see it twice).
//!
//! - [`inbox`]: reading: receiving from the queue, decoding, deleting, putting back;
//! - [`render`]: rendering: the terminal lines, the one-line summary, the Slack body;
//! - [`webhook`]: delivery: the webhook client and which alerts a chat should hear of;
//! - [`relay`]: the loop that ties them (`read` once, or `follow` until stopped).

pub mod inbox;
pub mod relay;
pub mod render;
pub mod webhook;

use aws_sdk_cloudwatch::types::StateValue;
use serde::Serialize;
use stockflow_contracts::events::{OpsAlert, SurplusArrival};

use crate::status::state_serde;

pub use relay::{AlertsReport, FollowEvent, follow, read};
pub use webhook::{Webhook, WebhookError};

/// One message of `ops_alert_queue`, decoded.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Alert {
    /// Raised by a worker that dead-lettered a message.
    Worker { message_id: String, alert: OpsAlert },
    /// A second production order arrived for a fulfilled restock request.
    Surplus { message_id: String, alert: SurplusArrival },
    /// A CloudWatch alarm changed state.
    Alarm {
        message_id: String,
        alarm_name: String,
        #[serde(with = "state_serde")]
        new_state: StateValue,
        #[serde(with = "state_serde::option")]
        old_state: Option<StateValue>,
        reason: String,
        at: Option<String>,
    },
    /// Anything else (shown as is).
    Other {
        message_id: String,
        sent_at: Option<String>,
        body: String,
    },
}

/// Alerts the unit tests of several parts share.
#[cfg(test)]
mod fixtures {
    use super::Alert;
    use stockflow_contracts::events::OpsAlert;

    /// A worker's dead-letter alert whose error needs mrkdwn escapes.
    pub fn worker_alert() -> Alert {
        Alert::Worker {
            message_id: "m".into(),
            alert: OpsAlert {
                kind: stockflow_contracts::FailureKind::DeadLettered,
                service: "stock-worker".into(),
                queue: "p_stock_queue".into(),
                now_in: "p_dead_letter_queue".into(),
                error: "factory refused the order with 400: <unknown> & gone\nsecond line".into(),
                attempts: 1,
                message_id: "orig-1".into(),
                sku: Some("CP-1".into()),
                restock_request_id: Some("0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e".parse().unwrap()),
                correlation_id: Some("c-1".into()),
                body: "{}".into(),
                at: chrono::Utc::now(),
            },
        }
    }
}
