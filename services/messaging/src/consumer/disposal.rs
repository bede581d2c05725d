//! How a consumer disposes of a message it is done with: deleted in batches when
//! handled (each entry's result checked), or moved to the dead-letter queue with its
//! failure attributes (`contracts::dead_letter`), deleted from its queue, and ops alerted.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_sqs::types::{Message, MessageAttributeValue};
use chrono::Utc;
use tokio::sync::mpsc;

use super::{Consumer, Delivery, Handler};
use crate::sqs;
use stockflow_contracts::FailureKind;
use stockflow_contracts::dead_letter::attr;
use stockflow_contracts::events::{OpsAlert, Subject};

impl<H: Handler> Consumer<H> {
    /// Moves the message to the DLQ with the reason attached, then deletes it from
    /// the source queue and alerts ops. If the move fails the message is left where it
    /// is, so the redrive policy still catches it.
    pub(super) async fn dead_letter(
        &self,
        message: &Message,
        delivery: &Delivery,
        receipt: &str,
        kind: FailureKind,
        reason: &str,
    ) {
        let mut attributes: HashMap<String, MessageAttributeValue> =
            message.message_attributes().cloned().unwrap_or_default();
        let mut put = |name: &str, value: String| {
            if let Ok(v) = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
            {
                attributes.insert(name.to_string(), v);
            }
        };
        put(attr::FAILURE_REASON, truncate(reason, 1000));
        put(attr::FAILURE_KIND, kind.to_string());
        put(attr::FAILURE_SERVICE, self.service.to_string());
        put(attr::FAILURE_ATTEMPTS, delivery.receive_count.to_string());
        put(attr::SOURCE_QUEUE, self.route.queue_name.clone());
        put(attr::ORIGINAL_MESSAGE_ID, delivery.message_id.clone());
        let sent = self
            .sqs
            .send_message()
            .queue_url(&self.route.dlq_url)
            .message_body(&delivery.body)
            .set_message_attributes(Some(attributes))
            .send()
            .await;
        let now_in = match sent {
            Ok(_) => {
                self.delete_one(receipt).await;
                self.route.dlq_name.clone()
            }
            Err(err) => {
                tracing::error!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "cannot move the message to the DLQ; the redrive policy will move it");
                self.route.queue_name.clone()
            }
        };
        // what the alert names, read leniently: empty when the body is not a JSON object
        let subject: Subject = serde_json::from_str(&delivery.body).unwrap_or_default();
        let alert = OpsAlert {
            kind,
            service: self.service.to_string(),
            queue: self.route.queue_name.clone(),
            now_in,
            error: reason.to_string(),
            attempts: delivery.receive_count,
            message_id: delivery.message_id.clone(),
            sku: subject.sku,
            restock_request_id: subject.restock_request_id,
            correlation_id: Some(delivery.correlation_id.clone()),
            body: delivery.body.clone(),
            at: Utc::now(),
        };
        if let Err(err) = self.alerts.publish(&alert, &delivery.correlation_id).await {
            tracing::error!(error = %format!("{err:#}"), "cannot publish the ops alert; the DLQ alarm still fires");
        }
    }

    async fn delete_one(&self, receipt: &str) {
        let result = self
            .sqs
            .delete_message()
            .queue_url(&self.route.queue_url)
            .receipt_handle(receipt)
            .send()
            .await;
        if let Err(err) = result {
            tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "delete failed; the message may be delivered again (handled idempotently)");
        }
    }

    /// Deletes processed messages in batches of up to ten, checking each entry.
    pub(super) async fn delete_in_batches(self: Arc<Self>, mut done: mpsc::Receiver<String>) {
        let mut batch = Vec::with_capacity(10);
        while done.recv_many(&mut batch, 10).await > 0 {
            let deleted = sqs::delete_batch(&self.sqs, &self.route.queue_url, batch.iter().map(String::as_str)).await;
            batch.clear();
            match deleted {
                Ok(failed) => {
                    for failed in failed {
                        tracing::warn!(
                            entry = failed.id(),
                            code = failed.code(),
                            reason = failed.message().unwrap_or_default(),
                            "delete failed for one message; it may be delivered again (handled idempotently)"
                        );
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&err), "batch delete failed; those messages may be delivered again (handled idempotently)");
                }
            }
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
