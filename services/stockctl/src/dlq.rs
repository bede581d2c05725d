//! `stockctl dlq …`: the dead-letter queues, and listing and showing what they hold;
//! `redrive.rs` sends their messages back, `purge.rs` deletes them.

use std::collections::BTreeMap;
use std::fmt::Write;

use anyhow::anyhow;
use aws_sdk_sqs::types::Message;
use serde::Serialize;
use stockflow_contracts::FailureKind;
use stockflow_contracts::dead_letter::attr;
use stockflow_contracts::events::{ATTR_CORRELATION_ID, ATTR_EVENT_TYPE};
use stockflow_contracts::names;

use crate::context::Ctx;
use crate::peek::{peek_all, sent_at};
use crate::table::{Table, opt, preview};
use stockflow_messaging::sqs::{receive_count, string_attribute};

mod purge;
mod redrive;

pub use purge::{PurgeReport, Purged, purge, purge_preview};
pub use redrive::{MoveProgress, RedriveReport, redrive};

/// A dead-letter queue, named by the queue it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dlq {
    /// `dead_letter_queue`, behind `stock_queue` (stock-worker).
    Stock,
    /// `stock_inc_dead_letter_queue`, behind `stock_inc_queue` (stock-inc-worker).
    StockInc,
}

impl Dlq {
    pub const ALL: [Dlq; 2] = [Dlq::Stock, Dlq::StockInc];

    pub fn dlq(self) -> &'static str {
        match self {
            Dlq::Stock => names::STOCK_DLQ,
            Dlq::StockInc => names::STOCK_INC_DLQ,
        }
    }

    /// The work queue whose failures land here, and where a redrive sends them.
    pub fn source(self) -> &'static str {
        match self {
            Dlq::Stock => names::STOCK_QUEUE,
            Dlq::StockInc => names::STOCK_INC_QUEUE,
        }
    }

    /// The chosen queue, or both.
    pub fn selected(choice: Option<Dlq>) -> Vec<Dlq> {
        choice.map(|d| vec![d]).unwrap_or_else(|| Dlq::ALL.to_vec())
    }
}

/// Characters of the body shown by `dlq list`.
const PREVIEW_CHARS: usize = 80;

/// One dead-lettered message and why it is there.
#[derive(Debug, Clone, Serialize)]
pub struct DlqMessage {
    /// The DLQ's base name.
    pub dlq: String,
    pub message_id: String,
    /// The message id it had in the work queue (alerts name this one).
    pub original_message_id: Option<String>,
    pub failure_reason: Option<String>,
    /// `dead_lettered` (permanent failure) or `final_attempt_failed` (retries used up);
    /// none when SQS's redrive policy moved it (a worker crashed on it).
    pub failure_kind: Option<FailureKind>,
    pub failure_attempts: Option<String>,
    pub failure_service: Option<String>,
    pub source_queue: Option<String>,
    pub event_type: Option<String>,
    pub correlation_id: Option<String>,
    pub sent_at: Option<String>,
    pub receive_count: Option<u32>,
    pub body_preview: String,
    /// The whole body and every message attribute (`dlq show` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
}

