//! LocalStack without Docker, written once: the cached venv of LocalStack 4.13.1, its
//! environment, the staging of the ready hook and the template, and the readiness poll.
//! Two kinds of instance use them: the shared one of a run dir (`scripts/up`, the bench,
//! `stockflow-devstack localstack start|stop`: a detached process, its pid recorded) and
//! [`PrivateLocalstack`], a test's own (a child killed with its handle).
//!
//! Files of a shared instance in its run dir: `localstack.pid`, `localstack.log`,
//! `localstack.started-by-us` (only one started there is ever stopped), `localstack.port`
//! and `localstack-fs/` (its `FILESYSTEM_ROOT`, where the hook and template are staged).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::private::{Instance, private_dir};
use crate::process::tail;
use crate::venv::Venv;

mod run_dir;

pub use run_dir::{LocalstackPort, Shared};

/// LocalStack's cached venv, `$STOCKFLOW_CACHE/localstack-4.13.1-venv`.
pub fn venv() -> Venv {
    Venv::new(
        &format!("localstack-{VERSION}-venv"),
        Path::new(LOCALSTACK_DIR).join("requirements.txt"),
        "localstack",
    )
}

/// Installs LocalStack in its venv (nothing when it is current).
pub fn ensure_venv() -> anyhow::Result<()> {
    venv().ensure(&["python", "-c", "import localstack.runtime.main"])
}

/// The repository's `localstack/` folder (requirements, ready hook and template).
pub(crate) const LOCALSTACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../localstack");
/// The LocalStack version `localstack/requirements.txt` pins.
pub const VERSION: &str = "4.13.1";
/// Its command line, also how a recorded pid is recognised.
pub(crate) const MAIN_MODULE: &str = "localstack.runtime.main";

pub(crate) fn say(line: impl std::fmt::Display) {
    eprintln!("[localstack] {line}");
}

/// `http://127.0.0.1:<port>`.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// Copies the ready hook and the template where LocalStack reads them under
/// `FILESYSTEM_ROOT` (`fs`): `etc/localstack/init/ready.d/` and `etc/localstack/stockflow.yaml`.
fn stage(fs: &Path) -> anyhow::Result<()> {
    let hooks = fs.join("etc/localstack/init/ready.d");
    let _ = std::fs::remove_dir_all(&hooks);
    std::fs::create_dir_all(&hooks)?;
    let source = Path::new(LOCALSTACK_DIR);
    for entry in std::fs::read_dir(source.join("init/ready.d"))? {
        let entry = entry?;
        std::fs::copy(entry.path(), hooks.join(entry.file_name()))?;
    }
    std::fs::copy(source.join("stockflow.yaml"), fs.join("etc/localstack/stockflow.yaml"))?;
    Ok(())
}

/// How one LocalStack process is started.
pub(crate) struct Launch<'a> {
    port: u16,
    /// Its working directory.
    dir: &'a Path,
    /// Its `FILESYSTEM_ROOT`, where the hook and the template are staged.
    fs: PathBuf,
    log: &'a Path,
    /// Keep the caller's environment (a developer's `STOCKFLOW_PREFIX` reaches the hook)
    /// or start from `PATH` and `HOME` only (a test's own instance).
    inherit_env: bool,
    /// The hook's settings and the like, on top.
    env: Vec<(String, String)>,
}

impl Launch<'_> {
    /// The command, its environment in this one place; started in a process group of its own.
    fn command(&self) -> anyhow::Result<Command> {
        let venv = venv().dir;
        let python = venv.join("bin/python");
        anyhow::ensure!(
            python.exists(),
            "no LocalStack venv at {} (stockflow-devstack localstack venv installs it)",
            venv.display()
        );
        let fs = &self.fs;
        stage(fs)?;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log)?;
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|_| self.inherit_env)
                .unwrap_or_else(|| default.to_string())
        };
        let mut command = Command::new(python);
        if !self.inherit_env {
            command
                .env_clear()
                .env("HOME", std::env::var("HOME").unwrap_or_default());
        }
        // A run of `scripts/up` may come from a shell pointed at another endpoint.
        for name in ["AWS_ENDPOINT_URL", "AWS_PROFILE", "STOCKFLOW_TEMPLATE"] {
            command.env_remove(name);
        }
        command
            .args(["-m", MAIN_MODULE])
            .current_dir(self.dir)
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    venv.join("bin").display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("LOCALSTACK_HOST", format!("127.0.0.1:{}", self.port))
            .env("SERVICES", "sns,sqs,cloudwatch,cloudformation,sts")
            .env("SQS_ENDPOINT_STRATEGY", "path")
            .env("FILESYSTEM_ROOT", fs)
            // LocalStack ignores FILESYSTEM_ROOT when it believes it runs in a container
            // (this machine may be one: /.dockerenv).
            .env("OVERRIDE_IN_DOCKER", "0")
            .env("DEBUG", "0")
            .env("DNS_ADDRESS", "0") // no DNS server (it would want port 53)
            .env("SKIP_SSL_CERT_DOWNLOAD", "1") // no network here
            .env("DISABLE_EVENTS", "1") // no analytics calls
            .env("LOCALSTACK_TELEMETRY_DISABLED", "1")
            .env("AWS_ACCESS_KEY_ID", var("AWS_ACCESS_KEY_ID", "test"))
            .env("AWS_SECRET_ACCESS_KEY", var("AWS_SECRET_ACCESS_KEY", "test"))
            .env("AWS_DEFAULT_REGION", var("AWS_DEFAULT_REGION", "us-east-1"))
            // The hook then uses the venv's `aws --endpoint-url` even if some awslocal is on PATH.
            .env("STOCKFLOW_AWS_ENDPOINT", endpoint(self.port))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        Ok(command)
    }
}

