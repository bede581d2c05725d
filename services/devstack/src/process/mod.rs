//! Service replicas as processes: started in a process group of their own with their
//! output appended to `<run_dir>/<service>-<i>.log` and their pid in
//! `<run_dir>/<service>-<i>.pid` (the binary's path beside it in `.bin`, so that a
//! recycled pid is never signalled); waited for until `/ready` answers; stopped with
//! SIGTERM, then SIGKILL after a grace period.
//!
//! A [`Stack`] is the replicas of every service one caller started (a test, the bench,
//! `stockflow-devstack up`). Only pids recorded here are ever signalled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::{Child, Command};

use crate::service::{Ports, Service};

mod recorded;
mod signals;

pub use recorded::stop_recorded;
pub use signals::{runs_as, signal_group};

/// How to start replicas: which binaries, where their files go, their environment.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// Where the service binaries are (`target/<profile>`).
    pub bin_dir: PathBuf,
    /// Pid and log files.
    pub run_dir: PathBuf,
    pub ports: Ports,
    /// Variables of every service (database, AWS, prefix, pacing), on top of the ports.
    pub env: Vec<(String, String)>,
    /// Variables of one service, applied after `env`.
    pub service_env: BTreeMap<Service, Vec<(String, String)>>,
    /// Keep the caller's environment (`scripts/up`) or start from an empty one but `PATH`
    /// (tests and the bench: nothing of the developer's shell leaks in).
    pub inherit_env: bool,
    /// Stop the process when its handle is dropped (tests), or leave it running (`up`).
    pub kill_on_drop: bool,
    /// How long a replica may take to answer `/ready`.
    pub ready_timeout: Duration,
}

impl Launcher {
    pub fn binary(&self, service: Service) -> PathBuf {
        self.bin_dir.join(service.name())
    }

    fn file(&self, service: Service, index: usize, extension: &str) -> PathBuf {
        self.run_dir.join(format!("{}-{index}.{extension}", service.name()))
    }

    pub fn log_file(&self, service: Service, index: usize) -> PathBuf {
        self.file(service, index, "log")
    }

