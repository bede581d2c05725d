//! AWS clients and the environment's resources (the names themselves are
//! `stockflow_contracts::names`).
//!
//! The same code talks to LocalStack (`AWS_ENDPOINT_URL` set, test credentials
//! supplied when none are configured) and to real AWS (endpoint empty, the usual
//! credential chain). Topics and queues are found by name, with the environment's
//! prefix; they are declared by `localstack/stockflow.yaml`, never created here.

use anyhow::Context;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Serialize;

/// How to reach AWS (or LocalStack) and which resource names to use.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct AwsSettings {
    /// LocalStack's URL; empty means the real AWS endpoints.
    pub aws_endpoint_url: String,
    pub aws_region: String,
    /// Prepended to every topic and queue name, so environments never share them.
    pub stockflow_prefix: String,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            aws_endpoint_url: "http://127.0.0.1:4566".into(),
            aws_region: "us-east-1".into(),
            stockflow_prefix: String::new(),
        }
    }
}

/// Builds the shared SDK configuration.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(settings.aws_region.clone()))
        .timeout_config(timeouts());
    if !settings.aws_endpoint_url.is_empty() {
        loader = loader.endpoint_url(&settings.aws_endpoint_url);
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
            loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "localstack",
            ));
        }
    }
    loader.load().await
}

/// No AWS call waits for ever: a broker that hangs (LocalStack stopped, a network
/// partition) fails the attempt, and the caller's retry or back-off takes over. One
/// attempt may take up to 30 s because an SQS long poll waits up to 20 s for messages.
fn timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(30))
        .build()
}

/// Resolves the environment's resource names to URLs and ARNs.
#[derive(Clone)]
pub struct Resources {
    prefix: String,
}

impl Resources {
    pub fn new(settings: &AwsSettings) -> Self {
        Self {
            prefix: settings.stockflow_prefix.clone(),
        }
    }

    /// The full name of a topic or queue in this environment.
    pub fn name(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }

    pub async fn queue_url(&self, sqs: &aws_sdk_sqs::Client, base: &str) -> anyhow::Result<String> {
        let name = self.name(base);
        let out = sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .with_context(|| format!("queue `{name}` not found: is LocalStack up and localstack/stockflow.yaml deployed with this STOCKFLOW_PREFIX?"))?;
        out.queue_url
            .with_context(|| format!("SQS returned no URL for queue `{name}`"))
    }

    pub async fn topic_arn(&self, sns: &aws_sdk_sns::Client, base: &str) -> anyhow::Result<String> {
        let name = self.name(base);
        let suffix = format!(":{name}");
        let mut pages = sns.list_topics().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.with_context(|| {
                format!("cannot list SNS topics while looking for `{name}`: is LocalStack (or AWS) reachable?")
            })?;
            if let Some(arn) = page
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .find(|arn| arn.ends_with(&suffix))
            {
                return Ok(arn.to_string());
            }
        }
        anyhow::bail!("topic `{name}` not found: deploy localstack/stockflow.yaml with this STOCKFLOW_PREFIX")
    }
}
