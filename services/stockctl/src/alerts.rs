//! `stockctl alerts`: the `ops_alert_queue` inbox.
//!
//! Two kinds of message arrive there through the `ops_alerts` topic: the workers'
//! alerts (message attribute `event_type` = `ops_alert`, an [`OpsAlert`] body) and
//! CloudWatch alarm notifications (a JSON body with `AlarmName`, `NewStateValue`, …).
//! Reading is like an inbox: what is printed is deleted, so the next read shows only
//! what is new; `--peek` leaves everything in place.

use std::fmt::Write;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde::Serialize;
use stockflow_shared::aws::names;
use stockflow_shared::events::{ATTR_EVENT_TYPE, Event, OpsAlert};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::peek::{attribute, peek_all, sent_at};
use crate::table::preview;

/// One message of `ops_alert_queue`, decoded.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Alert {
    /// Raised by a worker that dead-lettered a message.
    Worker { message_id: String, alert: OpsAlert },
    /// A CloudWatch alarm changed state.
    Alarm {
        message_id: String,
        alarm_name: String,
        new_state: String,
        old_state: Option<String>,
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

impl Alert {
    pub fn decode(message: &Message) -> Self {
        let message_id = message.message_id().unwrap_or_default().to_string();
        let body = message.body().unwrap_or_default();
        if attribute(message, ATTR_EVENT_TYPE).as_deref() == Some(OpsAlert::TYPE)
            && let Ok(alert) = serde_json::from_str::<OpsAlert>(body)
        {
            return Alert::Worker { message_id, alert };
        }
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(body)
            && let Some(alarm_name) = value["AlarmName"].as_str()
        {
            let text = |k: &str| value[k].as_str().map(str::to_string);
            return Alert::Alarm {
                message_id,
                alarm_name: alarm_name.to_string(),
                new_state: text("NewStateValue").unwrap_or_default(),
                old_state: text("OldStateValue"),
                reason: text("NewStateReason").unwrap_or_default(),
                at: text("StateChangeTime"),
            };
        }
        Alert::Other {
            message_id,
            sent_at: sent_at(message),
            body: body.to_string(),
        }
    }

    pub fn human(&self) -> String {
        match self {
            Alert::Worker { alert, .. } => {
                let mut line = format!(
                    "{} WORKER {} by {}: {} → now in {} after {} attempt(s)",
                    alert.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    alert.kind,
                    alert.service,
                    alert.queue,
                    alert.now_in,
                    alert.attempts
                );
                if let Some(sku) = &alert.sku {
                    let _ = write!(line, " sku={sku}");
                }
                if let Some(id) = &alert.restock_request_id {
                    let _ = write!(line, " restock={id}");
                }
                let _ = write!(line, " message={}", alert.message_id);
                if let Some(id) = &alert.correlation_id {
                    let _ = write!(line, " correlation={id}");
                }
                let _ = write!(line, "\n    error: {}", preview(&alert.error, 300));
                line
            }
            Alert::Alarm {
                alarm_name,
                new_state,
                old_state,
                reason,
                at,
                ..
            } => format!(
                "{} ALARM {alarm_name}: {} → {new_state}\n    {}",
                at.as_deref().unwrap_or("-"),
                old_state.as_deref().unwrap_or("?"),
                preview(reason, 300)
            ),
            Alert::Other { sent_at, body, .. } => {
                format!("{} OTHER {}", sent_at.as_deref().unwrap_or("-"), preview(body, 300))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertsReport {
    /// Whether the alerts were removed from the queue (false with `--peek`).
    pub consumed: bool,
    pub alerts: Vec<Alert>,
}

impl AlertsReport {
    pub fn human(&self) -> String {
        if self.alerts.is_empty() {
            return "no alerts\n".into();
        }
        let mut out = String::new();
        for a in &self.alerts {
            let _ = writeln!(out, "{}", a.human());
        }
        out
    }
}

/// What is in the inbox now: consumed (deleted once read) unless `peek`.
pub async fn read(ctx: &Ctx, peek: bool) -> anyhow::Result<AlertsReport> {
    let url = ctx.queue_url(names::OPS_ALERT_QUEUE).await?;
    if peek {
        let messages = peek_all(ctx, &url).await?;
        return Ok(AlertsReport {
            consumed: false,
            alerts: messages.iter().map(Alert::decode).collect(),
        });
    }
    let mut alerts = Vec::new();
    loop {
        let messages = receive(ctx, &url, 1).await?;
        if messages.is_empty() {
            break;
        }
        alerts.extend(messages.iter().map(Alert::decode));
        delete(ctx, &url, &messages).await?;
    }
    Ok(AlertsReport { consumed: true, alerts })
}

/// Long-polls the inbox until `stop`, handing each alert to `on_alert` and then
/// deleting it.
pub async fn follow(
    ctx: &Ctx,
    stop: CancellationToken,
    on_alert: &mut (dyn FnMut(&Alert) + Send),
) -> anyhow::Result<()> {
    let url = ctx.queue_url(names::OPS_ALERT_QUEUE).await?;
    loop {
        let messages = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            received = receive(ctx, &url, 20) => received?,
        };
        for m in &messages {
            on_alert(&Alert::decode(m));
        }
        if !messages.is_empty() {
            delete(ctx, &url, &messages).await?;
        }
    }
}

async fn receive(ctx: &Ctx, url: &str, wait_seconds: i32) -> anyhow::Result<Vec<Message>> {
    let out = ctx
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .visibility_timeout(60)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .map_err(|e| ctx.aws_error("cannot receive from ops_alert_queue", e))?;
    Ok(out.messages.unwrap_or_default())
}

async fn delete(ctx: &Ctx, url: &str, messages: &[Message]) -> anyhow::Result<()> {
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .build()
                .ok()
        })
        .collect();
    let out = ctx
        .sqs
        .delete_message_batch()
        .queue_url(url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| ctx.aws_error("cannot delete read alerts", e))?;
    anyhow::ensure!(
        out.failed().is_empty(),
        "{} alert(s) could not be deleted and will show again",
        out.failed().len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::MessageAttributeValue;

    #[test]
    fn a_cloudwatch_notification_is_an_alarm() {
        let m = Message::builder()
            .message_id("m1")
            .body(r#"{"AlarmName":"p_dead_letter_queue-not-empty","NewStateValue":"ALARM","OldStateValue":"OK","NewStateReason":"Threshold Crossed","StateChangeTime":"2026-01-01T00:00:00.000+0000"}"#)
            .build();
        match Alert::decode(&m) {
            Alert::Alarm {
                alarm_name, new_state, ..
            } => {
                assert_eq!(alarm_name, "p_dead_letter_queue-not-empty");
                assert_eq!(new_state, "ALARM");
            }
            other => panic!("not an alarm: {other:?}"),
        }
    }

    #[test]
    fn a_worker_alert_needs_its_event_type() {
        let body = r#"{"kind":"dead_lettered","service":"stock-worker","queue":"stock_queue","now_in":"dead_letter_queue","error":"bad","attempts":1,"message_id":"x","sku":null,"restock_request_id":null,"correlation_id":null,"body":"{","at":"2026-01-01T00:00:00Z"}"#;
        let typed = Message::builder()
            .message_id("m2")
            .body(body)
            .message_attributes(
                ATTR_EVENT_TYPE,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("ops_alert")
                    .build()
                    .unwrap(),
            )
            .build();
        assert!(matches!(Alert::decode(&typed), Alert::Worker { .. }));
        let untyped = Message::builder().message_id("m3").body(body).build();
        assert!(matches!(Alert::decode(&untyped), Alert::Other { .. }));
    }
}
