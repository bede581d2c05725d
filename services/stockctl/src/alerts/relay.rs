//! The alert relay: takes alerts from the inbox, hands each to the webhook (if any)
//! and to the caller, and deletes it once delivered; `read` empties the inbox once,
//! `follow` long-polls until stopped.

use std::time::Duration;

use aws_sdk_sqs::types::Message;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::Alert;
use super::inbox::Inbox;
use super::webhook::Webhook;
use crate::context::Ctx;

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

/// What is in the inbox now: consumed (deleted once read) unless `peek`. With a
/// webhook, each alert is forwarded first and deleted only once delivered; when the
/// webhook refuses one, the rest stay in the queue and the error says so.
pub async fn read(ctx: &Ctx, peek: bool, webhook: Option<&Webhook>) -> anyhow::Result<AlertsReport> {
    let inbox = Inbox::open(ctx).await?;
    if peek {
        return Ok(AlertsReport {
            consumed: false,
            forwarded_to: None,
            webhook_error: None,
            alerts: inbox.peek().await?,
        });
    }
    let mut alerts = Vec::new();
    let mut webhook_error = None;
    loop {
        let messages = inbox.receive(1).await?;
        if messages.is_empty() {
            break;
        }
        let batch = deliver(&inbox, &messages, webhook, Duration::ZERO).await?;
        alerts.extend(batch.delivered);
        if let Some(error) = batch.failed {
            webhook_error = Some(format!(
                "{error}; {} alert(s) not delivered stay in {}: run again once the webhook works",
                batch.kept,
                inbox.name()
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
    let inbox = Inbox::open(ctx).await?;
    loop {
        let messages = tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            received = inbox.receive(20) => received?,
        };
        let batch = deliver(&inbox, &messages, webhook, retry).await?;
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
    inbox: &Inbox<'_>,
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
        inbox.delete(&done).await?;
    }
    inbox.put_back(&kept, retry).await?;
    Ok(Batch {
        delivered,
        failed,
        kept: kept.len(),
    })
}
