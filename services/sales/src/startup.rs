//! Builds the Sales API from its settings: database (migrated), SNS publisher,
//! outbox relay and HTTP server. Binding port 0 gives a free port (tests).

use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use mysql_async::Pool;
use stockflow_contracts::names;
use stockflow_kit::health;
use stockflow_kit::periodic::{Pace, Periodic};
use stockflow_kit::{db, problem, request_id};
use stockflow_messaging::aws::{self, Resources};
use stockflow_messaging::outbox::{Outbox, OutboxReadiness, Relay};
use stockflow_messaging::publisher::Publisher;
use tokio_util::sync::CancellationToken;
use warehouse::checkout::Checkouts;

use crate::Settings;
use crate::republisher::Republisher;
use crate::routes;
use utoipa::OpenApi;

pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
    republisher: Republisher,
    pool: Pool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = warehouse::open(&settings.service.database, &settings.warehouse_db).await?;
        let sdk = aws::sdk_config(&settings.service.aws).await;
        let resources = Resources::new(&settings.service.aws);
        let publisher =
            Publisher::open(aws_sdk_sns::Client::new(&sdk), &resources, &[names::STOCK_EMPTY_TOPIC]).await?;
        let relay = Relay::new(
            pool.clone(),
            publisher.clone(),
            Duration::from_millis(settings.outbox_sweep_ms),
        );

        let listener = settings
            .service
            .http
            .listen_shared(settings.sales_port, "sales", "SALES_PORT")?;
        let port = listener.local_addr()?.port();
        let workers = stockflow_kit::serve::http_workers(settings.sales_workers);
        let worker_pools = db::WorkerPools::new(&settings.service.database, &settings.warehouse_db, workers)?;
        let combine = settings.combine.clone();
        let server = HttpServer::new(move || {
            // Runs on each worker thread: its own pool, so its connections stay on it.
            let pool = worker_pools.open();
            let outbox = Outbox::new(pool.clone(), publisher.clone());
            let checkouts = Checkouts::start(pool.clone(), Some(outbox), &combine);
            App::new()
                .wrap(from_fn(stockflow_kit::metrics::middleware))
                .wrap(from_fn(request_id::middleware))
                .app_data(web::Data::new(checkouts))
                .app_data(web::Data::new(OutboxReadiness {
                    pool: pool.clone(),
                    publisher: publisher.clone(),
                }))
                .app_data(web::Data::new(pool))
                // actix tries resources in order: the busiest first, the regex of /docs last.
                .service(problem::resource("/checkout", web::post(), routes::checkout))
                .service(problem::resource("/products", web::get(), routes::list_products))
                .service(problem::resource("/products/{sku}", web::get(), routes::get_product))
                .configure(health::routes::<OutboxReadiness>)
                .configure(|cfg| stockflow_apidocs::routes(cfg, crate::ApiDoc::openapi()))
                .default_service(web::to(problem::not_found_route))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        let republisher = Republisher::new(
            pool.clone(),
            Duration::from_secs(settings.restock_republish_seconds.max(1)),
        );
        Ok(Self {
            port,
            server,
            relay,
            republisher,
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown`, then drains requests, publishes what the outbox
    /// holds and closes the pool.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let housekeeping = tokio::spawn(prune_idempotency_keys_hourly(self.pool.clone(), shutdown.clone()));
        tokio::spawn(crate::stock_gauges::run(self.pool.clone(), shutdown.clone()));
        let republisher = tokio::spawn(self.republisher.run(shutdown.clone()));
        stockflow_kit::serve::serve_until_stopped(self.server, self.relay.run(shutdown.clone()), shutdown).await?;
        housekeeping.await.ok();
        republisher.await.ok();
        self.pool.disconnect().await.ok();
        tracing::info!("sales stopped");
        Ok(())
    }
}

/// Forgets idempotency keys past their time to live, once an hour.
async fn prune_idempotency_keys_hourly(pool: Pool, shutdown: CancellationToken) {
    Periodic::new("prune_idempotency_keys", Duration::from_secs(3600))
        .run(shutdown, || async {
            warehouse::prune_expired_keys(&pool).await?;
            Ok(Pace::Steady)
        })
        .await
}

impl stockflow_kit::binary::Service for Application {
    fn port(&self) -> u16 {
        self.port()
    }

    async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.run_until_stopped(shutdown).await
    }
}
