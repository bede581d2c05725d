//! The AWS topology of one environment: `localstack/stockflow.yaml` deployed as a
//! CloudFormation stack of its own under a resource prefix, and deleted again, the
//! deletion awaited (a test's or the bench's stack never outlives it).
//!
//! LocalStack's ready hook (`localstack/init/ready.d/10-deploy-stockflow.sh`) deploys
//! the same template with the AWS CLI inside LocalStack's container, where this crate
//! does not run: that is the one other deploy, and it reads the same file.

use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{Parameter, StackStatus};

/// The template, the same file LocalStack's ready hook deploys.
pub const TEMPLATE: &str = include_str!("../../../localstack/stockflow.yaml");

/// How long a stack may take to be created or deleted.
const STACK_TIMEOUT: Duration = Duration::from_secs(120);

/// A deployed stack.
#[derive(Clone, Debug)]
pub struct Topology {
    pub stack_name: String,
}

impl Topology {
    /// Creates stack `stack_name` from the template with `parameters` (`Prefix`,
    /// `MaxReceiveCount`, `AlarmPeriodSeconds`, …); waits for CREATE_COMPLETE.
    pub async fn deploy(cf: &Client, stack_name: &str, parameters: &[(&str, String)]) -> anyhow::Result<Self> {
        let mut create = cf.create_stack().stack_name(stack_name).template_body(TEMPLATE);
        for (key, value) in parameters {
            create = create.parameters(Parameter::builder().parameter_key(*key).parameter_value(value).build());
        }
        create
            .send()
            .await
            .with_context(|| format!("CreateStack {stack_name} failed: is LocalStack running?"))?;
        let start = Instant::now();
        loop {
            match status(cf, stack_name).await? {
                Some(StackStatus::CreateComplete) => {
                    return Ok(Self {
                        stack_name: stack_name.to_string(),
                    });
                }
                Some(StackStatus::CreateInProgress) | None => {}
                Some(other) => anyhow::bail!("stack {stack_name} ended in {other:?}"),
            }
            anyhow::ensure!(
                start.elapsed() < STACK_TIMEOUT,
                "stack {stack_name} not created within {STACK_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Deletes the stack and waits until it is gone.
    pub async fn delete(&self, cf: &Client) -> anyhow::Result<()> {
        cf.delete_stack()
            .stack_name(&self.stack_name)
            .send()
            .await
            .with_context(|| format!("DeleteStack {} failed", self.stack_name))?;
        let start = Instant::now();
        loop {
            match status(cf, &self.stack_name).await {
                Ok(None | Some(StackStatus::DeleteComplete)) | Err(_) => return Ok(()),
                Ok(Some(StackStatus::DeleteFailed)) => {
                    anyhow::bail!("stack {} could not be deleted (DELETE_FAILED)", self.stack_name)
                }
                Ok(Some(_)) => {}
            }
            anyhow::ensure!(
                start.elapsed() < STACK_TIMEOUT,
                "stack {} not deleted within {STACK_TIMEOUT:?}",
                self.stack_name
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The stack's status; `None` while it is not listed yet. A stack that does not exist
/// (deleted) is an error of DescribeStacks.
async fn status(cf: &Client, stack_name: &str) -> anyhow::Result<Option<StackStatus>> {
    let out = cf.describe_stacks().stack_name(stack_name).send().await?;
    Ok(out.stacks().first().and_then(|s| s.stack_status().cloned()))
}
