//! Publishing events to SNS with their `event_type` and `correlation_id` attributes.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::aws::Resources;
use stockflow_contracts::events::{ATTR_CORRELATION_ID, ATTR_EVENT_TYPE, Event};

/// Publishes to the topics it was opened with, by their base names.
#[derive(Clone)]
pub struct Publisher {
    sns: aws_sdk_sns::Client,
    topic_arns: HashMap<String, String>,
}

impl Publisher {
    /// Resolves each topic's ARN once, at start.
    pub async fn open(sns: aws_sdk_sns::Client, resources: &Resources, topics: &[&str]) -> anyhow::Result<Self> {
        let mut topic_arns = HashMap::new();
        for topic in topics {
            topic_arns.insert(topic.to_string(), resources.topic_arn(&sns, topic).await?);
        }
        Ok(Self { sns, topic_arns })
    }

    /// Publishes an already serialized body; returns the SNS message id.
    pub async fn publish_raw(
        &self,
        topic: &str,
        event_type: &str,
        correlation_id: &str,
        body: String,
    ) -> anyhow::Result<String> {
        let arn = self
            .topic_arns
            .get(topic)
            .with_context(|| format!("publisher was not opened for topic `{topic}`"))?;
        let out = self
            .sns
            .publish()
            .topic_arn(arn)
            .message(body)
            .message_attributes(ATTR_EVENT_TYPE, string_attribute(event_type)?)
            .message_attributes(ATTR_CORRELATION_ID, string_attribute(correlation_id)?)
            .send()
            .await
            .with_context(|| format!("publishing {event_type} to `{topic}` failed"))?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// Publishes serialized events to one topic with SNS PublishBatch (ten per call);
    /// returns each entry's id with its result, so partial failures are seen.
    pub async fn publish_batch(&self, topic: &str, entries: Vec<BatchEntry>) -> Vec<(u64, Result<(), String>)> {
        let mut results = Vec::with_capacity(entries.len());
        let Some(arn) = self.topic_arns.get(topic) else {
            let error = format!("publisher was not opened for topic `{topic}`");
            return entries.iter().map(|e| (e.id, Err(error.clone()))).collect();
        };
        for chunk in entries.chunks(10) {
            let request: Result<Vec<_>, String> = chunk
                .iter()
                .map(|e| {
                    PublishBatchRequestEntry::builder()
                        .id(e.id.to_string())
                        .message(&e.payload)
                        .message_attributes(ATTR_EVENT_TYPE, string_attribute(&e.event_type)?)
                        .message_attributes(ATTR_CORRELATION_ID, string_attribute(&e.correlation_id)?)
                        .build()
                        .map_err(anyhow::Error::from)
                })
                .collect::<anyhow::Result<_>>()
                .map_err(|err| format!("{err:#}"));
            let sent = match request {
                Ok(request) => self
                    .sns
                    .publish_batch()
                    .topic_arn(arn)
                    .set_publish_batch_request_entries(Some(request))
                    .send()
                    .await
                    .map_err(|err| format!("publishing to `{topic}` failed: {}", DisplayErrorContext(&err))),
                Err(err) => Err(err),
            };
            match sent {
                Ok(out) => {
                    let failed: HashMap<&str, String> = out
                        .failed()
                        .iter()
                        .map(|f| (f.id(), format!("{}: {}", f.code(), f.message().unwrap_or_default())))
                        .collect();
                    for e in chunk {
                        let result = failed.get(e.id.to_string().as_str()).cloned().map_or(Ok(()), Err);
                        results.push((e.id, result));
                    }
                }
                Err(error) => results.extend(chunk.iter().map(|e| (e.id, Err(error.clone())))),
            }
        }
        results
    }

    /// Serializes and publishes an event to its topic.
    pub async fn publish<E: Event>(&self, event: &E, correlation_id: &str) -> anyhow::Result<String> {
        let body = serde_json::to_string(event)?;
        self.publish_raw(E::TOPIC, E::TYPE, correlation_id, body).await
    }

    /// Checks that SNS answers (for `/ready`).
    pub async fn ping(&self) -> anyhow::Result<()> {
        stockflow_kit::health::within("SNS", async {
            if let Some(arn) = self.topic_arns.values().next() {
                self.sns.get_topic_attributes().topic_arn(arn).send().await?;
            }
            Ok(())
        })
        .await
    }
}

/// One serialized event of a batch, with the outbox row id it came from.
#[derive(Debug, Clone)]
pub struct BatchEntry {
    pub id: u64,
    pub event_type: String,
    pub correlation_id: String,
    pub payload: String,
}

fn string_attribute(value: &str) -> anyhow::Result<MessageAttributeValue> {
    // SNS rejects empty attribute values; "-" stands for "none given".
    let value = if value.is_empty() { "-" } else { value };
    Ok(MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()?)
}
