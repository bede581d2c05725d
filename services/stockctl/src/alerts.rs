//! `stockctl alerts`: the `ops_alert_queue` inbox.
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

use std::fmt::Write;
use std::time::Duration;

use anyhow::anyhow;
use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde::Serialize;
use serde_json::{Value, json};
use stockflow_contracts::names;
use stockflow_contracts::events::{ATTR_EVENT_TYPE, Event, OpsAlert, SurplusArrival};
use tokio_util::sync::CancellationToken;

use crate::context::Ctx;
use crate::peek::{attribute, peek_all, sent_at};
use crate::status::state_serde;
use crate::table::preview;

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

impl Alert {
    pub fn decode(message: &Message) -> Self {
        let message_id = message.message_id().unwrap_or_default().to_string();
        let body = message.body().unwrap_or_default();
        if attribute(message, ATTR_EVENT_TYPE).as_deref() == Some(OpsAlert::TYPE)
            && let Ok(alert) = serde_json::from_str::<OpsAlert>(body)
        {
            return Alert::Worker { message_id, alert };
        }
        if attribute(message, ATTR_EVENT_TYPE).as_deref() == Some(SurplusArrival::TYPE)
            && let Ok(alert) = serde_json::from_str::<SurplusArrival>(body)
        {
            return Alert::Surplus { message_id, alert };
        }
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(body)
            && let Some(alarm_name) = value["AlarmName"].as_str()
        {
            let text = |k: &str| value[k].as_str().map(str::to_string);
            let state = |k: &str| value[k].as_str().map(StateValue::from);
            return Alert::Alarm {
                message_id,
                alarm_name: alarm_name.to_string(),
                new_state: state("NewStateValue").unwrap_or_else(|| StateValue::from("")),
                old_state: state("OldStateValue"),
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
                line.push_str(&subject(alert));
                if let Some(id) = &alert.correlation_id {
                    let _ = write!(line, " correlation={id}");
                }
                let _ = write!(line, "\n    error: {}", preview(&alert.error, 300));
                line
            }
            Alert::Surplus { alert, .. } => format!(
                "{} SURPLUS {}\n    decide: `stockctl surplus settle {} --keep|--return` (docs/operations.md#surplus-arrival)",
                alert.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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

impl Alert {
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
        let field = |name: &str, value: &str| json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", mrkdwn(value))});
        let mut blocks = vec![json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": mrkdwn(&text)},
        })];
        match self {
            Alert::Worker { alert, .. } => {
                let none = "-".to_string();
                blocks.push(json!({
                    "type": "section",
                    "fields": [
                        field("Kind", alert.kind.as_str()),
                        field("Service", &alert.service),
                        field("Queue", &alert.queue),
                        field("Now in", &alert.now_in),
                        field("Attempts", &alert.attempts.to_string()),
                        field("SKU", alert.sku.as_ref().unwrap_or(&none)),
                        field("Restock request", &alert.restock_request_id.map_or_else(|| none.clone(), |id| id.to_string())),
                        field("Correlation id", alert.correlation_id.as_ref().unwrap_or(&none)),
                    ],
                }));
                blocks.push(json!({
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": format!("*Error*\n```{}```", mrkdwn(&preview(&alert.error, 1500)))},
                }));
                blocks.push(json!({
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": mrkdwn(&format!(
                        "message {} at {} · `stockctl dlq show {}` · runbook: docs/operations.md",
                        alert.message_id,
                        alert.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        alert.message_id
                    ))}],
                }));
            }
            Alert::Surplus { alert, .. } => {
                let none = "-".to_string();
                blocks.push(json!({
                    "type": "section",
                    "fields": [
                        field("Production order", &alert.production_order_id.to_string()),
                        field("Restock request", &alert.restock_request_id.to_string()),
                        field("Fulfilled by", &alert.fulfilled_by.map_or(none.clone(), |id| id.to_string())),
                        field("SKU", &alert.sku),
                        field("Quantity", &alert.quantity.to_string()),
                        field("Correlation id", alert.correlation_id.as_ref().unwrap_or(&none)),
                    ],
                }));
                blocks.push(json!({
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": mrkdwn(&format!(
                        "at {} · goods arrived and wait for a decision: `stockctl surplus settle {} --keep|--return` · runbook: docs/operations.md#surplus-arrival",
                        alert.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        alert.production_order_id
                    ))}],
                }));
            }
            Alert::Alarm {
                alarm_name, reason, at, ..
            } => {
                blocks.push(json!({
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": format!("*Reason*\n{}", mrkdwn(&preview(reason, 1500)))},
                }));
                blocks.push(json!({
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": mrkdwn(&format!(
                        "{alarm_name} changed at {} · `stockctl status` · runbook: docs/operations.md",
                        at.as_deref().unwrap_or("-")
                    ))}],
                }));
            }
            Alert::Other { .. } => {}
        }
        json!({"text": text, "blocks": blocks})
    }
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

