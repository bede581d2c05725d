//! Builds the Factory API from its settings: database (migrated), SNS publisher,
//! production line, outbox relay and HTTP server. Port 0 gives a free port (tests).

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use mysql_async::Pool;
use stockflow_contracts::names;
use stockflow_kit::health;
use stockflow_kit::{db, problem, request_id};
use stockflow_messaging::aws::{self, Resources};
use stockflow_messaging::outbox::{Outbox, OutboxReadiness, Relay};
use stockflow_messaging::publisher::Publisher;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::Settings;
use crate::faults::{self, Faults};
use crate::production_line::ProductionLine;
use crate::routes::{self, ProductionTime};
use utoipa::OpenApi;

pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
    line: ProductionLine,
    pool: Pool,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = crate::schema::open(&settings.service.database, &settings.factory_db).await?;
        let sdk = aws::sdk_config(&settings.service.aws).await;
        let resources = Resources::new(&settings.service.aws);
        let publisher = Publisher::open(
            aws_sdk_sns::Client::new(&sdk),
            &resources,
            &[names::STOCK_ARRIVAL_TOPIC],
        )
        .await?;
        let outbox = Outbox::new(pool.clone(), publisher.clone());
        let relay = Relay::new(
            pool.clone(),
            publisher.clone(),
            Duration::from_millis(settings.outbox_sweep_ms),
        );
        let new_order = Arc::new(Notify::new());
        let line = ProductionLine::new(pool.clone(), new_order.clone(), outbox);
        let production_time = Duration::try_from_secs_f64(settings.factory_production_seconds)
            .map_err(|_| anyhow::anyhow!("FACTORY_PRODUCTION_SECONDS must be a number of seconds ≥ 0"))?;

        let listener = settings
            .service
            .http
            .listen_shared(settings.factory_port, "factory", "FACTORY_PORT")?;
        let port = listener.local_addr()?.port();
        let workers = stockflow_kit::serve::http_workers(0);
        let worker_pools = db::WorkerPools::new(&settings.service.database, &settings.factory_db, workers)?;
        let production_time = web::Data::new(ProductionTime(production_time));
        let new_order = web::Data::new(new_order);
        let faults = web::Data::new(Faults::default());
        let faults_enabled = settings.factory_faults_enabled;
        if faults_enabled {
            tracing::warn!("fault injection is enabled: /admin/faults can make this factory fail");
        }
        let server = HttpServer::new(move || {
            // Runs on each worker thread: its own pool, so its connections stay on it.
            let pool = worker_pools.open();
            let app = App::new()
                .wrap(from_fn(stockflow_kit::metrics::middleware))
                .wrap(from_fn(request_id::middleware))
                .app_data(web::Data::new(OutboxReadiness {
                    pool: pool.clone(),
                    publisher: publisher.clone(),
                }))
                .app_data(web::Data::new(pool))
                .app_data(production_time.clone())
                .app_data(new_order.clone())
                .app_data(faults.clone())
                .app_data(problem::json_config())
                .configure(health::routes::<OutboxReadiness>)
                .configure(|cfg| stockflow_apidocs::routes(cfg, crate::ApiDoc::openapi()))
                .service(problem::resource(
                    "/api/manufactures",
                    web::post(),
                    routes::create_manufacture,
                ))
                .service(problem::resource(
                    "/api/manufactures/{id}",
                    web::get(),
                    routes::get_manufacture,
                ));
            let app = if faults_enabled {
                app.route("/admin/faults", web::get().to(faults::get_faults))
                    .route("/admin/faults", web::put().to(faults::put_faults))
            } else {
                app
            };
            app.default_service(web::to(problem::not_found_route))
        })
        .workers(workers)
        .disable_signals()
        .shutdown_timeout(10)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            relay,
            line,
            pool,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown`, then drains requests, publishes what the outbox
    /// holds and closes the pool.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let line = tokio::spawn(self.line.run(shutdown.clone()));
        stockflow_kit::serve::serve_until_stopped(self.server, self.relay.run(shutdown.clone()), shutdown).await?;
        line.await.ok();
        self.pool.disconnect().await.ok();
        tracing::info!("factory stopped");
        Ok(())
    }
}

impl stockflow_kit::binary::Service for Application {
    fn port(&self) -> u16 {
        self.port()
    }

    async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.run_until_stopped(shutdown).await
    }
}
