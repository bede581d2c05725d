//! The system under test: a private copy of the AWS topology (the CloudFormation
//! template deployed with a unique prefix), private databases, and the four release
//! binaries as processes (started by `stockflow-devstack`, as `scripts/up` and the tests
//! start them), whose memory is read from /proc (their CPU: `scenarios/metering.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use stockflow_devstack::process::{Launcher, Stack};
use stockflow_devstack::service::{Ports, Service};

/// The services' names, in start order.
pub fn service_names() -> [&'static str; 4] {
    Service::ALL.map(Service::name)
}

/// A free TCP port on 127.0.0.1 (bound and released; the service binds it right after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
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

/// The four service processes, one of each.
pub struct Services {
    stack: Stack,
}

impl Services {
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let mut env: Vec<(String, String)> = [
            ("MYSQL_URL", config.mysql_url.as_str()),
            ("WAREHOUSE_DB", &config.warehouse_db),
            ("FACTORY_DB", &config.factory_db),
            ("AWS_ENDPOINT_URL", &config.aws_endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("STOCKFLOW_PREFIX", &config.prefix),
            ("BIND_HOST", "127.0.0.1"),
            ("FACTORY_PRODUCTION_SECONDS", "0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(config.env);
        let launcher = Launcher {
            bin_dir: config.bin_dir,
            run_dir: config.log_dir,
            ports: config.ports,
            env,
            service_env: BTreeMap::from([(Service::Sales, config.sales_env)]),
            inherit_env: false,
            kill_on_drop: true,
            ready_timeout: Duration::from_secs(90),
        };
        Ok(Self {
            stack: Stack::start(launcher, 1).await?,
        })
    }

    /// Restarts one service with `extra` variables on top (the knob sweep; the factory's
    /// production time during the hot phase).
    pub async fn restart(&mut self, name: &'static str, extra: &[(String, String)]) -> anyhow::Result<()> {
        let service = Service::from_name(name).ok_or_else(|| anyhow::anyhow!("no service {name}"))?;
        self.stack.restart(service, 0, extra).await
    }

    /// The service processes running now, by name.
    pub fn pids(&self) -> Vec<Process> {
        self.stack
            .pids()
            .into_iter()
            .map(|(name, pid)| Process { name, pid })
            .collect()
    }

    /// SIGTERM to each process this run started (by pid), SIGKILL after 25 s.
    pub async fn stop(self) {
        if let Err(err) = self.stack.stop(Duration::from_secs(25)).await {
            eprintln!("{err:#}");
        }
    }

    pub fn log_dir(&self) -> &Path {
        &self.stack.launcher.run_dir
    }
}

/// A process the bench watches: a service, the bench itself, the database server.
#[derive(Clone, Copy, Debug)]
pub struct Process {
    pub name: &'static str,
    pub pid: u32,
}

/// A process's resident memory, KiB.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak so far.
    pub hwm_kib: u64,
    /// `RssAnon`: of the resident now, the process's own memory (heap, stacks).
    pub anon_kib: u64,
    /// `RssFile`: of the resident now, pages of mapped files (above all the binary's own
    /// code), clean: the kernel may drop them and read them again.
    pub file_kib: u64,
}

/// `VmRSS`, `VmHWM`, `RssAnon` and `RssFile` of a process.
pub fn memory_kib(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
        anon_kib: field("RssAnon:")?,
        file_kib: field("RssFile:")?,
    })
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

/// Samples the RSS of the services every 200 ms until stopped; keeps each maximum.
pub struct RssSampler {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<BTreeMap<&'static str, u64>>,
}

impl RssSampler {
    pub fn start(processes: Vec<Process>) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut max: BTreeMap<&'static str, u64> = BTreeMap::new();
            loop {
                for process in &processes {
                    if let Some(memory) = memory_kib(process.pid) {
                        let m = max.entry(process.name).or_default();
                        *m = (*m).max(memory.rss_kib);
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
