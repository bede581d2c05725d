//! The stack's SNS topics and SQS queues, by name (with the stack's prefix): send,
//! publish, and find one message among others without disturbing them.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sns::types::MessageAttributeValue as SnsAttribute;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};

use crate::StackConfig;

/// A message found in a queue: its body, its message attributes and the handle to delete it.
#[derive(Debug, Clone)]
pub struct Found {
    pub message_id: String,
    pub body: String,
    pub attributes: HashMap<String, String>,
    pub receipt_handle: String,
}

pub struct Queues {
    config: StackConfig,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Queues {
    pub async fn connect(config: &StackConfig) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(config.aws_region.clone()));
        if !config.aws_endpoint_url.is_empty() {
            loader = loader.endpoint_url(&config.aws_endpoint_url);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "test", "test", None, None, "blackbox",
                ));
            }
        }
        let sdk = loader.load().await;
        Self {
            config: config.clone(),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
        }
    }

    pub async fn queue_url(&self, base: &str) -> String {
        let name = self.config.name(base);
        self.sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("queue {name} not found (is STOCKFLOW_PREFIX right?): {e:?}"))
            .queue_url
            .expect("queue URL")
    }

    async fn topic_arn(&self, base: &str) -> String {
        let suffix = format!(":{}", self.config.name(base));
        let mut pages = self.sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.expect("SNS ListTopics");
            if let Some(arn) = page
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .find(|a| a.ends_with(&suffix))
            {
                return arn.to_string();
            }
        }
        panic!(
            "topic {} not found (is STOCKFLOW_PREFIX right?)",
            self.config.name(base)
        )
    }

    /// Sends a raw body straight to a queue; returns its message id.
    pub async fn send_raw(&self, base: &str, body: &str) -> String {
        self.sqs
            .send_message()
            .queue_url(self.queue_url(base).await)
            .message_body(body)
            .send()
            .await
            .expect("SQS SendMessage")
            .message_id
            .expect("message id")
    }

    /// Publishes an event to a topic with the contract's `event_type` and `correlation_id` attributes.
    pub async fn publish(&self, topic: &str, event_type: &str, correlation_id: &str, body: &str) {
        let text = |v: &str| {
            SnsAttribute::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .expect("attribute")
        };
        self.sns
            .publish()
            .topic_arn(self.topic_arn(topic).await)
            .message(body)
            .message_attributes("event_type", text(event_type))
            .message_attributes("correlation_id", text(correlation_id))
            .send()
            .await
            .expect("SNS Publish");
    }

    /// Looks through the whole queue once for a message `matches` accepts. Messages
    /// looked at are hidden for a few seconds during the scan (so each is seen once)
    /// and made visible again right after it.
    pub async fn find(&self, base: &str, matches: impl Fn(&Found) -> bool) -> Option<Found> {
        let url = self.queue_url(base).await;
        let mut seen = Vec::new();
        let mut hit = None;
        'scan: loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(10)
                .wait_time_seconds(0)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("SQS ReceiveMessage");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in &messages {
                let found = found(message);
                if hit.is_none() && matches(&found) {
                    hit = Some(found);
                    continue;
                }
                seen.push(found.receipt_handle);
            }
            if hit.is_some() {
                break 'scan;
            }
        }
        for receipt in seen {
            self.sqs
                .change_message_visibility()
                .queue_url(&url)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .ok();
        }
        hit
    }

    /// Deletes a message this suite found (and made).
    pub async fn delete(&self, base: &str, found: &Found) {
        self.sqs
            .delete_message()
            .queue_url(self.queue_url(base).await)
            .receipt_handle(&found.receipt_handle)
            .send()
            .await
            .expect("SQS DeleteMessage");
    }

    /// Waits up to `deadline` for a message `matches` accepts, then deletes it; returns it.
    pub async fn take(&self, base: &str, deadline: Duration, what: &str, matches: impl Fn(&Found) -> bool) -> Found {
        let found = crate::eventually(what, deadline, || async { self.find(base, &matches).await }).await;
        self.delete(base, &found).await;
        found
    }
}

fn found(message: &Message) -> Found {
    Found {
        message_id: message.message_id().unwrap_or_default().to_string(),
        body: message.body().unwrap_or_default().to_string(),
        attributes: message
            .message_attributes()
            .map(|a| {
                a.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.string_value()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        receipt_handle: message.receipt_handle().unwrap_or_default().to_string(),
    }
}