    /// Starts replica `index` of `service` with `extra` variables on top.
    pub fn spawn(&self, service: Service, index: usize, extra: &[(String, String)]) -> anyhow::Result<Replica> {
        let binary = self.binary(service);
        anyhow::ensure!(
            binary.exists(),
            "{} is not built: run `cargo build --bins` (add --release for the release profile)",
            binary.display()
        );
        std::fs::create_dir_all(&self.run_dir).with_context(|| format!("cannot create {}", self.run_dir.display()))?;
        let log_path = self.log_file(service, index);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let port = self.ports.of(service, index);
        let mut command = Command::new(&binary);
        if !self.inherit_env {
            command
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default());
        }
        // The workers call the factory on its port here, unless told otherwise.
        if !(self.inherit_env && std::env::var_os("FACTORY_URL").is_some()) {
            command.env("FACTORY_URL", format!("http://127.0.0.1:{}", self.ports.factory));
        }
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(
                self.service_env
                    .get(&service)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k, v)),
            )
            .envs(extra.iter().map(|(k, v)| (k, v)))
            .env(service.port_variable(), port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: a Ctrl-C in the caller's terminal does not reach it,
            // and stopping it can take the whole group.
            .process_group(0)
            .kill_on_drop(self.kill_on_drop);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("the new process has no pid")?;
        std::fs::write(self.file(service, index, "pid"), format!("{pid}\n"))?;
        std::fs::write(self.file(service, index, "bin"), format!("{}\n", binary.display()))?;
        Ok(Replica {
            service,
            index,
            port,
            pid,
            child: Some(child),
            binary,
            log: log_path,
            run_dir: self.run_dir.clone(),
        })
    }

    /// The replica recorded in the run dir, if its process still runs as that binary.
    pub fn recorded(&self, service: Service, index: usize) -> Option<Replica> {
        let pid: u32 = std::fs::read_to_string(self.file(service, index, "pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let binary = std::fs::read_to_string(self.file(service, index, "bin"))
            .map(|b| PathBuf::from(b.trim()))
            .unwrap_or_else(|_| self.binary(service));
        runs_as(pid, &binary).then(|| Replica {
            service,
            index,
            port: self.ports.of(service, index),
            pid,
            child: None,
            binary,
            log: self.log_file(service, index),
            run_dir: self.run_dir.clone(),
        })
    }
}

/// One running replica of a service.
#[derive(Debug)]
pub struct Replica {
    pub service: Service,
    pub index: usize,
    pub port: u16,
    pub pid: u32,
    /// Present when this process started it (it can then be reaped).
    child: Option<Child>,
    binary: PathBuf,
    log: PathBuf,
    run_dir: PathBuf,
}

impl Replica {
    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Still running (not exited, not a zombie).
    pub fn is_alive(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => runs_as(self.pid, &self.binary),
        }
    }

    /// Waits until `/ready` answers 200; fails early if the process exits.
    pub async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(3)).build()?;
        let url = format!("{}/ready", self.url());
        let start = Instant::now();
        loop {
            if let Ok(response) = http.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            anyhow::ensure!(
                self.is_alive(),
                "{} replica {} exited during start; last lines of {}:\n{}",
                self.service.name(),
                self.index,
                self.log.display(),
                tail(&self.log, 20)
            );
            anyhow::ensure!(
                start.elapsed() < timeout,
                "{} replica {} not ready at {url} within {timeout:?}; last lines of {}:\n{}",
                self.service.name(),
                self.index,
                self.log.display(),
                tail(&self.log, 20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends `signal` to the replica's process group.
    pub fn signal(&self, signal: i32) -> anyhow::Result<()> {
        signal_group(self.pid, signal)
    }

    /// SIGSTOP: the replica stops where it is and holds what it holds (a hung process).
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`Self::pause`]: the replica carries on where it stopped.
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal(libc::SIGCONT)
    }

    /// `kill -9`: no chance to finish anything. Returns once the process is gone.
    pub async fn kill_9(mut self) -> anyhow::Result<()> {
        self.signal(libc::SIGKILL)?;
        self.reap(Duration::from_secs(10)).await.map(|_| ())
    }

    /// SIGTERM, then SIGKILL after `grace`; the exit status (`None` if this process did
    /// not start it) and whether it had to be killed.
    pub async fn terminate(mut self, grace: Duration) -> anyhow::Result<(Option<ExitStatus>, bool)> {
        if !self.is_alive() {
            return Ok((self.reap(Duration::ZERO).await?, false));
        }
        self.signal(libc::SIGTERM)?;
        match self.reap(grace).await {
            Ok(status) => Ok((status, false)),
            Err(_) => {
                self.signal(libc::SIGKILL)?;
                Ok((self.reap(Duration::from_secs(10)).await?, true))
            }
        }
    }

    /// Waits up to `bound` for the process to exit; its status if it was our child.
    async fn reap(&mut self, bound: Duration) -> anyhow::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + bound;
        let status = loop {
            match &mut self.child {
                Some(child) => {
                    if let Ok(status) = tokio::time::timeout(bound, child.wait()).await {
                        break Some(status?);
                    }
                }
                None if !runs_as(self.pid, &self.binary) => break None,
                None => {}
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} (pid {}) still runs after {bound:?}",
                self.service.name(),
                self.pid
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for extension in ["pid", "bin"] {
            let _ = std::fs::remove_file(self.run_dir.join(format!(
                "{}-{}.{extension}",
                self.service.name(),
                self.index
            )));
        }
        Ok(status)
    }
}

/// The replicas of every service one caller started.
pub struct Stack {
    pub launcher: Launcher,
    replicas: Vec<Replica>,
}

impl Stack {
    /// Starts `replicas` of each service, sales and factory first, each waited for.
    pub async fn start(launcher: Launcher, replicas: usize) -> anyhow::Result<Self> {
        let mut stack = Self {
            launcher,
            replicas: Vec::new(),
        };
        for group in [
            [Service::Sales, Service::Factory],
            [Service::StockWorker, Service::StockIncWorker],
        ] {
            for service in group {
                for index in 0..replicas {
                    let replica = stack.launcher.spawn(service, index, &[])?;
                    stack.replicas.push(replica);
                }
            }
            let timeout = stack.launcher.ready_timeout;
            for replica in stack.replicas.iter_mut().filter(|r| group.contains(&r.service)) {
                replica.wait_ready(timeout).await?;
            }
        }
        Ok(stack)
    }