impl DlqMessage {
    fn from_message(dlq: Dlq, m: &Message, full: bool) -> Self {
        let body = m.body().unwrap_or_default();
        let attributes = m.message_attributes().map(|attrs| {
            attrs
                .iter()
                .map(|(k, v)| (k.clone(), v.string_value().unwrap_or("(binary)").to_string()))
                .collect::<BTreeMap<_, _>>()
        });
        let attribute = |name: &str| string_attribute(m, name).map(str::to_string);
        Self {
            dlq: dlq.dlq().to_string(),
            message_id: m.message_id().unwrap_or_default().to_string(),
            original_message_id: attribute(attr::ORIGINAL_MESSAGE_ID),
            failure_reason: attribute(attr::FAILURE_REASON),
            // an unknown kind (a newer worker's) still shows among the attributes
            failure_kind: attribute(attr::FAILURE_KIND).and_then(|kind| kind.parse().ok()),
            failure_attempts: attribute(attr::FAILURE_ATTEMPTS),
            failure_service: attribute(attr::FAILURE_SERVICE),
            source_queue: attribute(attr::SOURCE_QUEUE),
            event_type: attribute(ATTR_EVENT_TYPE),
            correlation_id: attribute(ATTR_CORRELATION_ID),
            sent_at: sent_at(m),
            receive_count: receive_count(m),
            body_preview: preview(body, PREVIEW_CHARS),
            body: full.then(|| body.to_string()),
            attributes: if full {
                Some(attributes.unwrap_or_default())
            } else {
                None
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DlqListing {
    pub dlq: String,
    pub name: String,
    pub source_queue: String,
    pub visible: i64,
    pub in_flight: i64,
    pub messages: Vec<DlqMessage>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DlqListReport {
    pub queues: Vec<DlqListing>,
}

/// Every message in the chosen DLQs, left in place.
pub async fn list(ctx: &Ctx, dlqs: &[Dlq]) -> anyhow::Result<DlqListReport> {
    let mut queues = Vec::new();
    for &dlq in dlqs {
        let url = ctx.queue_url(dlq.dlq()).await?;
        let messages = peek_all(ctx, &url).await?;
        let (visible, in_flight) = ctx.depth(&url).await?;
        queues.push(DlqListing {
            dlq: dlq.dlq().to_string(),
            name: ctx.resources.name(dlq.dlq()),
            source_queue: ctx.resources.name(dlq.source()),
            visible,
            in_flight,
            messages: messages
                .iter()
                .map(|m| DlqMessage::from_message(dlq, m, false))
                .collect(),
        });
    }
    Ok(DlqListReport { queues })
}

/// One message, found by its DLQ message id or its original message id.
pub async fn show(ctx: &Ctx, dlqs: &[Dlq], id: &str) -> anyhow::Result<DlqMessage> {
    for &dlq in dlqs {
        let url = ctx.queue_url(dlq.dlq()).await?;
        for m in peek_all(ctx, &url).await? {
            if m.message_id() == Some(id) || string_attribute(&m, attr::ORIGINAL_MESSAGE_ID) == Some(id) {
                return Ok(DlqMessage::from_message(dlq, &m, true));
            }
        }
    }
    let searched: Vec<String> = dlqs.iter().map(|d| ctx.resources.name(d.dlq())).collect();
    Err(anyhow!(
        "no message `{id}` in {}: `stockctl dlq list` shows the ids there",
        searched.join(" or ")
    ))
}

impl DlqListReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        for q in &self.queues {
            let _ = writeln!(
                out,
                "{} (from {}): {} visible, {} in flight",
                q.name, q.source_queue, q.visible, q.in_flight
            );
            if q.messages.is_empty() {
                out.push_str("  empty\n\n");
                continue;
            }
            let mut t = Table::new(&["message id", "kind", "attempts", "source", "reason", "body"]);
            for m in &q.messages {
                t.row(vec![
                    m.message_id.clone(),
                    m.failure_kind
                        .map_or("(redrive policy)", FailureKind::as_str)
                        .to_string(),
                    opt(&m.failure_attempts),
                    opt(&m.source_queue),
                    preview(m.failure_reason.as_deref().unwrap_or("-"), 60),
                    m.body_preview.clone(),
                ]);
            }
            let _ = writeln!(out, "{}", t.render());
        }
        out
    }
}

impl DlqMessage {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let mut field = |k: &str, v: &str| {
            let _ = writeln!(out, "{k:<20} {v}");
        };
        field("dlq", &self.dlq);
        field("message id", &self.message_id);
        field("original message id", &opt(&self.original_message_id));
        field("failure kind", self.failure_kind.map_or("-", FailureKind::as_str));
        field("failure reason", &opt(&self.failure_reason));
        field("failure attempts", &opt(&self.failure_attempts));
        field("failure service", &opt(&self.failure_service));
        field("source queue", &opt(&self.source_queue));
        field("event type", &opt(&self.event_type));
        field("correlation id", &opt(&self.correlation_id));
        field("sent at", &opt(&self.sent_at));
        field(
            "receive count",
            &self.receive_count.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        );
        if let Some(attributes) = &self.attributes {
            out.push_str("attributes:\n");
            for (k, v) in attributes {
                let _ = writeln!(out, "  {k} = {v}");
            }
        }
        let body = self.body.as_deref().unwrap_or(&self.body_preview);
        let pretty = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| body.to_string());
        let _ = writeln!(out, "body:\n{pretty}");
        out
    }
}
