//! The end-to-end test harness: each test gets its own MySQL databases and its own
//! copy of the AWS topology (the CloudFormation template deployed to LocalStack with
//! a unique resource prefix), then starts the real services in-process on free
//! ports. Tests therefore run in parallel without sharing any state.
//!
//! Needs LocalStack (`AWS_ENDPOINT_URL`, default http://127.0.0.1:4566) and MySQL
//! (`MYSQL_URL`, default mysql://root@127.0.0.1:3306); `scripts/test` starts both. A
//! test that crashes or freezes one of them starts a private one instead ([`Setup`]).
//!
//! The databases and the CloudFormation stack are removed when the test ends, also when
//! it fails (a guard does it on drop), and the stack's deletion is awaited.

pub mod checks;
pub mod ctl;
pub mod fault_proxy;
pub mod logs;
pub mod lost_commit;
pub mod metrics;
pub mod process;
pub mod replicas;
pub mod shop;

/// The name the SNS cut-off tests know the fault proxy by.
pub mod cutoff {
    pub use crate::fault_proxy::FaultProxy as Cutoff;
}

use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_devstack::topology::Topology;
use stockflow_kit::config::{DatabaseSettings, HttpSettings};
use stockflow_kit::db;
use stockflow_messaging::aws;
use stockflow_messaging::aws::AwsSettings;
use stockflow_messaging::settings::ServiceSettings;
use stockflow_messaging::worker::WorkerSettings;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use stockflow_devstack::cleanup::Cleanup;

pub use stockflow_devstack::poll::eventually;

/// One test's private world: databases, topology, and the services it started.
pub struct TestEnv {
    pub id: String,
    pub aws: AwsSettings,
    pub database: DatabaseSettings,
    pub warehouse_db: String,
    pub factory_db: String,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub resources: aws::Resources,
    pub http: reqwest::Client,
    cleanup: Cleanup,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<anyhow::Result<()>>>,
    pub sales_url: Option<String>,
    pub factory_url: Option<String>,
}

/// Where a test's world lives: the shared MySQL and LocalStack (the default), or
/// private ones the test started.
pub struct Setup {
    pub max_receive_count: u32,
    /// A private MySQL server's URL instead of `MYSQL_URL`.
    pub mysql_url: Option<String>,
    /// A private LocalStack whose ready hook already deployed the topology under
    /// `prefix` (nothing is deployed then): `(endpoint, prefix)`.
    pub localstack: Option<(String, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            max_receive_count: 3,
            mysql_url: None,
            localstack: None,
        }
    }
}

impl TestEnv {
    /// Deploys a private topology (prefix `t<id>_`) and picks private database names.
    pub async fn new() -> Self {
        Self::with_max_receive_count(3).await
    }

    pub async fn with_max_receive_count(max_receive_count: u32) -> Self {
        Self::with(Setup {
            max_receive_count,
            ..Setup::default()
        })
        .await
    }

    pub async fn with(setup: Setup) -> Self {
        stockflow_kit::telemetry::init("e2e");
        let id = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let (endpoint, prefix) = setup.localstack.clone().unwrap_or_else(|| {
            (
                std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".into()),
                format!("t{id}_"),
            )
        });
        let aws = AwsSettings {
            aws_endpoint_url: endpoint,
            aws_region: "us-east-1".into(),
            stockflow_prefix: prefix,
        };
        let database = DatabaseSettings {
            mysql_url: setup.mysql_url.clone().unwrap_or_else(|| {
                std::env::var("MYSQL_URL").unwrap_or_else(|_| DatabaseSettings::default().mysql_url)
            }),
            db_pool_max: 16,
        };
        let sdk = aws::sdk_config(&aws).await;
        let warehouse_db = format!("sf_{id}_warehouse");
        let factory_db = format!("sf_{id}_factory");
        let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
        let mut cleanup = Cleanup::new(&database.mysql_url, vec![warehouse_db.clone(), factory_db.clone()]);
        if setup.localstack.is_none() {
            let topology = Topology::deploy(
                &cloudformation,
                &format!("stockflow-t{id}"),
                &[
                    ("Prefix", aws.stockflow_prefix.clone()),
                    ("MaxReceiveCount", setup.max_receive_count.to_string()),
                    ("AlarmPeriodSeconds", "10".into()),
                ],
            )
            .await
            .expect(
                "deploying the test topology to LocalStack failed: is LocalStack running? (scripts/test starts it)",
            );
            cleanup.stack(cloudformation, topology);
        }
        Self {
            warehouse_db,
            factory_db,
            cleanup,
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            resources: aws::Resources::new(&aws),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            id,
            aws,
            database,
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
            sales_url: None,
            factory_url: None,
        }
    }

    pub fn http_settings() -> HttpSettings {
        HttpSettings {
            bind_host: "127.0.0.1".into(),
        }
    }

    /// This env's database and AWS, listening on 127.0.0.1.
    pub fn service_settings(&self) -> ServiceSettings {
        ServiceSettings {
            http: Self::http_settings(),
            database: self.database.clone(),
            aws: self.aws.clone(),
        }
    }

