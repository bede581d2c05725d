//! `stockflow-devstack`: the development environment's one home, what `scripts/up`,
//! `scripts/down`, `scripts/test`, the bench, soak and mutants scripts ask of Rust.
//!
//!   stockflow-devstack up --bin-dir target/release [--localstack] [--try]
//!                                                # (LocalStack, MySQL check,) the missing replicas
//!   stockflow-devstack down [--localstack] [--purge]   # every replica recorded in the run dir
//!   stockflow-devstack localstack venv|start|stop|deploy|endpoint   # the run dir's LocalStack
//!   stockflow-devstack mysql-check | mysql-drop db...
//!   stockflow-devstack venv NAME REQUIREMENTS --label L -- CHECK...   # a cached venv; prints its dir
//!   stockflow-devstack free-ports N | free-base ... | purge-queues --prefix P | stop-pid FILE
//!   stockflow-devstack api-stack up --bin-dir target/debug | down   # scripts/test's API stack
//!   stockflow-devstack compose-suite --dir .run/test/compose   # the compose part of scripts/test;
//!                                                # its summary note is the last line of stdout
//!
//! The services read the rest of their configuration from the environment, which `up`
//! passes on unchanged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stockflow_devstack::localstack::{self, Shared};
use stockflow_devstack::mysql::MysqlServer;
use stockflow_devstack::ports::{self, LOCALSTACK_PORT, MYSQL_URL};
use stockflow_devstack::process::Launcher;
use stockflow_devstack::service::{Ports, Service};
use stockflow_devstack::up::{say, step};
use stockflow_devstack::venv::Venv;
use stockflow_devstack::{pidfile, queues, up};

