//! Where a consumer's messages go when they fail: the queue's dead-letter queue and
//! `maxReceiveCount`, read from the queue's own redrive policy, so the worker and the
//! CloudFormation template can never disagree.

use anyhow::Context;
use aws_sdk_sqs::types::QueueAttributeName;

/// A queue, its dead-letter queue and the redrive policy between them.
#[derive(Debug, Clone)]
pub struct QueueRoute {
    pub queue_name: String,
    pub queue_url: String,
    pub dlq_name: String,
    pub dlq_url: String,
    pub max_receive_count: u32,
}

impl QueueRoute {
    /// Reads the queue's redrive policy to find its DLQ and `maxReceiveCount`.
    pub async fn discover(sqs: &aws_sdk_sqs::Client, queue_name: &str, queue_url: &str) -> anyhow::Result<Self> {
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .with_context(|| format!("cannot read the attributes of `{queue_name}`"))?;
        let policy = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
            .with_context(|| format!("`{queue_name}` has no redrive policy: deploy localstack/stockflow.yaml"))?;
        let policy: serde_json::Value = serde_json::from_str(policy)?;
        let dlq_arn = policy["deadLetterTargetArn"]
            .as_str()
            .context("redrive policy without deadLetterTargetArn")?;
        let max_receive_count = match &policy["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }
        .context("redrive policy without maxReceiveCount")? as u32;
        let dlq_name = dlq_arn.rsplit(':').next().unwrap_or_default().to_string();
        let dlq_url = sqs
            .get_queue_url()
            .queue_name(&dlq_name)
            .send()
            .await
            .with_context(|| format!("dead-letter queue `{dlq_name}` not found"))?
            .queue_url
            .unwrap_or_default();
        Ok(Self {
            queue_name: queue_name.to_string(),
            queue_url: queue_url.to_string(),
            dlq_name,
            dlq_url,
            max_receive_count,
        })
    }
}
