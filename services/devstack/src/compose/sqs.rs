//! LocalStack's SQS for the DLQ alert check: a queue's visible message count and sending a
//! message (the poison one), with the clients the devstack makes for LocalStack.

use anyhow::Context;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::queues;

/// LocalStack's SQS, as the stack's services see it.
pub struct Sqs {
    client: aws_sdk_sqs::Client,
}

impl Sqs {
    pub async fn new(port: u16) -> Self {
        let endpoint = format!("http://127.0.0.1:{port}");
        Self {
            client: queues::client(&endpoint, "us-east-1").await,
        }
    }

    async fn url(&self, queue: &str) -> anyhow::Result<String> {
        let found = self.client.get_queue_url().queue_name(queue).send().await;
        let found = found.map_err(|e| anyhow::anyhow!("SQS GetQueueUrl {queue}: {}", DisplayErrorContext(e)))?;
        found.queue_url().map(String::from).context("no queue url")
    }

    /// Its visible messages.
    pub async fn count(&self, queue: &str) -> anyhow::Result<u64> {
        let asked = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue).await?)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("SQS GetQueueAttributes {queue}: {}", DisplayErrorContext(e)))?;
        let count = asked
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .with_context(|| format!("no ApproximateNumberOfMessages for {queue}"))?;
        Ok(count.parse()?)
    }

    pub async fn send(&self, queue: &str, body: &str) -> anyhow::Result<()> {
        let url = self.url(queue).await?;
        let sent = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await;
        sent.map_err(|e| anyhow::anyhow!("SQS SendMessage {queue}: {}", DisplayErrorContext(e)))?;
        Ok(())
    }
}
