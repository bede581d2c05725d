//! Emptying an environment's queues (every SQS queue named `<prefix>*`): events an
//! earlier run left name restock requests of databases that are gone.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{Credentials, Region};

/// An SQS client for `endpoint`, with LocalStack's test credentials unless the
/// environment has some.
pub async fn client(endpoint: &str, region: &str) -> Client {
    let mut loader = aws_config::from_env()
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "stockflow-devstack"));
    }
    Client::new(&loader.load().await)
}

/// Purges every queue named `<prefix>*`; returns how many there were. A queue that
/// cannot be purged (purged moments ago) is named and skipped.
pub async fn purge(sqs: &Client, prefix: &str) -> anyhow::Result<usize> {
    let listed = sqs.list_queues().queue_name_prefix(prefix).send().await?;
    let urls = listed.queue_urls();
    for url in urls {
        if let Err(err) = sqs.purge_queue().queue_url(url).send().await {
            eprintln!(
                "    could not purge {url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(&err)
            );
        }
    }
    Ok(urls.len())
}
