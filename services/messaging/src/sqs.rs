//! Reading an SQS queue the one way every reader in stockflow does it (the consumer,
//! stockctl, the bench's floor, the tests): one `ReceiveMessage` call with every
//! attribute, one batch delete that reports the entries SQS refused, and the readers of a
//! message's attributes; and sending a bare body (the tests' malformed messages).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::delete_message_batch::DeleteMessageBatchError;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageError;
use aws_sdk_sqs::operation::send_message::SendMessageError;
use aws_sdk_sqs::types::{BatchResultErrorEntry, DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};

/// The most messages one call receives or deletes.
pub const MAX_BATCH: usize = 10;

/// One `ReceiveMessage` call, with every message and system attribute.
#[derive(Clone, Copy, Debug)]
pub struct Receive {
    max: i32,
    wait_seconds: i32,
    hidden_seconds: Option<i32>,
}

impl Receive {
    /// Up to `max` messages (held to 1–10), returning at once when none is there.
    pub fn up_to(max: usize) -> Self {
        Self {
            max: max.clamp(1, MAX_BATCH) as i32,
            wait_seconds: 0,
            hidden_seconds: None,
        }
    }

    /// Long-polls up to `seconds` for the first message.
    pub fn waiting(self, seconds: i32) -> Self {
        Self {
            wait_seconds: seconds,
            ..self
        }
    }

    /// Hides what it receives for `seconds` instead of the queue's visibility timeout
    /// (0: a look that leaves the messages visible).
    pub fn hidden_for(self, seconds: i32) -> Self {
        Self {
            hidden_seconds: Some(seconds),
            ..self
        }
    }

    /// Receives from the queue at `queue_url`.
    pub async fn from(self, sqs: &Client, queue_url: &str) -> Result<Vec<Message>, SdkError<ReceiveMessageError>> {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(self.max)
            .wait_time_seconds(self.wait_seconds)
            .set_visibility_timeout(self.hidden_seconds)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        Ok(out.messages.unwrap_or_default())
    }
}

/// Deletes up to ten messages by their receipt handles in one call; returns the entries SQS
/// refused (their `id` is the receipt's position in `receipts`).
pub async fn delete_batch<'r>(
    sqs: &Client,
    queue_url: &str,
    receipts: impl IntoIterator<Item = &'r str>,
) -> Result<Vec<BatchResultErrorEntry>, SdkError<DeleteMessageBatchError>> {
    let entries = receipts
        .into_iter()
        .enumerate()
        .filter_map(|(i, receipt)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(receipt)
                .build()
                .ok()
        })
        .collect::<Vec<_>>();
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let out = sqs
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await?;
    Ok(out.failed)
}

/// Sends `body` with no attributes to the queue at `queue_url`; its message id.
pub async fn send_body(sqs: &Client, queue_url: &str, body: &str) -> Result<String, SdkError<SendMessageError>> {
    let out = sqs
        .send_message()
        .queue_url(queue_url)
        .message_body(body)
        .send()
        .await?;
    Ok(out.message_id.unwrap_or_default())
}

/// The string value of message attribute `name`.
pub fn string_attribute<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message.message_attributes()?.get(name)?.string_value()
}

/// How many times SQS has delivered the message (`ApproximateReceiveCount`).
pub fn receive_count(message: &Message) -> Option<u32> {
    system_attribute(message, MessageSystemAttributeName::ApproximateReceiveCount)?
        .parse()
        .ok()
}

/// When the message was sent (`SentTimestamp`), in milliseconds since the epoch.
pub fn sent_timestamp(message: &Message) -> Option<i64> {
    system_attribute(message, MessageSystemAttributeName::SentTimestamp)?
        .parse()
        .ok()
}

fn system_attribute(message: &Message, name: MessageSystemAttributeName) -> Option<&str> {
    message.attributes()?.get(&name).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::types::MessageAttributeValue;

    use super::*;

    #[test]
    fn attributes_are_read_and_absent_ones_are_none() {
        let message = Message::builder()
            .message_attributes(
                "correlation_id",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("c-1")
                    .build()
                    .unwrap(),
            )
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "3")
            .attributes(MessageSystemAttributeName::SentTimestamp, "1700000000000")
            .build();
        assert_eq!(string_attribute(&message, "correlation_id"), Some("c-1"));
        assert_eq!(string_attribute(&message, "event_type"), None);
        assert_eq!(receive_count(&message), Some(3));
        assert_eq!(sent_timestamp(&message), Some(1_700_000_000_000));
        let bare = Message::builder().build();
        assert_eq!(
            (
                string_attribute(&bare, "x"),
                receive_count(&bare),
                sent_timestamp(&bare)
            ),
            (None, None, None)
        );
    }

    #[test]
    fn a_receive_is_held_to_what_sqs_accepts() {
        assert_eq!(Receive::up_to(0).max, 1);
        assert_eq!(Receive::up_to(64).max, 10);
        let look = Receive::up_to(5).waiting(1).hidden_for(0);
        assert_eq!((look.max, look.wait_seconds, look.hidden_seconds), (5, 1, Some(0)));
    }
}