/// Slack's mrkdwn escapes: `&`, `<` and `>`.
fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

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

#[derive(Debug, Clone, Serialize)]
pub struct AlertsReport {
    /// Whether the alerts were removed from the queue (false with `--peek`).
    pub consumed: bool,
    /// The webhook they were delivered to (scheme and host), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forwarded_to: Option<String>,
    /// Why some alerts could not be delivered (they stay in the queue); the listed
    /// ones were delivered and consumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_error: Option<String>,
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

/// What is in the inbox now: consumed (deleted once read) unless `peek`. With a
/// webhook, each alert is forwarded first and deleted only once delivered; when the
/// webhook refuses one, the rest stay in the queue and the error says so.
pub async fn read(ctx: &Ctx, peek: bool, webhook: Option<&Webhook>) -> anyhow::Result<AlertsReport> {
    let url = ctx.queue_url(names::OPS_ALERT_QUEUE).await?;
    if peek {
        let messages = peek_all(ctx, &url).await?;
        return Ok(AlertsReport {
            consumed: false,
            forwarded_to: None,
            webhook_error: None,
            alerts: messages.iter().map(Alert::decode).collect(),
        });
    }
    let mut alerts = Vec::new();
    let mut webhook_error = None;
    loop {
        let messages = receive(ctx, &url, 1).await?;
        if messages.is_empty() {
            break;
        }
        let batch = deliver(ctx, &url, &messages, webhook, Duration::ZERO).await?;
        alerts.extend(batch.delivered);
        if let Some(error) = batch.failed {
            webhook_error = Some(format!(
                "{error}; {} alert(s) not delivered stay in {}: run again once the webhook works",
                batch.kept,
                ctx.resources.name(names::OPS_ALERT_QUEUE)
            ));
            break;
        }
    }
    Ok(AlertsReport {
        consumed: true,
        forwarded_to: webhook.map(Webhook::display),
        webhook_error,
        alerts,
    })
}

/// What `follow` reports as it goes.
#[derive(Debug)]
pub enum FollowEvent<'a> {
    /// An alert was read (and delivered to the webhook, if any); it is deleted.
    Alert(&'a Alert),
    /// The webhook refused an alert: it and the rest of its batch stay in the queue
    /// and are offered again after `retry_in`.
    WebhookFailed {
        error: &'a str,
        kept: usize,
        retry_in: Duration,
    },
}

/// Long-polls the inbox until `stop`, handing each alert to `on_event` and then
/// deleting it; with a webhook, only once the webhook accepted it (an undelivered
/// alert is retried after `retry`).
pub async fn follow(
    ctx: &Ctx,
    stop: CancellationToken,
    webhook: Option<&Webhook>,
    retry: Duration,
    on_event: &mut (dyn FnMut(FollowEvent<'_>) + Send),
) -> anyhow::Result<()> {
    let url = ctx.queue_url(names::OPS_ALERT_QUEUE).await?;
    loop {
        let messages = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            received = receive(ctx, &url, 20) => received?,
        };
        let batch = deliver(ctx, &url, &messages, webhook, retry).await?;
        for alert in &batch.delivered {
            on_event(FollowEvent::Alert(alert));
        }
        if let Some(error) = &batch.failed {
            on_event(FollowEvent::WebhookFailed {
                error,
                kept: batch.kept,
                retry_in: retry,
            });
        }
    }
}

struct Batch {
    delivered: Vec<Alert>,
    /// The first refusal, if any.
    failed: Option<String>,
    /// Alerts left in the queue for a later try.
    kept: usize,
}

/// Forwards a batch in order and deletes what was delivered (all of it without a
/// webhook). What the webhook refuses stays in the queue, visible again after
/// `retry`; once the webhook looks down, the rest of the batch is not tried.
async fn deliver(
    ctx: &Ctx,
    url: &str,
    messages: &[Message],
    webhook: Option<&Webhook>,
    retry: Duration,
) -> anyhow::Result<Batch> {
    let mut delivered = Vec::new();
    let mut done = Vec::new();
    let mut kept = Vec::new();
    let mut failed: Option<String> = None;
    let mut down = false;
    for m in messages {
        if down {
            kept.push(m);
            continue;
        }
        let alert = Alert::decode(m);
        if let Some(webhook) = webhook
            && alert.worth_a_message()
            && let Err(error) = webhook.post(&alert).await
        {
            down = error.down;
            failed.get_or_insert(error.message);
            kept.push(m);
            continue;
        }
        delivered.push(alert);
        done.push(m.clone());
    }
    if !done.is_empty() {
        delete(ctx, url, &done).await?;
    }
    for m in &kept {
        let seconds = i32::try_from(retry.as_secs()).unwrap_or(i32::MAX).min(43_200);
        ctx.sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(m.receipt_handle().unwrap_or_default())
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| ctx.aws_error("cannot put an undelivered alert back", e))?;
    }
    Ok(Batch {
        delivered,
        failed,
        kept: kept.len(),
    })
}

/// How long received alerts stay hidden while they are printed and forwarded: room
/// for a batch of ten slow webhook calls.
const IN_HAND_SECONDS: i32 = 120;

async fn receive(ctx: &Ctx, url: &str, wait_seconds: i32) -> anyhow::Result<Vec<Message>> {
    let out = ctx
        .sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .wait_time_seconds(wait_seconds)
        .visibility_timeout(IN_HAND_SECONDS)
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
                assert_eq!(new_state, StateValue::Alarm);
            }
            other => panic!("not an alarm: {other:?}"),
        }
    }

    fn worker_alert() -> Alert {
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

    #[test]
    fn the_slack_body_is_one_line_of_text_and_escaped_blocks() {
        let body = worker_alert().slack_body();
        let text = body["text"].as_str().unwrap();
        assert!(!text.contains('\n'), "{text}");
        assert!(
            text.starts_with(":rotating_light: stockflow: stock-worker dead_lettered a message from p_stock_queue")
        );
        assert!(text.contains("sku=CP-1") && text.contains("restock=0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e") && text.contains("message=orig-1"));
        let blocks = serde_json::to_string(&body["blocks"]).unwrap();
        assert!(
            blocks.contains("&lt;unknown&gt; &amp; gone"),
            "mrkdwn is escaped: {blocks}"
        );
        assert!(blocks.contains("stockctl dlq show orig-1"), "{blocks}");
    }

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

    #[test]
    fn a_surplus_arrival_is_its_own_kind_with_order_request_and_quantity() {
        let alert = SurplusArrival {
            production_order_id: uuid::Uuid::new_v4(),
            restock_request_id: stockflow_contracts::RestockRequestId::new(),
            fulfilled_by: Some(uuid::Uuid::new_v4()),
            sku: "CP-1".into(),
            quantity: 5,
            service: "stock-inc-worker".into(),
            correlation_id: Some("c-1".into()),
            at: chrono::Utc::now(),
        };
        let message = Message::builder()
            .message_id("m4")
            .body(serde_json::to_string(&alert).unwrap())
            .message_attributes(
                ATTR_EVENT_TYPE,
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("surplus_arrival")
                    .build()
                    .unwrap(),
            )
            .build();
        let decoded = Alert::decode(&message);
        assert!(
            matches!(&decoded, Alert::Surplus { alert: a, .. } if *a == alert),
            "{decoded:?}"
        );
        let human = decoded.human();
        for part in [
            alert.production_order_id.to_string(),
            alert.restock_request_id.to_string(),
            alert.fulfilled_by.unwrap().to_string(),
            "5 x CP-1".to_string(),
            "stockctl surplus settle".to_string(),
        ] {
            assert!(human.contains(&part), "{part} missing from {human}");
        }
        assert!(decoded.worth_a_message());
        let blocks = serde_json::to_string(&decoded.slack_body()["blocks"]).unwrap();
        assert!(blocks.contains(&alert.production_order_id.to_string()), "{blocks}");
    }
}
