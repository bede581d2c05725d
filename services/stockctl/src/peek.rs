//! Reading a queue without taking messages away.
//!
//! A scan receives with a short visibility timeout, so that each receive brings
//! messages not seen yet (a queue may answer every receive with the same first ten, as
//! LocalStack does), and then makes every message it saw visible again at once
//! (`ChangeMessageVisibility` 0); were stockctl to die mid-scan, they reappear after
//! the timeout anyway. SQS counts the receives (`ApproximateReceiveCount` rises), which
//! only matters on a queue with a redrive policy: stockctl peeks only at DLQs and at
//! `ops_alert_queue`, which have none. Receives repeat until the queue's visible count
//! is reached or a few rounds bring nothing new.

use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, Message};
use stockflow_messaging::sqs::sent_timestamp;

use crate::context::Ctx;

/// At most this many receives (10 messages each) per scan.
const MAX_ROUNDS: usize = 100;
/// Rounds in a row with nothing new before the scan ends.
const IDLE_ROUNDS: usize = 3;
/// How long a scanned message stays hidden if the scan never releases it.
const SCAN_VISIBILITY_SECONDS: i32 = 30;

pub async fn peek_all(ctx: &Ctx, url: &str) -> anyhow::Result<Vec<Message>> {
    let (visible, _) = ctx.depth(url).await?;
    let mut seen: Vec<Message> = Vec::new();
    let mut idle = 0;
    for _ in 0..MAX_ROUNDS {
        if visible > 0 && seen.len() as i64 >= visible {
            break;
        }
        let received = ctx
            .receive(url, 1, SCAN_VISIBILITY_SECONDS, "cannot receive messages")
            .await?;
        let mut new = 0;
        for message in received {
            if !seen.iter().any(|m| m.message_id() == message.message_id()) {
                seen.push(message);
                new += 1;
            }
        }
        if new == 0 {
            idle += 1;
            if visible == 0 || idle >= IDLE_ROUNDS {
                break;
            }
        } else {
            idle = 0;
        }
    }
    release(ctx, url, &seen).await?;
    seen.sort_by_key(|m| sent_timestamp(m).unwrap_or(0));
    Ok(seen)
}

/// Makes the scanned messages visible again, ten per call.
async fn release(ctx: &Ctx, url: &str, messages: &[Message]) -> anyhow::Result<()> {
    for chunk in messages.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle().map(str::to_string))
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        ctx.sqs
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| ctx.aws_error("cannot make the scanned messages visible again", e))?;
    }
    Ok(())
}

/// SentTimestamp as RFC 3339.
pub fn sent_at(message: &Message) -> Option<String> {
    sent_timestamp(message)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