#[derive(Parser)]
#[command(about = "The development environment: LocalStack, MySQL checks, the services' replicas")]
struct Cli {
    /// Pid and log files.
    #[arg(long, env = "STOCKFLOW_RUN_DIR", default_value = ".run", global = true)]
    run_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// Where the run dir's LocalStack listens.
#[derive(clap::Args, Clone, Copy)]
struct LocalstackPort {
    /// 0: a free port, printed on stdout.
    #[arg(long = "localstack-port", env = "STOCKFLOW_LOCALSTACK_PORT", default_value_t = LOCALSTACK_PORT)]
    port: u16,
    /// Seconds LocalStack may take to be ready with its topology.
    #[arg(long, env = "STOCKFLOW_LS_START_TIMEOUT", default_value_t = 120)]
    start_timeout: u64,
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
        #[arg(long, env = "SALES_PORT")]
        sales_port: Option<u16>,
        #[arg(long, env = "FACTORY_PORT")]
        factory_port: Option<u16>,
        /// Replica i of stock-worker listens on this + 100 × i.
        #[arg(long, env = "STOCK_WORKER_PORT")]
        stock_worker_port: Option<u16>,
        /// Replica i of stock-inc-worker listens on this + 100 × i.
        #[arg(long, env = "STOCK_INC_WORKER_PORT")]
        stock_inc_worker_port: Option<u16>,
        /// Seconds each replica may take to answer /ready.
        #[arg(long, env = "STOCKFLOW_READY_TIMEOUT", default_value_t = 90)]
        ready_timeout: u64,
        /// First the venv, LocalStack (started or reused) and a MySQL login check.
        #[arg(long)]
        localstack: bool,
        #[command(flatten)]
        localstack_port: LocalstackPort,
        /// Then print what runs where and send the README's sample requests.
        #[arg(long = "try")]
        try_requests: bool,
        /// How to stop it, as printed.
        #[arg(long, default_value = "scripts/down")]
        down_hint: String,
    },
    /// Stop every replica recorded in the run dir: SIGTERM, SIGKILL after the grace period.
    Down {
        #[arg(long, env = "STOCKFLOW_STOP_GRACE", default_value_t = 10)]
        grace: u64,
        /// Then the run dir's LocalStack, if it was started from there.
        #[arg(long)]
        localstack: bool,
        /// Then remove the run dir.
        #[arg(long)]
        purge: bool,
    },
    /// The run dir's LocalStack (its pid, log and files there).
    Localstack {
        #[command(subcommand)]
        action: LocalstackAction,
    },
    /// Log in to the server MYSQL_URL names and print its version.
    MysqlCheck {
        #[arg(long, env = "MYSQL_URL", default_value = MYSQL_URL)]
        mysql_url: String,
    },
    /// DROP DATABASE IF EXISTS each database.
    MysqlDrop {
        #[arg(long, env = "MYSQL_URL", default_value = MYSQL_URL)]
        mysql_url: String,
        databases: Vec<String>,
    },
    /// Create the cached venv NAME (under $STOCKFLOW_CACHE) with REQUIREMENTS installed and
    /// CHECK run in it, unless it is current; print its dir.
    Venv {
        name: String,
        requirements: PathBuf,
        /// Prefixes its progress lines.
        #[arg(long)]
        label: String,
        /// Run with the venv's bin/ first on PATH after an install.
        #[arg(last = true, required = true)]
        check: Vec<String>,
    },
    /// Print COUNT distinct free TCP ports of 127.0.0.1.
    FreePorts {
        #[arg(default_value_t = 1)]
        count: usize,
    },
    /// Print the first of FIRST, FIRST+STEP, … LAST whose WIDTH ports from it are all free.
    FreeBase {
        first: u16,
        step: u16,
        last: u16,
        width: u16,
    },
    /// Stop the process PID_FILE names if it still runs EXPECT: SIGTERM to its group, SIGKILL after the grace period.
    StopPid {
        pid_file: PathBuf,
        #[arg(long)]
        expect: String,
        #[arg(long, default_value_t = 10)]
        grace: u64,
    },
    /// The live stack of scripts/test's API parts (its own ports, databases, prefix; the
    /// caller's LocalStack and MySQL), in the run dir; `up` writes its addresses to stack.env.
    ApiStack {
        #[command(subcommand)]
        action: ApiStackAction,
    },
    /// The compose part of scripts/test: engine, images, the stack's story, scaling, e2e,
    /// observability, then down -v (and a dockerd of its own stopped) whatever happens.
    /// Progress on stderr; the summary note is the last line of stdout; exit 0 when it passed.
    ComposeSuite(stockflow_devstack::compose::Options),
    /// Purge every SQS queue named PREFIX*.
    PurgeQueues {
        #[arg(long)]
        prefix: String,
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: String,
        #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
        region: String,
    },
}

#[derive(Subcommand)]
enum ApiStackAction {
    /// Stop a leftover, prepare databases, queues and topology, start the services, await them.
    Up {
        /// Where the service binaries are.
        #[arg(long)]
        bin_dir: PathBuf,
        #[command(flatten)]
        stack: stockflow_devstack::api_stack::ApiStack,
    },
    /// Stop its services (exit 3 when one ignored SIGTERM).
    Down,
}

