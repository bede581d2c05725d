//! The system under test: a private copy of the AWS topology (the CloudFormation
//! template deployed with a unique prefix), private databases, and the four release
//! binaries as processes, whose memory and CPU are read from /proc.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use tokio::process::{Child, Command};

use crate::load::{HttpClient, Outcome};

/// The template LocalStack's ready hook deploys; deployed here once per prefix.
pub const TEMPLATE: &str = include_str!("../../../localstack/stockflow.yaml");

pub const SERVICES: [&str; 4] = ["sales", "factory", "stock-worker", "stock-inc-worker"];

/// Deploys the template with `prefix` as a stack of its own; waits for CREATE_COMPLETE.
pub async fn deploy_stack(cf: &aws_sdk_cloudformation::Client, stack: &str, prefix: &str) -> anyhow::Result<()> {
    let param = |k: &str, v: &str| Parameter::builder().parameter_key(k).parameter_value(v).build();
    cf.create_stack()
        .stack_name(stack)
        .template_body(TEMPLATE)
        .parameters(param("Prefix", prefix))
        .send()
        .await
        .with_context(|| format!("CreateStack {stack} failed: is LocalStack running?"))?;
    let start = Instant::now();
    loop {
        let out = cf.describe_stacks().stack_name(stack).send().await?;
        match out.stacks().first().and_then(|s| s.stack_status().cloned()) {
            Some(StackStatus::CreateComplete) => return Ok(()),
            Some(StackStatus::CreateInProgress) | None => {}
            Some(other) => anyhow::bail!("stack {stack} ended in {other:?}"),
        }
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(90),
            "stack {stack} not created in 90 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the service binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Where each service listens.
#[derive(Clone, Debug)]
pub struct Ports {
    pub sales: u16,
    pub factory: u16,
    pub stock_worker: u16,
    pub stock_inc_worker: u16,
}

impl Ports {
    /// Four distinct free ports: all four are bound before any is released (one port bound
    /// and released at a time can come back twice, and a service then answered on
    /// another's port).
    pub fn free() -> anyhow::Result<Self> {
        let listeners = (0..4)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()?;
        let ports = listeners
            .iter()
            .map(|l| Ok(l.local_addr()?.port()))
            .collect::<std::io::Result<Vec<u16>>>()?;
        Ok(Self {
            sales: ports[0],
            factory: ports[1],
            stock_worker: ports[2],
            stock_inc_worker: ports[3],
        })
    }

    pub fn of(&self, service: &str) -> u16 {
        match service {
            "sales" => self.sales,
            "factory" => self.factory,
            "stock-worker" => self.stock_worker,
            _ => self.stock_inc_worker,
        }
    }
}

/// Settings shared by every service process of this run.
#[derive(Clone, Debug)]
pub struct Config {
    pub bin_dir: PathBuf,
    pub log_dir: PathBuf,
    pub mysql_url: String,
    pub aws_endpoint: String,
    pub prefix: String,
    pub warehouse_db: String,
    pub factory_db: String,
    pub ports: Ports,
    /// Extra variables for every service (`--env`), then per service (`--sales-env`).
    pub env: Vec<(String, String)>,
    pub sales_env: Vec<(String, String)>,
}

struct Proc {
    child: Child,
    pid: u32,
}

/// The four service processes.
pub struct Services {
    config: Config,
    procs: BTreeMap<&'static str, Proc>,
}

impl Services {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.log_dir)?;
        let mut services = Self {
            config,
            procs: BTreeMap::new(),
        };
        for name in SERVICES {
            services.spawn(name, &[])?;
        }
        for name in SERVICES {
            services.wait_ready(name).await?;
        }
        Ok(services)
    }

    fn spawn(&mut self, name: &'static str, extra: &[(String, String)]) -> anyhow::Result<()> {
        let c = &self.config;
        let binary = c.bin_dir.join(name);
        anyhow::ensure!(
            binary.exists(),
            "{} not built (cargo build --release --bins)",
            binary.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(c.log_dir.join(format!("{name}.log")))?;
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("MYSQL_URL", &c.mysql_url)
            .env("WAREHOUSE_DB", &c.warehouse_db)
            .env("FACTORY_DB", &c.factory_db)
            .env("AWS_ENDPOINT_URL", &c.aws_endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("STOCKFLOW_PREFIX", &c.prefix)
            .env("BIND_HOST", "127.0.0.1")
            .env("SALES_PORT", c.ports.sales.to_string())
            .env("FACTORY_PORT", c.ports.factory.to_string())
            .env("STOCK_WORKER_PORT", c.ports.stock_worker.to_string())
            .env("STOCK_INC_WORKER_PORT", c.ports.stock_inc_worker.to_string())
            .env("FACTORY_URL", format!("http://127.0.0.1:{}", c.ports.factory))
            .env("FACTORY_PRODUCTION_SECONDS", "0");
        for (k, v) in &c.env {
            command.env(k, v);
        }
        if name == "sales" {
            for (k, v) in &c.sales_env {
                command.env(k, v);
            }
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("no pid")?;
        self.procs.insert(name, Proc { child, pid });
        Ok(())
    }

    async fn wait_ready(&mut self, name: &'static str) -> anyhow::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.config.ports.of(name)));
        let mut http = HttpClient::new(addr);
        let start = Instant::now();
        loop {
            if http.get("/ready").await == Outcome::Sold {
                return Ok(());
            }
            if let Some(p) = self.procs.get_mut(name)
                && let Ok(Some(status)) = p.child.try_wait()
            {
                anyhow::bail!(
                    "{name} exited ({status}) during start; see {}",
                    self.config.log_dir.join(format!("{name}.log")).display()
                );
            }
            anyhow::ensure!(
                start.elapsed() < Duration::from_secs(90),
                "{name} not ready within 90 s (http://{addr}/ready)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Restarts one service with `extra` variables on top (the knob sweep; the factory's
    /// production time during the hot phase).
    pub async fn restart(&mut self, name: &'static str, extra: &[(String, String)]) -> anyhow::Result<()> {
        if let Some(p) = self.procs.remove(name) {
            terminate(p).await;
        }
        self.spawn(name, extra)?;
        self.wait_ready(name).await
    }

    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.procs.iter().map(|(name, p)| (*name, p.pid)).collect()
    }

    /// SIGTERM to each process this run started (by pid), SIGKILL after 25 s.
    pub async fn stop(mut self) {
        let procs = std::mem::take(&mut self.procs);
        futures::future::join_all(procs.into_values().map(terminate)).await;
    }

    pub fn log_dir(&self) -> &Path {
        &self.config.log_dir
    }
}

async fn terminate(mut p: Proc) {
    let _ = Command::new("kill").args(["-TERM", &p.pid.to_string()]).status().await;
    if tokio::time::timeout(Duration::from_secs(25), p.child.wait())
        .await
        .is_err()
    {
        let _ = p.child.kill().await;
    }
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// User + system CPU time of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0) // USER_HZ is 100 on Linux
}

/// The MariaDB/MySQL server's pid, to report its CPU share (read only).
pub fn database_pid() -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            && matches!(comm.trim(), "mariadbd" | "mysqld")
        {
            return Some(pid);
        }
    }
    None
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU seconds of a set of processes at the start of a phase.
pub struct CpuMeter {
    start: Instant,
    before: Vec<(String, u32, f64)>,
}

impl CpuMeter {
    pub fn start(procs: &[(String, u32)]) -> Self {
        Self {
            start: Instant::now(),
            before: procs
                .iter()
                .map(|(n, pid)| (n.clone(), *pid, cpu_seconds(*pid).unwrap_or_default()))
                .collect(),
        }
    }

    /// Each process's CPU use over the phase, in cores (1.0 = one core busy).
    pub fn stop(&self) -> Vec<(String, f64)> {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        self.before
            .iter()
            .map(|(n, pid, before)| (n.clone(), (cpu_seconds(*pid).unwrap_or(*before) - before) / wall))
            .collect()
    }
}

/// Samples the RSS of the services every 200 ms until stopped; keeps each maximum.
pub struct RssSampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<BTreeMap<&'static str, u64>>,
}

impl RssSampler {
    pub fn start(pids: Vec<(&'static str, u32)>) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut max: BTreeMap<&'static str, u64> = BTreeMap::new();
            loop {
                for (name, pid) in &pids {
                    if let Some((rss, _)) = memory_kib(*pid) {
                        let m = max.entry(name).or_default();
                        *m = (*m).max(rss);
                    }
                }
                tokio::select! {
                    _ = stopped.changed() => return max,
                    _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                }
            }
        });
        Self { stop, task }
    }

    pub async fn stop(self) -> BTreeMap<&'static str, u64> {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
