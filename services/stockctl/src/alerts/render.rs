//! Rendering alerts: the terminal lines `stockctl alerts` prints, the one-line
//! summary a chat notification shows, and the Slack-compatible webhook body.

use std::fmt::Write;

use aws_sdk_cloudwatch::types::StateValue;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use stockflow_contracts::events::{OpsAlert, SurplusArrival};

use super::{Alert, AlertsReport};
use crate::table::preview;

impl Alert {
    /// The alert for the terminal: a headline, then an indented detail line.
    pub fn human(&self) -> String {
        match self {
            Alert::Worker { alert, .. } => {
                let mut line = format!(
                    "{} WORKER {} by {}: {} → now in {} after {} attempt(s)",
                    stamp(&alert.at),
                    alert.kind,
                    alert.service,
                    alert.queue,
                    alert.now_in,
                    alert.attempts
                );
                line.push_str(&subject(alert));
                if let Some(id) = &alert.correlation_id {
                    let _ = write!(line, " correlation={id}");
                }
                let _ = write!(line, "\n    error: {}", preview(&alert.error, 300));
                line
            }
            Alert::Surplus { alert, .. } => format!(
                "{} SURPLUS {}\n    decide: `stockctl surplus settle {} --keep|--return` (docs/operations.md#surplus-arrival)",
                stamp(&alert.at),
                surplus_line(alert),
                alert.production_order_id
            ),
            Alert::Alarm {
                alarm_name,
                new_state,
                old_state,
                reason,
                at,
                ..
            } => format!(
                "{} ALARM {alarm_name}: {} → {}\n    {}",
                at.as_deref().unwrap_or("-"),
                old_state.as_ref().map_or("?", StateValue::as_str),
                new_state.as_str(),
                preview(reason, 300)
            ),
            Alert::Other { sent_at, body, .. } => {
                format!("{} OTHER {}", sent_at.as_deref().unwrap_or("-"), preview(body, 300))
            }
        }
    }

    /// The alert as one readable line (a chat message's text, a notification's title).
    pub fn one_line(&self) -> String {
        match self {
            Alert::Worker { alert, .. } => {
                let mut line = format!(
                    "{} {} a message from {} (now in {}, {} attempt(s)): {}",
                    alert.service,
                    alert.kind,
                    alert.queue,
                    alert.now_in,
                    alert.attempts,
                    preview(&alert.error, 200)
                );
                line.push_str(&subject(alert));
                line
            }
            Alert::Surplus { alert, .. } => {
                format!("{} found a surplus arrival: {}", alert.service, surplus_line(alert))
            }
            Alert::Alarm {
                alarm_name,
                new_state,
                old_state,
                reason,
                ..
            } => format!(
                "CloudWatch alarm {alarm_name} is {} (was {}): {}",
                new_state.as_str(),
                old_state.as_ref().map_or("?", StateValue::as_str),
                preview(reason, 200)
            ),
            Alert::Other { body, .. } => format!("ops alert: {}", preview(body, 300)),
        }
    }

