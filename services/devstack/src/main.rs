//! `stockflow-devstack`: what `scripts/up`, `scripts/down` and `scripts/test` ask of Rust.
//!
//!   stockflow-devstack up --bin-dir target/release   # start the missing replicas, wait until ready
//!   stockflow-devstack down                          # stop every replica recorded in the run dir
//!   stockflow-devstack mysql-check                   # log in to MYSQL_URL's server
//!   stockflow-devstack mysql-drop db...              # DROP DATABASE IF EXISTS each
//!
//! The services read the rest of their configuration from the environment, which `up`
//! passes on unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stockflow_devstack::mysql::MysqlServer;
use stockflow_devstack::process::{self, Launcher};
use stockflow_devstack::service::{Ports, Service};

#[derive(Parser)]
#[command(about = "Start and stop stockflow's services on this machine (used by scripts/up and scripts/down)")]
struct Cli {
    /// Pid and log files.
    #[arg(long, env = "STOCKFLOW_RUN_DIR", default_value = ".run", global = true)]
    run_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start every replica that is not running (live ones are left alone); wait until all are ready.
    Up {
        /// Where the service binaries are.
        #[arg(long)]
        bin_dir: PathBuf,
        /// Processes of each service.
        #[arg(long, env = "STOCKFLOW_REPLICAS", default_value_t = 1)]
        replicas: usize,
        #[arg(long, env = "SALES_PORT", default_value_t = 8080)]
        sales_port: u16,
        #[arg(long, env = "FACTORY_PORT", default_value_t = 8081)]
        factory_port: u16,
        /// Replica i of stock-worker listens on this + 100 × i.
        #[arg(long, env = "STOCK_WORKER_PORT", default_value_t = 8082)]
        stock_worker_port: u16,
        /// Replica i of stock-inc-worker listens on this + 100 × i.
        #[arg(long, env = "STOCK_INC_WORKER_PORT", default_value_t = 8083)]
        stock_inc_worker_port: u16,
        /// Seconds each replica may take to answer /ready.
        #[arg(long, env = "STOCKFLOW_READY_TIMEOUT", default_value_t = 90)]
        ready_timeout: u64,
    },
    /// Stop every replica recorded in the run dir: SIGTERM, SIGKILL after the grace period.
    Down {
        #[arg(long, env = "STOCKFLOW_STOP_GRACE", default_value_t = 10)]
        grace: u64,
    },
    /// Log in to the server MYSQL_URL names and print its version.
    MysqlCheck {
        #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306")]
        mysql_url: String,
    },
    /// DROP DATABASE IF EXISTS each database.
    MysqlDrop {
        #[arg(long, env = "MYSQL_URL", default_value = "mysql://root@127.0.0.1:3306")]
        mysql_url: String,
        databases: Vec<String>,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ERROR: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn say(line: impl std::fmt::Display) {
    eprintln!("    {line}");
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up {
            bin_dir,
            replicas,
            sales_port,
            factory_port,
            stock_worker_port,
            stock_inc_worker_port,
            ready_timeout,
        } => {
            anyhow::ensure!(replicas >= 1, "STOCKFLOW_REPLICAS must be at least 1");
            let launcher = Launcher {
                bin_dir,
                run_dir: cli.run_dir,
                ports: Ports::strided(
                    sales_port,
                    factory_port,
                    stock_worker_port,
                    stock_inc_worker_port,
                    replicas,
                ),
                env: Vec::new(),
                service_env: BTreeMap::new(),
                inherit_env: true,
                kill_on_drop: false,
                ready_timeout: Duration::from_secs(ready_timeout),
            };
            up(&launcher, replicas).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Down { grace } => {
            let mut ignored_sigterm = false;
            for line in process::stop_recorded(&cli.run_dir, Duration::from_secs(grace)).await? {
                ignored_sigterm |= line.contains("ignored SIGTERM");
                say(line);
            }
            // A service that does not stop on SIGTERM is a defect: say so in the exit status.
            Ok(if ignored_sigterm {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::MysqlCheck { mysql_url } => {
            let server = MysqlServer::parse(&mysql_url)?;
            let version = server.check().await?;
            say(format_args!(
                "logged in to {}:{} as {}: server {version}",
                server.host(),
                server.port(),
                server.user()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::MysqlDrop { mysql_url, databases } => {
            MysqlServer::parse(&mysql_url)?.drop_databases(&databases).await?;
            say(format_args!("dropped (if present): {}", databases.join(" ")));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Nothing answers on `port` yet.
fn port_free(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// Starts what is missing, sales and factory first (the workers call the factory), and
/// waits until every replica answers `/ready`.
async fn up(launcher: &Launcher, replicas: usize) -> anyhow::Result<()> {
    for group in [
        [Service::Sales, Service::Factory],
        [Service::StockWorker, Service::StockIncWorker],
    ] {
        let mut running = Vec::new();
        for service in group {
            let live: Vec<_> = (0..replicas).filter_map(|i| launcher.recorded(service, i)).collect();
            // A port another program holds: only our own replicas may share it.
            let shared_port_free =
                !service.shares_port() || !live.is_empty() || port_free(launcher.ports.of(service, 0));
            for index in 0..replicas {
                if let Some(replica) = live.iter().find(|r| r.index == index) {
                    say(format_args!(
                        "{} replica {index} already running (pid {}, :{})",
                        service.name(),
                        replica.pid,
                        replica.port
                    ));
                    continue;
                }
                let port = launcher.ports.of(service, index);
                let free = if service.shares_port() {
                    shared_port_free
                } else {
                    port_free(port)
                };
                if !free {
                    anyhow::bail!(
                        "port {port} (for {} replica {index}) is taken by another process; stop it or set {}",
                        service.name(),
                        service.port_variable()
                    );
                }
                let replica = launcher.spawn(service, index, &[])?;
                say(format_args!(
                    "{} replica {index} started (pid {}, :{port}, log {})",
                    service.name(),
                    replica.pid,
                    replica.log().display()
                ));
                running.push(replica);
            }
            running.extend(live);
        }
        for replica in &mut running {
            replica.wait_ready(launcher.ready_timeout).await?;
        }
        say(format_args!(
            "ready: {}",
            group.map(|s| format!("{} ×{replicas}", s.name())).join(", ")
        ));
    }
    Ok(())
}
