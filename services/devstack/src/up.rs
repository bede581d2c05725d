//! `stockflow-devstack up`: the replicas of every service started where missing and
//! awaited, then what runs where printed, and the README's two sample requests sent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::localstack::{self, LocalstackPort, Shared};
use crate::ports::MYSQL_URL;
use crate::process::Launcher;
use crate::service::{Ports, Service, WORKER_PORT_STRIDE};

pub fn say(line: impl std::fmt::Display) {
    eprintln!("    {line}");
}

pub fn step(line: impl std::fmt::Display) {
    eprintln!("\n==> {line}");
}

/// `stockflow-devstack up`'s options.
#[derive(clap::Args, Debug)]
pub struct UpOptions {
    /// Where the service binaries are.
    #[arg(long)]
    pub bin_dir: PathBuf,
    /// Processes of each service.
    #[arg(long, env = "STOCKFLOW_REPLICAS", default_value_t = 1)]
    pub replicas: usize,
    #[arg(long, env = "SALES_PORT")]
    pub sales_port: Option<u16>,
    #[arg(long, env = "FACTORY_PORT")]
    pub factory_port: Option<u16>,
    /// Replica i of stock-worker listens on this + 100 × i.
    #[arg(long, env = "STOCK_WORKER_PORT")]
    pub stock_worker_port: Option<u16>,
    /// Replica i of stock-inc-worker listens on this + 100 × i.
    #[arg(long, env = "STOCK_INC_WORKER_PORT")]
    pub stock_inc_worker_port: Option<u16>,
    /// Seconds each replica may take to answer /ready.
    #[arg(long, env = "STOCKFLOW_READY_TIMEOUT", default_value_t = 90)]
    pub ready_timeout: u64,
    /// First the venv, LocalStack (started or reused) and a MySQL login check.
    #[arg(long)]
    pub localstack: bool,
    #[command(flatten)]
    pub localstack_port: LocalstackPort,
    /// Then print what runs where and send the README's sample requests.
    #[arg(long = "try")]
    pub try_requests: bool,
    /// How to stop it, as printed.
    #[arg(long, default_value = "scripts/down")]
    pub down_hint: String,
}

impl UpOptions {
    /// (LocalStack and the MySQL check, with `--localstack`,) the missing replicas
    /// started and awaited, (and with `--try` what runs where and the sample requests).
    pub async fn run(self, shared: &Shared) -> anyhow::Result<()> {
        let Self {
            bin_dir,
            replicas,
            sales_port,
            factory_port,
            stock_worker_port,
            stock_inc_worker_port,
            ready_timeout,
            localstack,
            localstack_port,
            try_requests: send_samples,
            down_hint,
        } = self;
        anyhow::ensure!(replicas >= 1, "STOCKFLOW_REPLICAS must be at least 1");
        let port = |given: Option<u16>, service| given.unwrap_or_else(|| Service::default_port(service));
        let mut env = Vec::new();
        if localstack {
            step(format_args!(
                "LocalStack {} on 127.0.0.1:{}",
                localstack::VERSION,
                localstack_port.port
            ));
            let ls_port = shared.start_at(localstack_port, false).await?;
            let mysql_url = std::env::var("MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into());
            step("MySQL");
            say(crate::mysql::check_or_explain(&mysql_url).await?);
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
            run_dir: shared.run_dir.clone(),
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
        if let Err(err) = start_missing(&launcher, replicas).await {
            say(format_args!("(what is running stays up: {down_hint} stops it)"));
            return Err(err);
        }
        if send_samples {
            step("stockflow is up");
            summary(&launcher, replicas, localstack_port.port, &down_hint);
            try_requests(launcher.ports.sales).await?;
        }
        Ok(())
    }
}

/// Starts what is missing, sales and factory first (the workers call the factory), and
/// waits until every replica answers `/ready`. Live replicas are left alone.
pub async fn start_missing(launcher: &Launcher, replicas: usize) -> anyhow::Result<()> {
    for group in [
        [Service::Sales, Service::Factory],
        [Service::StockWorker, Service::StockIncWorker],
    ] {
        let mut running = Vec::new();
        for service in group {
            let live: Vec<_> = (0..replicas).filter_map(|i| launcher.recorded(service, i)).collect();
            // A port another program holds: only our own replicas may share it.
            let port_free = crate::ports::port_free;
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

/// Stops every replica the run dir records; false when one ignored SIGTERM (a defect: it
/// would not drain) and was killed.
pub async fn stop_replicas(run_dir: &Path, grace: Duration) -> anyhow::Result<bool> {
    let mut clean = true;
    for line in crate::process::stop_recorded(run_dir, grace).await? {
        clean &= !line.contains("ignored SIGTERM");
        say(line);
    }
    Ok(clean)
}

/// What runs where, and how to stop it.
pub fn summary(launcher: &Launcher, replicas: usize, localstack_port: u16, down: &str) {
    let ports = &launcher.ports;
    let workers = |service| {
        (0..replicas)
            .map(|i| ports.of(service, i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pid = std::fs::read_to_string(launcher.run_dir.join("localstack.pid"))
        .map(|p| p.trim().to_string())
        .unwrap_or_else(|_| "not ours".into());
    let run_dir = launcher.run_dir.display();
    say(format_args!(
        "sales             http://127.0.0.1:{}   (/products, /checkout, /ready, /metrics; {replicas} replica(s) share the port)",
        ports.sales
    ));
    say(format_args!(
        "factory           http://127.0.0.1:{}   (/api/manufactures; {replicas} replica(s) share the port)",
        ports.factory
    ));
    say(format_args!(
        "stock-worker      /ready and /metrics on :{}   (one port per replica, {WORKER_PORT_STRIDE} apart)",
        workers(Service::StockWorker)
    ));
    say(format_args!(
        "stock-inc-worker  /ready and /metrics on :{}",
        workers(Service::StockIncWorker)
    ));
    say(format_args!(
        "LocalStack        {}   (pid {pid})",
        localstack::endpoint(localstack_port)
    ));
    say(format_args!(
        "logs and pids     {run_dir}/<service>-<replica>.log and .pid       stop with: {down}"
    ));
}

/// The README's sample requests against sales (they buy one CP-502101), shown with
/// their answers.
pub async fn try_requests(sales_port: u16) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let base = format!("localhost:{sales_port}");
    say("Try:");
    say(format_args!("$ curl -s {base}/products"));
    match http.get(format!("http://{base}/products")).send().await {
        Ok(response) => println!("{}", response.text().await.unwrap_or_default()),
        Err(err) => say(format_args!("(no answer: {err})")),
    }
    let body = r#"{"sku":"CP-502101","quantity":1}"#;
    say(format_args!(
        "$ curl -s -X POST {base}/checkout -H 'content-type: application/json' -d '{body}'"
    ));
    let checkout = http
        .post(format!("http://{base}/checkout"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    match checkout {
        Ok(response) => println!("{}", response.text().await.unwrap_or_default()),
        Err(err) => say(format_args!("(no answer: {err})")),
    }
    Ok(())
}

/// Removes the run dir (`down --purge`).
pub fn purge(run_dir: &Path) -> anyhow::Result<()> {
    if run_dir.exists() {
        std::fs::remove_dir_all(run_dir)?;
        say(format_args!("removed {}/", run_dir.display()));
    }
    Ok(())
}
