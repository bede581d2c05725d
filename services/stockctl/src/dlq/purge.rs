//! `stockctl dlq purge`: deletes every message of the chosen DLQs, after saying how
//! many each holds.

use std::fmt::Write;

use serde::Serialize;

use super::Dlq;
use crate::context::Ctx;

#[derive(Debug, Clone, Serialize)]
pub struct Purged {
    pub dlq: String,
    pub name: String,
    /// Messages in the queue just before the purge (approximate).
    pub messages: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub purged: Vec<Purged>,
}

/// The chosen DLQs and how many messages each holds (for the confirmation prompt).
pub async fn purge_preview(ctx: &Ctx, dlqs: &[Dlq]) -> anyhow::Result<Vec<Purged>> {
    let mut out = Vec::new();
    for &dlq in dlqs {
        let url = ctx.queue_url(dlq.dlq()).await?;
        let (visible, in_flight) = ctx.depth(&url).await?;
        out.push(Purged {
            dlq: dlq.dlq().to_string(),
            name: ctx.resources.name(dlq.dlq()),
            messages: visible + in_flight,
        });
    }
    Ok(out)
}

/// Deletes every message of the chosen DLQs (confirmation is the caller's job).
pub async fn purge(ctx: &Ctx, dlqs: &[Dlq]) -> anyhow::Result<PurgeReport> {
    let purged = purge_preview(ctx, dlqs).await?;
    for p in &purged {
        let url = ctx.queue_url(&p.dlq).await?;
        ctx.sqs
            .purge_queue()
            .queue_url(&url)
            .send()
            .await
            .map_err(|e| ctx.aws_error(&format!("cannot purge {} (SQS allows one purge a minute)", p.name), e))?;
    }
    Ok(PurgeReport { purged })
}

impl PurgeReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        for p in &self.purged {
            let _ = writeln!(out, "purged {} ({} messages)", p.name, p.messages);
        }
        out
    }
}
