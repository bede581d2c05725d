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

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use stockflow_devstack::localstack::{self, LocalstackPort, Shared};
use stockflow_devstack::mysql::{self, MysqlServer};
use stockflow_devstack::ports::{self, MYSQL_URL};
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

#[derive(Subcommand)]
enum Command {
    /// Start every replica that is not running (live ones are left alone); wait until all are ready.
    Up(up::UpOptions),
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

/// A service that does not stop on SIGTERM is a defect: say so in the exit status (3).
fn stopped(clean: bool) -> ExitCode {
    if clean { ExitCode::SUCCESS } else { ExitCode::from(3) }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let shared = Shared {
        run_dir: cli.run_dir.clone(),
    };
    match cli.command {
        Command::Up(options) => {
            options.run(&shared).await?;
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
                    shared.start_at(port, own).await?;
                }
                LocalstackAction::Stop { grace } => shared.stop(Duration::from_secs(grace)).await?,
                LocalstackAction::Deploy { port } => localstack::deploy(&localstack::endpoint(port.port), &[])?,
                LocalstackAction::Endpoint { port } => println!("{}", localstack::endpoint(port.port)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::MysqlCheck { mysql_url } => {
            say(mysql::check_or_explain(&mysql_url).await?);
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
