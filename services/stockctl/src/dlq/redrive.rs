//! `stockctl dlq redrive`: moves a DLQ's messages back to their work queue with an
//! SQS message move task and follows it until it ends.

use std::fmt::Write;
use std::time::Duration;

use anyhow::anyhow;
use serde::Serialize;

use super::Dlq;
use crate::context::Ctx;

/// A message move task's state.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MoveProgress {
    pub dlq: String,
    pub destination: String,
    /// RUNNING, COMPLETED, CANCELLING, CANCELLED or FAILED; `EMPTY` when there was
    /// nothing to move (no task started).
    pub status: String,
    pub moved: i64,
    pub to_move: Option<i64>,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedriveReport {
    pub tasks: Vec<MoveProgress>,
}

impl RedriveReport {
    pub fn succeeded(&self) -> bool {
        self.tasks
            .iter()
            .all(|t| t.status == "COMPLETED" || t.status == "EMPTY")
    }
}

/// Moves each chosen DLQ's messages back to its work queue with an SQS message move
/// task and waits for it to finish, reporting progress as it changes.
pub async fn redrive(
    ctx: &Ctx,
    dlqs: &[Dlq],
    timeout: Duration,
    progress: &mut (dyn FnMut(&MoveProgress) + Send),
) -> anyhow::Result<RedriveReport> {
    let mut tasks = Vec::new();
    for &dlq in dlqs {
        let dlq_url = ctx.queue_url(dlq.dlq()).await?;
        let source_url = ctx.queue_url(dlq.source()).await?;
        let dlq_arn = ctx.queue_arn(&dlq_url).await?;
        let source_arn = ctx.queue_arn(&source_url).await?;
        let mut state = MoveProgress {
            dlq: ctx.resources.name(dlq.dlq()),
            destination: ctx.resources.name(dlq.source()),
            status: "EMPTY".into(),
            moved: 0,
            to_move: Some(0),
            failure_reason: None,
        };
        let (visible, in_flight) = ctx.depth(&dlq_url).await?;
        if visible + in_flight == 0 {
            progress(&state);
            tasks.push(state);
            continue;
        }
        let started = ctx
            .sqs
            .start_message_move_task()
            .source_arn(&dlq_arn)
            .destination_arn(&source_arn)
            .send()
            .await
            .map_err(|e| ctx.aws_error(&format!("cannot start redriving {}", state.dlq), e))?;
        let handle = started.task_handle().map(str::to_string);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last: Option<MoveProgress> = None;
        loop {
            let out = ctx
                .sqs
                .list_message_move_tasks()
                .source_arn(&dlq_arn)
                .max_results(10)
                .send()
                .await
                .map_err(|e| ctx.aws_error("cannot read the message move task", e))?;
            // A running task carries its handle; a finished one may not: the newest
            // task (listed first) is then ours.
            let entry = out
                .results()
                .iter()
                .find(|t| handle.is_some() && t.task_handle() == handle.as_deref())
                .or_else(|| out.results().first());
            if let Some(entry) = entry {
                state.status = entry.status().unwrap_or("UNKNOWN").to_string();
                state.moved = entry.approximate_number_of_messages_moved();
                state.to_move = entry.approximate_number_of_messages_to_move();
                state.failure_reason = entry.failure_reason().map(str::to_string);
                if last.as_ref() != Some(&state) {
                    progress(&state);
                    last = Some(state.clone());
                }
                if matches!(state.status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED") {
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(anyhow!(
                    "redriving {} did not finish within {} s (last status {}): see `stockctl dlq list` and `stockctl status`",
                    state.dlq,
                    timeout.as_secs(),
                    state.status
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tasks.push(state);
    }
    Ok(RedriveReport { tasks })
}

impl MoveProgress {
    pub fn human(&self) -> String {
        if self.status == "EMPTY" {
            return format!("{}: empty, nothing to redrive", self.dlq);
        }
        let total = self.to_move.map(|n| n.to_string()).unwrap_or_else(|| "?".into());
        let mut line = format!(
            "{} → {}: {} ({}/{} moved)",
            self.dlq, self.destination, self.status, self.moved, total
        );
        if let Some(reason) = &self.failure_reason {
            let _ = write!(line, ": {reason}");
        }
        line
    }
}

impl RedriveReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        for t in &self.tasks {
            let _ = writeln!(out, "{}", t.human());
        }
        out
    }
}
