//! What every command needs: the settings, the AWS clients, the resource names, and
//! errors that say what is unreachable and what to do about it.

use std::error::Error as StdError;

use anyhow::anyhow;
use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
use aws_sdk_sqs::types::{Message, QueueAttributeName};
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_kit::db;
use stockflow_messaging::aws::{Resources, sdk_config};
use stockflow_messaging::sqs;

use crate::Settings;

/// The clients and names of one environment (one `STOCKFLOW_PREFIX`).
pub struct Ctx {
    pub settings: Settings,
    pub sqs: aws_sdk_sqs::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub resources: Resources,
}

impl Ctx {
    pub async fn new(settings: &Settings) -> Self {
        let sdk = sdk_config(&settings.aws).await;
        Self {
            settings: settings.clone(),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            resources: Resources::new(&settings.aws),
        }
    }

    /// The environment's prefix, for messages.
    pub fn prefix(&self) -> &str {
        &self.settings.aws.stockflow_prefix
    }

    /// "cannot reach …: what to do", for LocalStack or real AWS.
    pub fn aws_unreachable(&self) -> String {
        let aws = &self.settings.aws;
        if aws.aws_endpoint_url.is_empty() {
            format!(
                "cannot reach AWS in {}: check the network and the credentials (AWS_ENDPOINT_URL is empty, so real AWS is used)",
                aws.aws_region
            )
        } else {
            format!(
                "cannot reach LocalStack at {}: start it with scripts/up (or set AWS_ENDPOINT_URL)",
                aws.aws_endpoint_url
            )
        }
    }

    /// Turns an SDK error into a one-line message: unreachable endpoints get the
    /// "start it" hint, anything else says what was being done.
    pub fn aws_error<E, R>(&self, doing: &str, err: SdkError<E, R>) -> anyhow::Error
    where
        E: StdError + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        match err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => anyhow!(self.aws_unreachable()),
            other => anyhow!("{doing}: {}", DisplayErrorContext(&other)),
        }
    }

    /// A queue's URL by its base name.
    pub async fn queue_url(&self, base: &str) -> anyhow::Result<String> {
        let name = self.resources.name(base);
        match self.sqs.get_queue_url().queue_name(&name).send().await {
            Ok(out) => out
                .queue_url
                .ok_or_else(|| anyhow!("SQS returned no URL for queue `{name}`")),
            Err(SdkError::ServiceError(e)) if e.err().is_queue_does_not_exist() => Err(anyhow!(
                "queue `{name}` does not exist: deploy localstack/stockflow.yaml with STOCKFLOW_PREFIX=\"{}\" (scripts/up does)",
                self.prefix()
            )),
            Err(err) => Err(self.aws_error(&format!("cannot look up queue `{name}`"), err)),
        }
    }

    /// Visible and in-flight message counts of a queue.
    pub async fn depth(&self, url: &str) -> anyhow::Result<(i64, i64)> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| self.aws_error("cannot read queue attributes", e))?;
        let attrs = out.attributes().cloned().unwrap_or_default();
        let get = |name: &QueueAttributeName| attrs.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        Ok((
            get(&QueueAttributeName::ApproximateNumberOfMessages),
            get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// A queue's ARN from its URL.
    pub async fn queue_arn(&self, url: &str) -> anyhow::Result<String> {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| self.aws_error("cannot read the queue ARN", e))?;
        out.attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .ok_or_else(|| anyhow!("SQS returned no ARN for {url}"))
    }

    /// Receives up to ten messages with every attribute, waiting up to `wait_seconds`
    /// for the first; they stay hidden from other readers for `hidden_seconds`.
    /// `doing` names the read in an error.
    pub async fn receive(
        &self,
        url: &str,
        wait_seconds: i32,
        hidden_seconds: i32,
        doing: &str,
    ) -> anyhow::Result<Vec<Message>> {
        sqs::Receive::up_to(sqs::MAX_BATCH)
            .waiting(wait_seconds)
            .hidden_for(hidden_seconds)
            .from(&self.sqs, url)
            .await
            .map_err(|e| self.aws_error(doing, e))
    }

    /// A pool on the warehouse database.
    /// stockctl only reads: `db::connect` creates a missing database, so first check
    /// (through the always present `mysql` database) that the warehouse exists.
    pub async fn warehouse(&self) -> anyhow::Result<Pool> {
        let database = &self.settings.database;
        let name = &self.settings.warehouse_db;
        let admin = db::connect(database, "mysql").await.map_err(|err| self.db_error(err))?;
        let exists: anyhow::Result<Option<String>> = async {
            let mut conn = admin.get_conn().await?;
            Ok(conn
                .exec_first(
                    "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    (name,),
                )
                .await?)
        }
        .await;
        admin.disconnect().await.ok();
        if exists.map_err(|err| self.db_error(err))?.is_none() {
            return Err(anyhow!(
                "warehouse database `{name}` does not exist on {}: start sales once (it creates and migrates it) or set WAREHOUSE_DB",
                db::redact(&database.mysql_url)
            ));
        }
        let pool = db::connect(database, name).await.map_err(|err| self.db_error(err))?;
        // The pool is lazy: take one connection now so an unreachable server shows here.
        let conn = pool.get_conn().await.map_err(|err| self.db_error(err.into()))?;
        drop(conn);
        Ok(pool)
    }

    /// Turns a database error into a one-line message.
    pub fn db_error(&self, err: anyhow::Error) -> anyhow::Error {
        let url = db::redact(&self.settings.database.mysql_url);
        for cause in err.chain() {
            if let Some(mysql) = cause.downcast_ref::<mysql_async::Error>() {
                match mysql {
                    mysql_async::Error::Io(_) => {
                        return anyhow!(
                            "cannot reach MySQL at {url}: start the server (scripts/up expects it at MYSQL_URL) or set MYSQL_URL"
                        );
                    }
                    mysql_async::Error::Server(server) if server.code == 1146 => {
                        return anyhow!(
                            "warehouse database `{}` has no tables: start sales once (it migrates the database) or set WAREHOUSE_DB",
                            self.settings.warehouse_db
                        );
                    }
                    _ => {}
                }
            }
        }
        anyhow!("warehouse database `{}`: {err:#}", self.settings.warehouse_db)
    }
}