    /// The body POSTed to a Slack-compatible incoming webhook: `text` (one line, what
    /// notifications show) and `blocks` with the details.
    pub fn slack_body(&self) -> Value {
        let icon = match self {
            Alert::Alarm {
                new_state: StateValue::Ok,
                ..
            } => ":white_check_mark:",
            Alert::Alarm { new_state, .. } if *new_state != StateValue::Alarm => ":grey_question:",
            _ => ":rotating_light:",
        };
        let text = format!("{icon} stockflow: {}", self.one_line());
        let mut blocks = vec![json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(&text)},
        })];
        match self {
            Alert::Worker { alert, .. } => {
                let none = "-".to_string();
                blocks.push(fields(&[
                    ("Kind", alert.kind.as_str()),
                    ("Service", &alert.service),
                    ("Queue", &alert.queue),
                    ("Now in", &alert.now_in),
                    ("Attempts", &alert.attempts.to_string()),
                    ("SKU", alert.sku.as_ref().unwrap_or(&none)),
                    (
                        "Restock request",
                        &alert
                            .restock_request_id
                            .map_or_else(|| none.clone(), |id| id.to_string()),
                    ),
                    ("Correlation id", alert.correlation_id.as_ref().unwrap_or(&none)),
                ]));
                blocks.push(json!({
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": format!("*Error*\n```{}```", mrkdwn(&preview(&alert.error, 1500)))},
                }));
                blocks.push(context(&format!(
                    "message {} at {} · `stockctl dlq show {}` · runbook: docs/operations.md",
                    alert.message_id,
                    stamp(&alert.at),
                    alert.message_id
                )));
            }
            Alert::Surplus { alert, .. } => {
                let none = "-".to_string();
                blocks.push(fields(&[
                    ("Production order", &alert.production_order_id.to_string()),
                    ("Restock request", &alert.restock_request_id.to_string()),
                    (
                        "Fulfilled by",
                        &alert.fulfilled_by.map_or(none.clone(), |id| id.to_string()),
                    ),
                    ("SKU", &alert.sku),
                    ("Quantity", &alert.quantity.to_string()),
                    ("Correlation id", alert.correlation_id.as_ref().unwrap_or(&none)),
                ]));
                blocks.push(context(&format!(
                    "at {} · goods arrived and wait for a decision: `stockctl surplus settle {} --keep|--return` · runbook: docs/operations.md#surplus-arrival",
                    stamp(&alert.at),
                    alert.production_order_id
                )));
            }
            Alert::Alarm {
                alarm_name, reason, at, ..
            } => {
                blocks.push(json!({
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": format!("*Reason*\n{}", mrkdwn(&preview(reason, 1500)))},
                }));
                blocks.push(context(&format!(
                    "{alarm_name} changed at {} · `stockctl status` · runbook: docs/operations.md",
                    at.as_deref().unwrap_or("-")
                )));
            }
            Alert::Other { .. } => {}
        }
        json!({"text": text, "blocks": blocks})
    }
}

impl AlertsReport {
    /// One alert after another, or `no alerts`.
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

/// When an alert was raised, to the second.
fn stamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// What a surplus arrival is: which order brought what, for which request.
fn surplus_line(alert: &SurplusArrival) -> String {
    format!(
        "production order {} brought {} x {} for restock request {}, already fulfilled by {}: not added to stock",
        alert.production_order_id,
        alert.quantity,
        alert.sku,
        alert.restock_request_id,
        alert
            .fulfilled_by
            .map_or_else(|| "another order".to_string(), |id| id.to_string())
    )
}

/// What a worker alert is about: ` sku=… restock=… message=…`.
fn subject(alert: &OpsAlert) -> String {
    let mut out = String::new();
    if let Some(sku) = &alert.sku {
        let _ = write!(out, " sku={sku}");
    }
    if let Some(id) = &alert.restock_request_id {
        let _ = write!(out, " restock={id}");
    }
    let _ = write!(out, " message={}", alert.message_id);
    out
}

/// A Slack section of named fields (`*Name*` over its value).
fn fields(named: &[(&str, &str)]) -> Value {
    let fields: Vec<Value> = named
        .iter()
        .map(|(name, value)| json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", mrkdwn(value))}))
        .collect();
    json!({"type": "section", "fields": fields})
}

/// A Slack context block: one small line of mrkdwn.
fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(text)}]})
}

/// Slack's mrkdwn escapes: `&`, `<` and `>`.
fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::worker_alert;

    #[test]
    fn the_slack_body_is_one_line_of_text_and_escaped_blocks() {
        let body = worker_alert().slack_body();
        let text = body["text"].as_str().unwrap();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.starts_with(":rotating_light: stockflow: stock-worker dead_lettered a message from p_stock_queue")
        );
        assert!(
            text.contains("sku=CP-1")
                && text.contains("restock=0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e")
                && text.contains("message=orig-1")
        );
        let blocks = serde_json::to_string(&body["blocks"]).unwrap();
        assert!(
            blocks.contains("&lt;unknown&gt; &amp; gone"),
            "mrkdwn is escaped: {blocks}"
        );
        assert!(blocks.contains("stockctl dlq show orig-1"), "{blocks}");
    }
}
