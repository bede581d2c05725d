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
pub mod rows;
pub mod shop;

/// The name the SNS cut-off tests know the fault proxy by.
pub mod cutoff {
    pub use crate::fault_proxy::FaultProxy as Cutoff;
}

use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use serde_json::json;
use stockflow_contracts::RestockRequestId;
use stockflow_contracts::events::StockArrival;
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
    /// stockctl's view of this world: its queue reads serve the test's too.
    pub ctl: stockctl::Ctx,
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

impl Setup {
    /// The private MySQL server at `url`, with the shared LocalStack.
    pub fn on_mysql(url: String) -> Self {
        Self {
            mysql_url: Some(url),
            ..Self::default()
        }
    }

    /// The private LocalStack at `endpoint`, whose ready hook deployed the topology under
    /// `prefix`, with the shared MySQL.
    pub fn on_localstack(endpoint: String, prefix: &str) -> Self {
        Self {
            localstack: Some((endpoint, prefix.into())),
            ..Self::default()
        }
    }

    /// This setup, its queues dead-lettering a message after `count` deliveries.
    pub fn max_receive_count(self, count: u32) -> Self {
        Self {
            max_receive_count: count,
            ..self
        }
    }
}

impl TestEnv {
    /// Deploys a private topology (prefix `t<id>_`) and picks private database names.
    pub async fn new() -> Self {
        Self::with_max_receive_count(3).await
    }

    /// A new world with sales started: most checkout tests need no more.
    pub async fn running_sales() -> Self {
        let mut env = Self::new().await;
        env.start_sales().await;
        env
    }

    /// A new world with sales started and one product: `sku`, `stock` units of it,
    /// reordered by `reorder_quantity` ([`TestEnv::add_product`]).
    pub async fn selling(sku: &str, stock: i64, reorder_quantity: i64) -> Self {
        let env = Self::running_sales().await;
        env.add_product(sku, stock, reorder_quantity).await;
        env
    }

    /// A new world with all four services started ([`TestEnv::start_all`]).
    pub async fn running_all() -> Self {
        let mut env = Self::new().await;
        env.start_all().await;
        env
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
        let ctl = stockctl::Ctx::new(&stockctl::Settings {
            aws: aws.clone(),
            database: database.clone(),
            warehouse_db: warehouse_db.clone(),
            ..stockctl::Settings::default()
        })
        .await;
        Self {
            ctl,
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

    /// Runs a service until [`TestEnv::stop`]; `stop` fails the test if it panicked or
    /// ended with an error.
    fn run(&mut self, service: impl Future<Output = anyhow::Result<()>> + Send + 'static) {
        self.tasks.push(tokio::spawn(service));
    }

    pub async fn start_sales(&mut self) -> String {
        self.start_sales_with(self.sales_settings()).await
    }

    pub async fn start_factory(&mut self) -> String {
        self.start_factory_with(self.factory_settings()).await
    }

    pub async fn start_sales_with(&mut self, settings: sales::Settings) -> String {
        let app = started(sales::Application::build(settings).await, "sales");
        let url = self.serve(app.port(), app.run_until_stopped(self.shutdown.clone()));
        self.sales_url.insert(url).clone()
    }

    /// Runs an HTTP service listening on `port` (as [`Self::run`]); its base URL.
    fn serve(&mut self, port: u16, service: impl Future<Output = anyhow::Result<()>> + Send + 'static) -> String {
        self.run(service);
        format!("http://127.0.0.1:{port}")
    }

    pub async fn start_factory_with(&mut self, settings: factory::Settings) -> String {
        let app = started(factory::Application::build(settings).await, "factory");
        let url = self.serve(app.port(), app.run_until_stopped(self.shutdown.clone()));
        self.factory_url.insert(url).clone()
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
        self.run(worker.run_until_stopped(self.shutdown.clone()));
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
        self.run(worker.run_until_stopped(self.shutdown.clone()));
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

    /// Asserts that sales answers `GET path` with `status` and a problem+json body.
    pub async fn assert_get_problem(&self, path: &str, status: u16) {
        let response = self
            .http
            .get(self.sales(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), status, "GET {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "GET {path}"
        );
    }

    /// `GET url`, its body as JSON.
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        serde_json::from_str(&self.get_text(url).await).unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
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
        let url = self.queue_url(base).await;
        self.ctl
            .receive(&url, 1, 0, "receive")
            .await
            .unwrap_or_else(|err| panic!("receiving from {base}: {err:#}"))
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

    /// `POST /checkout` of `quantity` of `sku`; asserts sales answered `status`, and
    /// returns the body.
    pub async fn expect_purchase(&self, sku: &str, quantity: u32, status: u16) -> serde_json::Value {
        let (answered, body) = self.purchase(json!({"sku": sku, "quantity": quantity})).await;
        assert_eq!(answered, status, "POST /checkout of {quantity} {sku}: {body}");
        body
    }

    /// Adds `sku` with no stock (reordered by `reorder_quantity`) and buys one: a shortage.
    /// The restock request it opened.
    pub async fn ran_out(&self, sku: &str, reorder_quantity: i64) -> RestockRequestId {
        self.add_product(sku, 0, reorder_quantity).await;
        let body = self.expect_purchase(sku, 1, 409).await;
        body["restock_request_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("a shortage names its restock request: {body}"))
    }

    /// [`TestEnv::stop`] of a world the test shared with its tasks: they must all be done
    /// with it.
    pub async fn stop_shared(env: std::sync::Arc<Self>) {
        std::sync::Arc::try_unwrap(env)
            .ok()
            .expect("every task sharing the test's world is done with it")
            .stop()
            .await
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
        let url = self.queue_url(base).await;
        self.ctl
            .depth(&url)
            .await
            .unwrap_or_else(|err| panic!("queue attributes of {base}: {err:#}"))
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
        let url = self.queue_url(base).await;
        stockflow_messaging::sqs::send_body(&self.sqs, &url, body)
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

/// The service `what` as built, or the test fails with why it could not start.
fn started<A>(built: anyhow::Result<A>, what: &str) -> A {
    built.unwrap_or_else(|err| panic!("{what} failed to start: {err:#}"))
}

/// Waits (10 s) until the process `pid`, `what`, is stopped (state T): its SIGSTOP landed.
pub async fn await_stopped(what: &str, pid: u32) {
    eventually(
        &format!("{what} is stopped (state T)"),
        Duration::from_secs(10),
        || async { (stockflow_devstack::private::process_state(pid) == 'T').then_some(()) },
    )
    .await
}

/// A production order the factory announces: `quantity` of `sku`, for `request` (none: a
/// legacy order), made now.
pub fn arrival(sku: &str, request: Option<RestockRequestId>, quantity: u32) -> StockArrival {
    StockArrival {
        production_order_id: uuid::Uuid::new_v4(),
        restock_request_id: request,
        sku: sku.into(),
        quantity,
        ordered_at: chrono::Utc::now(),
        produced_at: chrono::Utc::now(),
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
