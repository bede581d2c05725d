//! The private world of one run: two copies of the topology (the services' and the bare
//! hops'), private databases, the four services as processes, and the pools the
//! scenarios use; set up before the scenarios, torn down after (only what this run made).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_devstack::service::Ports;
use stockflow_devstack::topology::Topology;
use stockflow_kit::config::DatabaseSettings;
use stockflow_kit::db;
use stockflow_messaging::aws;
use stockflow_messaging::aws::AwsSettings;

use super::machine_facts;
use crate::report::Report;
use crate::system::{self, Config, Services};
use crate::{Args, progress};

/// What the scenarios run against.
pub(super) struct World {
    /// The server, no database (global variables, dropping the databases).
    pub admin: Pool,
    pub warehouse: Pool,
    pub ceiling: Pool,
    pub database: DatabaseSettings,
    pub ceiling_db: String,
    /// Where sales listens.
    pub sales: SocketAddr,
    pub services: Services,
    pub db_pid: Option<u32>,
    /// The prefix of the second topology, the bare hops'.
    pub hop_prefix: String,
    /// The server's `max_connections` (151 when unknown).
    pub max_connections: usize,
    made: Made,
}

/// What this run created and the teardown removes (unless `--keep`).
struct Made {
    databases: [String; 3],
    stacks: Stacks,
}

/// The two deployed copies of the topology.
struct Stacks {
    cloudformation: aws_sdk_cloudformation::Client,
    /// The services' and the bare hops'.
    topologies: [Topology; 2],
}

/// This run's names, all from one random id.
struct Names {
    id: String,
    prefix: String,
    hop_prefix: String,
    warehouse_db: String,
    factory_db: String,
    ceiling_db: String,
}

impl Names {
    fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        Self {
            prefix: format!("b{id}_"),
            hop_prefix: format!("b{id}h_"),
            warehouse_db: format!("bench_{id}_warehouse"),
            factory_db: format!("bench_{id}_factory"),
            ceiling_db: format!("bench_{id}_ceiling"),
            id,
        }
    }
}

impl World {
    /// Connects to the server, writes the machine's facts, deploys the topologies and
    /// starts the services. `load_before`: the load average when the run began.
    pub async fn set_up(args: &Args, report: &mut Report, load_before: &str) -> anyhow::Result<Self> {
        let names = Names::new();
        let database = DatabaseSettings {
            mysql_url: args.mysql_url.clone(),
            db_pool_max: 4,
        };
        let admin = db::connect(&database, "mysql")
            .await
            .context("MySQL/MariaDB not reachable")?;
        machine_facts::push(report, &admin, args, &names.id, load_before).await?;
        let stacks = deploy(args, &names).await?;
        let ports = Ports::free(1)?;
        let services = start_services(args, &names, &ports).await?;
        report.facts.push(services_fact(args, &names, services.log_dir()));
        let max_connections = max_connections(&admin).await.unwrap_or(151);
        Ok(Self {
            warehouse: db::connect(&database_with(&database, 8), &names.warehouse_db).await?,
            ceiling: warehouse::open(&database_with(&database, 4), &names.ceiling_db).await?,
            admin,
            database,
            ceiling_db: names.ceiling_db.clone(),
            sales: SocketAddr::from(([127, 0, 0, 1], ports.sales)),
            services,
            db_pid: system::database_pid(),
            hop_prefix: names.hop_prefix.clone(),
            max_connections,
            made: Made {
                databases: [names.warehouse_db, names.factory_db, names.ceiling_db],
                stacks,
            },
        })
    }

    /// Stops the services, then (unless `keep`) drops this run's databases and deletes
    /// its stacks.
    pub async fn tear_down(self, keep: bool) -> anyhow::Result<()> {
        progress("stopping the services (SIGTERM to the pids this run started)");
        self.services.stop().await;
        if keep {
            return Ok(());
        }
        let mut conn = self.admin.get_conn().await?;
        for name in &self.made.databases {
            conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`")).await.ok();
        }
        let stacks = &self.made.stacks;
        for topology in &stacks.topologies {
            if let Err(err) = topology.delete(&stacks.cloudformation).await {
                progress(format!("{err:#}"));
            }
        }
        Ok(())
    }
}

/// The private topology of the services and a second one for the bare hops.
async fn deploy(args: &Args, names: &Names) -> anyhow::Result<Stacks> {
    let settings = AwsSettings {
        aws_endpoint_url: args.aws_endpoint.clone(),
        aws_region: "us-east-1".into(),
        stockflow_prefix: names.prefix.clone(),
    };
    let sdk = aws::sdk_config(&settings).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let id = &names.id;
    let stack_names = [format!("stockflow-bench-{id}"), format!("stockflow-bench-{id}-hops")];
    progress(format!(
        "deploying localstack/stockflow.yaml twice: prefix {} (services) and {} (bare hops)",
        names.prefix, names.hop_prefix
    ));
    let params = [("Prefix", names.prefix.clone())];
    let hop_params = [("Prefix", names.hop_prefix.clone())];
    let (services, hops) = tokio::join!(
        Topology::deploy(&cloudformation, &stack_names[0], &params),
        Topology::deploy(&cloudformation, &stack_names[1], &hop_params)
    );
    Ok(Stacks {
        cloudformation,
        topologies: [services?, hops?],
    })
}

async fn start_services(args: &Args, names: &Names, ports: &Ports) -> anyhow::Result<Services> {
    let log_dir = args
        .out
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("run-{}", names.id));
    let config = Config {
        bin_dir: args.bin_dir.clone(),
        log_dir,
        mysql_url: args.mysql_url.clone(),
        aws_endpoint: args.aws_endpoint.clone(),
        prefix: names.prefix.clone(),
        warehouse_db: names.warehouse_db.clone(),
        factory_db: names.factory_db.clone(),
        ports: ports.clone(),
        env: args.env.clone(),
        sales_env: Vec::new(),
    };
    progress(format!(
        "starting {} from {} (sales :{}, factory :{}; logs in {})",
        system::service_names().join(", "),
        args.bin_dir.display(),
        ports.sales,
        ports.factory,
        config.log_dir.display()
    ));
    Services::start(config).await
}

fn services_fact(args: &Args, names: &Names, log_dir: &Path) -> String {
    let extra = if args.env.is_empty() {
        String::new()
    } else {
        format!(
            " plus {}",
            args.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    format!(
        "services: release binaries as processes, prefix `{}`, databases `{}`/`{}`, \
         FACTORY_PRODUCTION_SECONDS=0 (3600 during the hot phase), otherwise the README defaults{extra}; logs in `{}`",
        names.prefix,
        names.warehouse_db,
        names.factory_db,
        log_dir.display()
    )
}

fn database_with(settings: &DatabaseSettings, pool: usize) -> DatabaseSettings {
    DatabaseSettings {
        mysql_url: settings.mysql_url.clone(),
        db_pool_max: pool,
    }
}

async fn max_connections(admin: &Pool) -> anyhow::Result<usize> {
    let mut conn = admin.get_conn().await?;
    let v: Option<usize> = conn.query_first("SELECT @@GLOBAL.max_connections").await?;
    Ok(v.unwrap_or(151))
}
