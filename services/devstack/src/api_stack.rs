//! `stockflow-devstack api-stack up|down`: the live stack that `scripts/test`'s api, schema,
//! blackbox, metrics and browser parts run against.
//!
//! It never meets a `scripts/up` stack or the Rust tests: its own run dir, the first of
//! ports 18080, 18180, … 18980 whose four are free (or the base given, which must be),
//! its own databases (dropped first, so every run starts from the seed), its own resource
//! prefix (its queues purged first: events an earlier run left name restock requests of
//! databases that are gone) and CloudFormation stack. It shares the caller's LocalStack
//! (`AWS_ENDPOINT_URL`, where it deploys its topology) and MySQL server. `up` writes
//! `<run dir>/stack.env`, the addresses the suites read (`SALES_URL`, `FACTORY_URL`,
//! `NEWMAN_PORT_BASE`, `WAREHOUSE_DB`, `STOCKFLOW_PREFIX`, `MYSQL_URL`, `AWS_ENDPOINT_URL`), as
//! `NAME=value` lines.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::mysql::MysqlServer;
use crate::process::Launcher;
use crate::service::Ports;
use crate::up::{say, start_missing, stop_replicas};
use crate::{localstack, ports, queues};

/// The bases tried when none is given: 18080, 18180, … 18980.
const PORT_BASES: (u16, u16, u16) = (18080, 100, 18980);

/// The stack's names and where it runs.
#[derive(clap::Args, Clone, Debug)]
pub struct ApiStack {
    /// Sales listens on this port, the factory on +1, the workers on +2 and +3 (default: the
    /// first free of 18080, 18180, … 18980).
    #[arg(long, env = "NEWMAN_PORT_BASE")]
    pub port_base: Option<u16>,
    /// Its databases: stockflow<suffix> and factory<suffix>.
    #[arg(long, env = "NEWMAN_DB_SUFFIX", default_value = "_newman")]
    pub db_suffix: String,
    /// Its resource prefix (queues, topics).
    #[arg(long, env = "NEWMAN_PREFIX", default_value = "newman_")]
    pub prefix: String,
    /// Its CloudFormation stack: stockflow<suffix>.
    #[arg(long, env = "NEWMAN_STACK_SUFFIX", default_value = "-newman")]
    pub stack_suffix: String,
    #[arg(long, env = "MYSQL_URL", default_value = ports::MYSQL_URL)]
    pub mysql_url: String,
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub endpoint: String,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
}

impl ApiStack {
    fn databases(&self) -> [String; 2] {
        [
            format!("stockflow{}", self.db_suffix),
            format!("factory{}", self.db_suffix),
        ]
    }

    fn port_base(&self) -> anyhow::Result<u16> {
        let (first, step, last) = match self.port_base {
            Some(base) => (base, 1, base),
            None => PORT_BASES,
        };
        ports::free_base(first, step, last, 4).with_context(|| match self.port_base {
            Some(base) => format!(
                "NEWMAN_PORT_BASE={base}: one of ports {base}-{} is taken; choose another base or unset it",
                base + 3
            ),
            None => format!(
                "no free ports for the api test stack (tried {first}-{}, … {last}-{}); set NEWMAN_PORT_BASE to a base with four free ports",
                first + 3,
                last + 3
            ),
        })
    }

    /// Stops what an interrupted run left, prepares the databases, queues and topology,
    /// starts the four services (debug or release binaries in `bin_dir`) and awaits them.
    pub async fn up(&self, run_dir: &Path, bin_dir: PathBuf) -> anyhow::Result<()> {
        // A stack left over from an interrupted run would keep the old databases' connections.
        stop_replicas(run_dir, Duration::from_secs(10)).await?;
        let base = self.port_base()?;
        say(format_args!(
            "api test stack: sales :{base}, factory :{}, workers :{}, :{}",
            base + 1,
            base + 2,
            base + 3
        ));
        let [warehouse_db, factory_db] = self.databases();
        MysqlServer::parse(&self.mysql_url)?
            .drop_databases(&self.databases())
            .await?;
        let sqs = queues::client(&self.endpoint, &self.region).await;
        if let Err(err) = queues::purge(&sqs, &self.prefix).await {
            say(format_args!("queues not purged: {err:#}"));
        }
        // Short SQS long polls: a stopped worker's poll stays open in LocalStack for up to
        // WORKER_WAIT_SECONDS and takes the next message with it, which then reappears only
        // after WORKER_VISIBILITY_SECONDS (with the defaults, 20 and 30, a run right after
        // another waited 30 s for its restock).
        let env: Vec<(String, String)> = [
            ("STOCKFLOW_PREFIX", self.prefix.clone()),
            ("STOCKFLOW_STACK_SUFFIX", self.stack_suffix.clone()),
            ("FACTORY_URL", format!("http://127.0.0.1:{}", base + 1)),
            ("WAREHOUSE_DB", warehouse_db.clone()),
            ("FACTORY_DB", factory_db),
            ("FACTORY_PRODUCTION_SECONDS", "1".into()),
            ("WORKER_WAIT_SECONDS", "1".into()),
            ("WORKER_VISIBILITY_SECONDS", "10".into()),
        ]
        .map(|(name, value)| (name.to_string(), value))
        .into();
        localstack::deploy(&self.endpoint, &env)?;
        let launcher = Launcher {
            bin_dir,
            run_dir: run_dir.to_path_buf(),
            ports: Ports::strided(base, base + 1, base + 2, base + 3, 1),
            env,
            service_env: BTreeMap::new(),
            inherit_env: true,
            kill_on_drop: false,
            ready_timeout: Duration::from_secs(90),
        };
        start_missing(&launcher, 1).await?;
        let stack_env = [
            ("SALES_URL", format!("http://127.0.0.1:{base}")),
            ("FACTORY_URL", format!("http://127.0.0.1:{}", base + 1)),
            ("NEWMAN_PORT_BASE", base.to_string()),
            ("WAREHOUSE_DB", warehouse_db),
            ("STOCKFLOW_PREFIX", self.prefix.clone()),
            ("MYSQL_URL", self.mysql_url.clone()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
        .map(|(name, value)| format!("{name}={value}\n"))
        .concat();
        std::fs::write(run_dir.join("stack.env"), stack_env)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ApiStack;

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        stack: ApiStack,
    }

    #[test]
    fn a_given_port_base_that_is_taken_is_refused_with_what_to_do() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = listener.local_addr().unwrap().port().saturating_sub(1);
        let base = taken.to_string();
        let args = Args::parse_from(["api-stack", "--port-base", &base, "--endpoint", "http://127.0.0.1:1"]);
        let err = args.stack.port_base().unwrap_err().to_string();
        assert!(err.contains(&format!("NEWMAN_PORT_BASE={base}")), "{err}");
        assert!(err.contains("choose another base or unset it"), "{err}");
    }
}