#[derive(Subcommand)]
enum LocalstackAction {
    /// Install LocalStack 4.13.1 in its cached venv (nothing when it is current).
    Venv,
    /// The venv, then start LocalStack (or reuse the one that answers) and wait until its
    /// hook deployed the topology.
    Start {
        #[command(flatten)]
        port: LocalstackPort,
        /// Fail when something else answers on the port instead of reusing it.
        #[arg(long)]
        own: bool,
    },
    /// Stop the LocalStack started from the run dir (none other).
    Stop {
        #[arg(long, env = "STOCKFLOW_STOP_GRACE", default_value_t = 10)]
        grace: u64,
    },
    /// Run the (idempotent) ready hook: deploy or update the topology.
    Deploy {
        #[command(flatten)]
        port: LocalstackPort,
    },
    /// Print its endpoint, http://127.0.0.1:<port>.
    Endpoint {
        #[command(flatten)]
        port: LocalstackPort,
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

/// The venv, then the run dir's LocalStack; the port it listens on.
async fn start_localstack(shared: &Shared, at: LocalstackPort, own: bool) -> anyhow::Result<u16> {
    localstack::ensure_venv()?;
    let port = match at.port {
        0 => {
            let port = ports::free_ports(1)?[0];
            println!("{port}");
            port
        }
        port => port,
    };
    let interval = std::env::var("STOCKFLOW_METRICS_INTERVAL").unwrap_or_else(|_| "60".into());
    let env = vec![("SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL".to_string(), interval)];
    shared
        .start(port, own, env, Duration::from_secs(at.start_timeout))
        .await?;
    Ok(port)
}

/// A service that does not stop on SIGTERM is a defect: say so in the exit status (3).
fn stopped(clean: bool) -> ExitCode {
    if clean { ExitCode::SUCCESS } else { ExitCode::from(3) }
}

/// Logs in at `url`; on failure says how to get a server there.
async fn mysql_check(url: &str) -> anyhow::Result<()> {
    let server = MysqlServer::parse(url)?;
    match server.check().await {
        Ok(version) => {
            say(format_args!(
                "logged in to {}:{} as {}: server {version}",
                server.host(),
                server.port(),
                server.user()
            ));
            Ok(())
        }
        Err(err) => Err(err.context(format!(
            "MySQL/MariaDB does not accept a login at MYSQL_URL={}. Either\n\
             - start the local server: service mariadb start   (Debian: apt-get install mariadb-server), or\n\
             - with Docker: docker compose up -d mysql, then\n  \
               export MYSQL_URL=mysql://root:stockflow@127.0.0.1:23306   (compose publishes MySQL on 23306)\n\
             - or point MYSQL_URL at a server and a user that may create databases:\n  \
               export MYSQL_URL=mysql://user:password@host:port",
            server.redacted()
        ))),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let shared = Shared {
        run_dir: cli.run_dir.clone(),
    };
    match cli.command {
        Command::Up {
            bin_dir,
            replicas,
            sales_port,
            factory_port,
            stock_worker_port,
            stock_inc_worker_port,
            ready_timeout,
            localstack,
            localstack_port,
            try_requests,
            down_hint,
        } => {
            anyhow::ensure!(replicas >= 1, "STOCKFLOW_REPLICAS must be at least 1");
            let port = |given: Option<u16>, service| given.unwrap_or_else(|| Service::default_port(service));
            let mut env = Vec::new();
            if localstack {
                step(format_args!(
                    "LocalStack {} on 127.0.0.1:{}",
                    localstack::VERSION,
                    localstack_port.port
                ));
                let ls_port = start_localstack(&shared, localstack_port, false).await?;
                let mysql_url = std::env::var("MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into());
                step("MySQL");
                mysql_check(&mysql_url).await?;
                // What the services need and the caller's environment may lack.
                let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
                for (name, value) in [
                    ("MYSQL_URL", mysql_url),
                    ("AWS_ENDPOINT_URL", localstack::endpoint(ls_port)),
                    ("AWS_DEFAULT_REGION", region.clone()),
                    ("AWS_REGION", region),
                    ("AWS_ACCESS_KEY_ID", "test".into()),
                    ("AWS_SECRET_ACCESS_KEY", "test".into()),
                ] {
                    if std::env::var_os(name).is_none() {
                        env.push((name.to_string(), value));
                    }
                }
                step(format_args!("services ({replicas} replica(s) of each)"));
            }
            let launcher = Launcher {
                bin_dir,
                run_dir: cli.run_dir,
                ports: Ports::strided(
                    port(sales_port, Service::Sales),
                    port(factory_port, Service::Factory),
                    port(stock_worker_port, Service::StockWorker),
                    port(stock_inc_worker_port, Service::StockIncWorker),
                    replicas,
                ),
                env,
                service_env: BTreeMap::new(),
                inherit_env: true,
                kill_on_drop: false,
                ready_timeout: Duration::from_secs(ready_timeout),
            };
            if let Err(err) = up::start_missing(&launcher, replicas).await {
                say(format_args!("(what is running stays up: {down_hint} stops it)"));
                return Err(err);
            }
            if try_requests {
                step("stockflow is up");
                up::summary(&launcher, replicas, localstack_port.port, &down_hint);
                up::try_requests(launcher.ports.sales).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Down {
            grace,
            localstack,
            purge,
        } => {
            if !cli.run_dir.exists() {
                say(format_args!("nothing to stop (no {}/)", cli.run_dir.display()));
                return Ok(ExitCode::SUCCESS);
            }
            let grace = Duration::from_secs(grace);
            step("stopping the services");
            let clean = up::stop_replicas(&cli.run_dir, grace).await?;
            if localstack {
                step("stopping LocalStack");
                shared.stop(grace).await?;
            }
            if purge {
                up::purge(&cli.run_dir)?;
            }
            Ok(stopped(clean))
        }
        Command::Localstack { action } => {
            match action {
                LocalstackAction::Venv => localstack::ensure_venv()?,
                LocalstackAction::Start { port, own } => {
                    start_localstack(&shared, port, own).await?;
                }
                LocalstackAction::Stop { grace } => shared.stop(Duration::from_secs(grace)).await?,
                LocalstackAction::Deploy { port } => localstack::deploy(&localstack::endpoint(port.port), &[])?,
                LocalstackAction::Endpoint { port } => println!("{}", localstack::endpoint(port.port)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::MysqlCheck { mysql_url } => {
            mysql_check(&mysql_url).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::MysqlDrop { mysql_url, databases } => {
            MysqlServer::parse(&mysql_url)?.drop_databases(&databases).await?;
            say(format_args!("dropped (if present): {}", databases.join(" ")));
            Ok(ExitCode::SUCCESS)
        }
        Command::Venv {
            name,
            requirements,
            label,
            check,
        } => {
            let venv = Venv::new(&name, requirements, &label);
            venv.ensure(&check)?;
            println!("{}", venv.dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::FreePorts { count } => {
            let ports: Vec<String> = ports::free_ports(count)?.iter().map(u16::to_string).collect();
            println!("{}", ports.join(" "));
            Ok(ExitCode::SUCCESS)
        }
        Command::FreeBase {
            first,
            step,
            last,
            width,
        } => match ports::free_base(first, step, last, width) {
            Some(base) => {
                println!("{base}");
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!(
                    "ERROR: no {width} free ports from any of {first}, {}, … {last}",
                    first.saturating_add(step)
                );
                Ok(ExitCode::FAILURE)
            }
        },
        Command::StopPid {
            pid_file,
            expect,
            grace,
        } => {
            if let Some(pid) = pidfile::read(&pid_file) {
                say(format_args!("stopping {expect} (pid {pid})"));
                if pidfile::stop(pid, &expect, Duration::from_secs(grace)).await? {
                    say(format_args!("{expect} (pid {pid}) still ran after {grace} s: killed"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::ApiStack { action } => match action {
            ApiStackAction::Up { bin_dir, stack } => {
                stack.up(&cli.run_dir, bin_dir).await?;
                Ok(ExitCode::SUCCESS)
            }
            ApiStackAction::Down => Ok(stopped(up::stop_replicas(&cli.run_dir, Duration::from_secs(10)).await?)),
        },
        Command::ComposeSuite(options) => {
            let outcome = stockflow_devstack::compose::run(options).await;
            println!("{}", outcome.note);
            Ok(ExitCode::from(outcome.code))
        }
        Command::PurgeQueues {
            prefix,
            endpoint,
            region,
        } => {
            let sqs = queues::client(&endpoint, &region).await;
            let count = queues::purge(&sqs, &prefix).await?;
            say(format_args!("purged {count} queues named {prefix}*"));
            Ok(ExitCode::SUCCESS)
        }
    }
}
