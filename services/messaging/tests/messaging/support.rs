//! One test's private world: a database of its own on `MYSQL_URL` with the outbox
//! migrated, and `localstack/stockflow.yaml` deployed under a prefix of its own on the
//! LocalStack at `AWS_ENDPOINT_URL`. [`World::stop`] removes both (and a failing test's
//! guard does, on drop).

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use chrono::Utc;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_contracts::events::StockEmpty;
use stockflow_contracts::names;
use stockflow_contracts::restock::RestockRequestId;
use stockflow_devstack::cleanup::Cleanup;
use stockflow_devstack::topology::Topology;
use stockflow_kit::config::DatabaseSettings;
use stockflow_kit::db;
use stockflow_messaging::aws::{self, AwsSettings, Resources};
use stockflow_messaging::consumer::QueueRoute;
use stockflow_messaging::outbox;
use stockflow_messaging::publisher::Publisher;

pub use stockflow_devstack::poll::eventually;

pub struct World {
    pub resources: Resources,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub pool: Pool,
    cleanup: Cleanup,
}

impl World {
    /// A world whose queues move a message to their dead-letter queue after
    /// `max_receive_count` deliveries.
    pub async fn new(max_receive_count: u32) -> Self {
        stockflow_kit::telemetry::init("messaging-test");
        stockflow_kit::metrics::install(); // before anything counts: see `counter`
        let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let settings = AwsSettings {
            aws_endpoint_url: std::env::var("AWS_ENDPOINT_URL")
                .unwrap_or_else(|_| AwsSettings::default().aws_endpoint_url),
            stockflow_prefix: format!("m{id}_"),
            ..AwsSettings::default()
        };
        let database = DatabaseSettings {
            mysql_url: std::env::var("MYSQL_URL").unwrap_or_else(|_| DatabaseSettings::default().mysql_url),
            db_pool_max: 8,
        };
        let db_name = format!("sf_m{id}");
        let mut cleanup = Cleanup::new(&database.mysql_url, vec![db_name.clone()]);
        let sdk = aws::sdk_config(&settings).await;
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        let topology = Topology::deploy(
            &cloudformation,
            &format!("stockflow-m{id}"),
            &[
                ("Prefix", settings.stockflow_prefix.clone()),
                ("MaxReceiveCount", max_receive_count.to_string()),
                ("AlarmPeriodSeconds", "10".into()),
            ],
        )
        .await
        .expect("the topology deploys: is LocalStack running at AWS_ENDPOINT_URL? (scripts/test starts it)");
        cleanup.stack(cloudformation, topology);
        let pool = db::connect(&database, &db_name).await.expect("MySQL at MYSQL_URL");
        outbox::migrate(&database, &pool, &db_name)
            .await
            .expect("the outbox migrates");
        Self {
            resources: Resources::new(&settings),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            pool,
            cleanup,
        }
    }

    /// A publisher for `stock_empty` and `ops_alerts`.
    pub async fn publisher(&self) -> Publisher {
        Publisher::open(
            self.sns.clone(),
            &self.resources,
            &[names::STOCK_EMPTY_TOPIC, names::OPS_ALERTS_TOPIC],
        )
        .await
        .expect("the topics exist")
    }

    pub async fn queue_url(&self, base: &str) -> String {
        self.resources
            .queue_url(&self.sqs, base)
            .await
            .expect("the queue exists")
    }

    /// `stock_queue` and its dead-letter queue, as a worker finds them.
    pub async fn route(&self) -> QueueRoute {
        let url = self.queue_url(names::STOCK_QUEUE).await;
        QueueRoute::discover(&self.sqs, &self.resources.name(names::STOCK_QUEUE), &url)
            .await
            .expect("stock_queue has its redrive policy")
    }

    /// The messages in queue `base`: (visible, in flight).
    pub async fn depth(&self, base: &str) -> (u64, u64) {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue_url(base).await)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let read = |name: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&name))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (
            read(QueueAttributeName::ApproximateNumberOfMessages),
            read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Waits until queue `base` holds no message, visible or in flight.
    pub async fn drained(&self, base: &str, within: Duration) {
        eventually(&format!("{base} empty"), within, || async {
            (self.depth(base).await == (0, 0)).then_some(())
        })
        .await
    }

    /// Receives (and deletes) messages from queue `base` until `count` have arrived; fails
    /// after `within`.
    pub async fn take(&self, base: &str, count: usize, within: Duration) -> Vec<Message> {
        let url = self.queue_url(base).await;
        let until = tokio::time::Instant::now() + within;
        let mut taken = Vec::new();
        while taken.len() < count {
            assert!(
                tokio::time::Instant::now() < until,
                "timed out after {within:?} waiting for {count} messages in {base}: {} arrived",
                taken.len()
            );
            taken.extend(self.receive_once(&url).await);
        }
        taken
    }

    /// Receives (and deletes) whatever arrives in queue `base` during `window`: to see that
    /// nothing more comes.
    pub async fn receive_for(&self, base: &str, window: Duration) -> Vec<Message> {
        let url = self.queue_url(base).await;
        let until = tokio::time::Instant::now() + window;
        let mut taken = Vec::new();
        while tokio::time::Instant::now() < until {
            taken.extend(self.receive_once(&url).await);
        }
        taken
    }

    /// One receive of up to ten messages (waiting up to a second), deleted once received.
    async fn receive_once(&self, url: &str) -> Vec<Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("receive");
        let messages = out.messages.unwrap_or_default();
        for message in &messages {
            self.sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
        messages
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        let mut conn = self.pool.get_conn().await.unwrap();
        conn.query_first(sql).await.unwrap().unwrap_or(0)
    }

    pub async fn stop(self) {
        self.pool.disconnect().await.ok();
        self.cleanup
            .run()
            .await
            .expect("the database and the stack are removed");
    }
}

/// A `stock_empty` event for `sku`.
pub fn stock_empty(sku: &str) -> StockEmpty {
    StockEmpty {
        restock_request_id: RestockRequestId::new(),
        sku: sku.to_string(),
        quantity: 5,
        factory_id: "FF-1".into(),
        requester: "messaging-test".into(),
        requested_at: Utc::now(),
    }
}

/// This test process's counter `name` with all of `labels`, summed over the series that
/// match (the process's own Prometheus recorder: nextest runs each test in a process of
/// its own).
pub fn counter(name: &str, labels: &[(&str, &str)]) -> f64 {
    let text = stockflow_kit::metrics::install().render();
    text.lines()
        .filter(|line| line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} ")))
        .filter(|line| labels.iter().all(|(k, v)| line.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The string value of message attribute `name`.
pub fn attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_string)
}