/// What `/_localstack/init/ready` says of the READY-stage hooks.
#[derive(Debug, PartialEq)]
pub(crate) enum Hooks {
    /// Not answering yet, or still running them.
    Running,
    Done,
    /// Completed with no hook (a LocalStack not started with ours).
    None,
    Failed(String),
}

async fn hooks(http: &reqwest::Client, port: u16) -> Hooks {
    let Ok(response) = http
        .get(format!("{}/_localstack/init/ready", endpoint(port)))
        .send()
        .await
    else {
        return Hooks::Running;
    };
    let Ok(body) = response.json::<serde_json::Value>().await else {
        return Hooks::Running;
    };
    let scripts = body["scripts"].as_array().cloned().unwrap_or_default();
    if scripts.iter().any(|s| s["state"] == "ERROR" || s["state"] == "FAILED") {
        Hooks::Failed(body.to_string())
    } else if body["completed"] != true {
        Hooks::Running
    } else if scripts.is_empty() {
        Hooks::None
    } else {
        Hooks::Done
    }
}

/// Polls until the hooks are done, none ran or one failed; fails if `alive` says the
/// process exited or `timeout` passed, with the log's end.
pub(crate) async fn wait_ready(
    port: u16,
    timeout: Duration,
    log: &Path,
    mut alive: impl FnMut() -> bool,
) -> anyhow::Result<Hooks> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(2)).build()?;
    let start = Instant::now();
    loop {
        match hooks(&http, port).await {
            Hooks::Running => {}
            other => return Ok(other),
        }
        anyhow::ensure!(alive(), "LocalStack exited during start:\n{}", tail(log, 30));
        anyhow::ensure!(
            start.elapsed() < timeout,
            "LocalStack not ready with its topology after {timeout:?}:\n{}",
            tail(log, 30)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Runs the (idempotent) ready hook against the LocalStack at `endpoint`, with `env` on
/// top of this process's (`STOCKFLOW_PREFIX`, `STOCKFLOW_STACK_SUFFIX`, …): about 1 s when
/// the stack is up to date. Its output goes to stderr.
pub fn deploy(endpoint: &str, env: &[(String, String)]) -> anyhow::Result<()> {
    let dir = Path::new(LOCALSTACK_DIR);
    let path = format!(
        "{}:{}",
        venv().dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("bash")
        .arg(dir.join("init/ready.d/10-deploy-stockflow.sh"))
        .env("PATH", path)
        .env("STOCKFLOW_TEMPLATE", dir.join("stockflow.yaml"))
        .env("STOCKFLOW_AWS_ENDPOINT", endpoint)
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .context("cannot run bash")?;
    anyhow::ensure!(status.success(), "deploying the stockflow stack failed ({status})");
    Ok(())
}

/// A LocalStack of a test's own, on a free port; its ready hook deploys the topology
/// with the given prefix, at every start.
pub struct PrivateLocalstack {
    dir: PathBuf,
    port: u16,
    prefix: String,
    max_receive_count: u32,
    instance: Instance,
}

impl PrivateLocalstack {
    /// Starts LocalStack on a free port and waits until its hook deployed the topology.
    pub async fn start(prefix: &str, max_receive_count: u32) -> anyhow::Result<Self> {
        let dir = private_dir("localstack")?;
        let mut localstack = Self {
            port: crate::ports::free_ports(1)?[0],
            prefix: prefix.to_string(),
            max_receive_count,
            instance: Instance::new(dir.join("localstack.log")),
            dir,
        };
        localstack.launch().await?;
        Ok(localstack)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        endpoint(self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.instance.pid()
    }

    async fn launch(&mut self) -> anyhow::Result<()> {
        let launch = Launch {
            port: self.port,
            dir: &self.dir,
            fs: self.dir.join("fs"),
            log: &self.instance.log,
            inherit_env: false,
            env: vec![
                ("STOCKFLOW_PREFIX".into(), self.prefix.clone()),
                ("STOCKFLOW_MAX_RECEIVE_COUNT".into(), self.max_receive_count.to_string()),
                ("STOCKFLOW_ALARM_PERIOD_SECONDS".into(), "10".into()),
            ],
        };
        let mut command = tokio::process::Command::from(launch.command()?);
        let child = command.kill_on_drop(true).spawn().context("cannot start LocalStack")?;
        self.instance.child = Some(child);
        let instance = &mut self.instance;
        let log = instance.log.clone();
        match wait_ready(self.port, Duration::from_secs(180), &log, || !instance.exited()).await? {
            Hooks::Done => Ok(()),
            Hooks::Failed(body) => anyhow::bail!("LocalStack's ready hook failed: {body}\n{}", tail(&log, 30)),
            other => anyhow::bail!("LocalStack's ready hook did not run ({other:?}):\n{}", tail(&log, 30)),
        }
    }

    /// SIGSTOP: LocalStack still accepts connections (the kernel does) and never answers.
    pub fn freeze(&self) -> anyhow::Result<()> {
        self.instance.signal(libc::SIGSTOP)
    }

    /// SIGCONT after [`Self::freeze`].
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.instance.signal(libc::SIGCONT)
    }

    /// `kill -9`, then a fresh start on the same port: queues and messages are gone (kept
    /// in memory), and the hook deploys the topology again.
    pub async fn restart_empty(&mut self) -> anyhow::Result<()> {
        self.instance.kill_9().await?;
        self.launch().await
    }
}

impl Drop for PrivateLocalstack {
    fn drop(&mut self) {
        self.instance.stop_then_remove(&self.dir);
    }
}