    /// Worker pacing for tests: short polls and back-offs so retries show quickly.
    pub fn worker_settings() -> WorkerSettings {
        WorkerSettings {
            worker_concurrency: 8,
            worker_wait_seconds: 1,
            worker_visibility_seconds: 10,
            worker_retry_base_seconds: 1,
            worker_shutdown_seconds: 10,
        }
    }

    pub fn sales_settings(&self) -> sales::Settings {
        sales::Settings {
            service: self.service_settings(),
            sales_port: 0,
            warehouse_db: self.warehouse_db.clone(),
            combine: Default::default(),
            sales_workers: 2,
            outbox_sweep_ms: 200,
            restock_republish_seconds: 300,
        }
    }

    pub fn factory_settings(&self) -> factory::Settings {
        factory::Settings {
            service: self.service_settings(),
            factory_port: 0,
            factory_db: self.factory_db.clone(),
            factory_production_seconds: 0.0,
            outbox_sweep_ms: 200,
            factory_faults_enabled: true,
        }
    }

    pub async fn start_sales(&mut self) -> String {
        self.start_sales_with(self.sales_settings()).await
    }

    pub async fn start_sales_with(&mut self, settings: sales::Settings) -> String {
        let app = sales::Application::build(settings)
            .await
            .expect("sales failed to start");
        let url = format!("http://127.0.0.1:{}", app.port());
        self.tasks
            .push(tokio::spawn(app.run_until_stopped(self.shutdown.clone())));
        self.sales_url = Some(url.clone());
        url
    }

    pub async fn start_factory(&mut self) -> String {
        self.start_factory_with(self.factory_settings()).await
    }

    pub async fn start_factory_with(&mut self, settings: factory::Settings) -> String {
        let app = factory::Application::build(settings)
            .await
            .expect("factory failed to start");
        let url = format!("http://127.0.0.1:{}", app.port());
        self.tasks
            .push(tokio::spawn(app.run_until_stopped(self.shutdown.clone())));
        self.factory_url = Some(url.clone());
        url
    }

    pub fn stock_worker_settings(&self) -> stock_worker::Settings {
        stock_worker::Settings {
            aws: self.aws.clone(),
            http: Self::http_settings(),
            worker: Self::worker_settings(),
            stock_worker_port: 0,
            factory_url: self.factory_url.clone().unwrap_or_else(|| "http://127.0.0.1:9".into()),
            factory_timeout_ms: 2000,
            factory_callback_url: String::new(),
        }
    }

    pub async fn start_stock_worker(&mut self) {
        self.start_stock_worker_with(self.stock_worker_settings()).await
    }

    pub async fn start_stock_worker_with(&mut self, settings: stock_worker::Settings) {
        let worker = stock_worker::build(settings)
            .await
            .expect("stock-worker failed to start");
        self.tasks
            .push(tokio::spawn(worker.run_until_stopped(self.shutdown.clone())));
    }

    pub async fn start_stock_inc_worker(&mut self) {
        let settings = stock_inc_worker::Settings {
            service: self.service_settings(),
            worker: Self::worker_settings(),
            stock_inc_worker_port: 0,
            warehouse_db: self.warehouse_db.clone(),
        };
        let worker = stock_inc_worker::build(settings)
            .await
            .expect("stock-inc-worker failed to start");
        self.tasks
            .push(tokio::spawn(worker.run_until_stopped(self.shutdown.clone())));
    }

    /// Starts all four services; returns the sales URL.
    pub async fn start_all(&mut self) -> String {
        self.start_factory().await;
        self.start_stock_inc_worker().await;
        self.start_stock_worker().await;
        self.start_sales().await
    }

    pub fn sales(&self, path: &str) -> String {
        format!("{}{path}", self.sales_url.as_deref().expect("sales not started"))
    }

    /// A pool on this test's warehouse database (created by sales' migrations).
    pub async fn warehouse(&self) -> Pool {
        db::connect(&self.database, &self.warehouse_db)
            .await
            .expect("warehouse database")
    }

    /// The ids of the connections on this test's warehouse database whose current
    /// statement starts with `statement` (any, if empty), other than `asking`'s own.
    pub async fn warehouse_connections(
        &self,
        asking: &mut mysql_async::Conn,
        statement: &str,
    ) -> std::collections::BTreeSet<u64> {
        let ids: Vec<u64> = asking
            .exec(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() \
                 AND COALESCE(INFO, '') LIKE CONCAT(?, '%')",
                (&self.warehouse_db, statement),
            )
            .await
            .unwrap();
        ids.into_iter().collect()
    }