    pub fn replicas(&self, service: Service) -> impl Iterator<Item = &Replica> {
        self.replicas.iter().filter(move |r| r.service == service)
    }

    pub fn replica(&self, service: Service, index: usize) -> Option<&Replica> {
        self.replicas.iter().find(|r| r.service == service && r.index == index)
    }

    /// Every replica's URL (its own port for a worker, the shared one for sales and factory).
    pub fn url(&self, service: Service, index: usize) -> String {
        format!("http://127.0.0.1:{}", self.launcher.ports.of(service, index))
    }

    fn take(&mut self, service: Service, index: usize) -> Option<Replica> {
        let at = self
            .replicas
            .iter()
            .position(|r| r.service == service && r.index == index)?;
        Some(self.replicas.remove(at))
    }

    /// `kill -9` of one replica; returns once it is gone.
    pub async fn kill_9(&mut self, service: Service, index: usize) -> anyhow::Result<()> {
        match self.take(service, index) {
            Some(replica) => replica.kill_9().await,
            None => anyhow::bail!("{} replica {index} is not running", service.name()),
        }
    }

    /// SIGTERM to one replica (SIGKILL after `grace`); its exit status.
    pub async fn terminate(&mut self, service: Service, index: usize, grace: Duration) -> anyhow::Result<ExitStatus> {
        let replica = self
            .take(service, index)
            .with_context(|| format!("{} replica {index} is not running", service.name()))?;
        let (status, killed) = replica.terminate(grace).await?;
        anyhow::ensure!(
            !killed,
            "{} replica {index} ignored SIGTERM for {grace:?}",
            service.name()
        );
        status.context("not our child")
    }

    /// Starts (again) replica `index` of `service`, stopping it first if it runs, with
    /// `extra` variables; waits until it is ready.
    pub async fn restart(&mut self, service: Service, index: usize, extra: &[(String, String)]) -> anyhow::Result<()> {
        if let Some(old) = self.take(service, index) {
            old.terminate(Duration::from_secs(25)).await?;
        }
        self.launch(service, index, extra).await
    }

    /// Starts replica `index` of `service` (not running now) and waits until it is ready.
    pub async fn launch(&mut self, service: Service, index: usize, extra: &[(String, String)]) -> anyhow::Result<()> {
        let mut replica = self.launcher.spawn(service, index, extra)?;
        replica.wait_ready(self.launcher.ready_timeout).await?;
        self.replicas.push(replica);
        Ok(())
    }

    /// `(service name, pid)` of every replica.
    pub fn pids(&self) -> Vec<(&'static str, u32)> {
        self.replicas.iter().map(|r| (r.service.name(), r.pid)).collect()
    }

    /// SIGTERM to every replica at once, SIGKILL after `grace`; fails naming any replica
    /// that ignored SIGTERM or exited with an error.
    pub async fn stop(mut self, grace: Duration) -> anyhow::Result<()> {
        let replicas = std::mem::take(&mut self.replicas);
        let results = futures::future::join_all(replicas.into_iter().map(|r| async move {
            let name = format!("{} replica {} (pid {})", r.service.name(), r.index, r.pid);
            (name, r.terminate(grace).await)
        }))
        .await;
        let mut problems = Vec::new();
        for (name, result) in results {
            match result {
                Ok((_, true)) => problems.push(format!("{name} ignored SIGTERM for {grace:?}")),
                Ok((Some(status), false)) if !status.success() => problems.push(format!("{name} exited {status}")),
                Ok(_) => {}
                Err(err) => problems.push(format!("{name}: {err:#}")),
            }
        }
        anyhow::ensure!(problems.is_empty(), "stopping the stack: {}", problems.join("; "));
        Ok(())
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