    /// Waits until `count` connections of this test's warehouse database are running a
    /// statement that starts with `statement` (blocked on a lock the test holds); their ids.
    pub async fn await_waiting(
        &self,
        asking: &mut mysql_async::Conn,
        statement: &str,
        count: usize,
    ) -> std::collections::BTreeSet<u64> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let waiting = self.warehouse_connections(asking, statement).await;
            if waiting.len() == count {
                return waiting;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after 10 s, {} connections run `{statement}…`, not {count}",
                waiting.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET url`, its body as text.
    pub async fn get_text(&self, url: &str) -> String {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        response.text().await.unwrap()
    }

    /// `GET url`, its body as JSON.
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(url).await).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
    }

    /// Adds a product for this test.
    pub async fn add_product(&self, sku: &str, stock: i64, reorder_quantity: i64) {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_drop(
            "INSERT INTO products (sku, name, price, stock, initial_stock, reorder_quantity, factory_id, factory_name) VALUES (?, ?, 1000, ?, ?, ?, 'FF-TEST', 'test factory')",
            (sku, format!("test product {sku}"), stock, stock, reorder_quantity),
        )
        .await
        .unwrap();
    }

    pub async fn stock(&self, sku: &str) -> i64 {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_first("SELECT stock FROM products WHERE sku = ?", (sku,))
            .await
            .unwrap()
            .expect("no such product")
    }

    /// Scalar query on the warehouse database.
    pub async fn warehouse_count(&self, sql: &str, sku: &str) -> i64 {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.exec_first::<i64, _, _>(sql, (sku,))
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Scalar query on the factory database.
    pub async fn factory_count(&self, sql: &str, sku: &str) -> i64 {
        let mut conn = db::connect(&self.database, &self.factory_db)
            .await
            .unwrap()
            .get_conn()
            .await
            .unwrap();
        conn.exec_first::<i64, _, _>(sql, (sku,))
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn queue_url(&self, base: &str) -> String {
        self.resources
            .queue_url(&self.sqs, base)
            .await
            .expect("queue of the test topology")
    }

    /// The workers' alerts on `ops_alert_queue` (CloudWatch's alarm notifications,
    /// which share the queue, are left out), as JSON.
    pub async fn ops_alerts(&self) -> Vec<serde_json::Value> {
        self.peek(stockflow_contracts::names::OPS_ALERT_QUEUE)
            .await
            .iter()
            .filter(|m| attribute(m, stockflow_contracts::events::ATTR_EVENT_TYPE).as_deref() == Some("ops_alert"))
            .filter_map(|m| serde_json::from_str(m.body()?).ok())
            .collect()
    }

    /// Receives (and leaves in place) up to ten messages with their attributes.
    pub async fn peek(&self, base: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(self.queue_url(base).await)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }

    pub async fn purchase(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(self.sales("/checkout"))
            .json(&body)
            .send()
            .await
            .expect("sales answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Stops the services, then removes the databases and the topology (the stack's
    /// deletion awaited).
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await
                .expect("service task panicked")
                .expect("service ended with an error");
        }
        self.cleanup
            .run()
            .await
            .expect("removing the test's databases and stack");
        // The service logs of a passing test are not needed (a failing one keeps them).
        let _ = std::fs::remove_dir_all(process::run_dir(&self.id));
    }
}

impl TestEnv {
    /// Arms the factory's fault injection (`PUT /admin/faults`).
    pub async fn arm_factory_faults(&self, plan: serde_json::Value) {
        let url = format!(
            "{}/admin/faults",
            self.factory_url.as_deref().expect("factory not started")
        );
        let response = self.http.put(url).json(&plan).send().await.expect("factory answers");
        assert_eq!(response.status(), 200, "arming faults failed");
    }

    /// Messages visible plus in flight on a queue.
    pub async fn queue_depth(&self, base: &str) -> i64 {
        let (visible, hidden) = self.visible_and_hidden(base).await;
        visible + hidden
    }

    /// Messages visible and hidden (in some consumer's hand) on a queue.
    pub async fn visible_and_hidden(&self, base: &str) -> (i64, i64) {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.queue_url(base).await)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes().cloned().unwrap_or_default();
        let get = |name: &A| attrs.get(name).and_then(|v| v.parse::<i64>().ok()).unwrap_or_default();
        (
            get(&A::ApproximateNumberOfMessages),
            get(&A::ApproximateNumberOfMessagesNotVisible),
        )
    }

    /// Publishes an event to its topic in this test's topology.
    pub async fn publish<E: stockflow_contracts::events::Event>(&self, event: &E) {
        let publisher = stockflow_messaging::publisher::Publisher::open(self.sns.clone(), &self.resources, &[E::TOPIC])
            .await
            .expect("topic of the test topology");
        publisher.publish(event, "test").await.expect("publish");
    }

    /// Sends a raw body straight to a queue (e.g. a malformed message).
    pub async fn send_raw(&self, base: &str, body: &str) {
        self.sqs
            .send_message()
            .queue_url(self.queue_url(base).await)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    /// The stock invariant of this test's warehouse.
    pub async fn invariant(&self) -> warehouse::invariant::Report {
        warehouse::invariant::check(&self.warehouse().await, Duration::from_secs(3600))
            .await
            .expect("invariant query")
    }
}

/// A message attribute's string value.
pub fn attribute(message: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_string)
}
