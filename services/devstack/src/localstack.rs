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
use sha2::{Digest, Sha256};

use crate::pidfile;
use crate::ports::port_free;
use crate::private::{Instance, private_dir, process_state};
use crate::process::tail;

/// The repository's `localstack/` folder (requirements, ready hook and template).
const LOCALSTACK_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../localstack");
/// The LocalStack version `localstack/requirements.txt` pins.
pub const VERSION: &str = "4.13.1";
/// Its command line, also how a recorded pid is recognised.
const MAIN_MODULE: &str = "localstack.runtime.main";

fn say(line: impl std::fmt::Display) {
    eprintln!("[localstack] {line}");
}

/// `http://127.0.0.1:<port>`.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

fn cache_dir() -> PathBuf {
    std::env::var_os("STOCKFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/stockflow"))
}

/// `$STOCKFLOW_CACHE/localstack-4.13.1-venv` (default cache `~/.cache/stockflow`).
pub fn venv_dir() -> PathBuf {
    cache_dir().join(format!("localstack-{VERSION}-venv"))
}

/// Creates the venv (python3.11, else python3 >= 3.10) and installs
/// `localstack/requirements.txt`, unless the recorded sha256 of that file matches (the
/// marker `scripts/lib/venv.sh` writes for its venvs too).
pub fn ensure_venv() -> anyhow::Result<()> {
    let venv = venv_dir();
    let requirements = Path::new(LOCALSTACK_DIR).join("requirements.txt");
    let want = format!("{:x}", Sha256::digest(std::fs::read(&requirements)?));
    let marker = venv.join(".stockflow-requirements.sha256");
    let have = std::fs::read_to_string(&marker).unwrap_or_default();
    if venv.join("bin/python").exists() && have.trim() == want {
        say(format_args!("venv ready (cached): {}", venv.display()));
        return Ok(());
    }
    let python = ["python3.11", "python3"]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .context("python3.11 (or python3 >= 3.10) not found")?;
    let log_path = PathBuf::from(format!("{}-install.log", venv.display()));
    std::fs::create_dir_all(venv.parent().context("venv without parent")?)?;
    let _ = std::fs::remove_dir_all(&venv);
    let log = std::fs::File::create(&log_path)?;
    let start = Instant::now();
    say(format_args!(
        "creating venv with {python}, pip install -r {} (log: {})",
        requirements.display(),
        log_path.display()
    ));
    let venv_python = venv.join("bin/python");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let steps: [(&str, Command); 3] = [
        (
            "venv creation",
            command_with(Path::new(python), &["-m", "venv"], Some(&venv)),
        ),
        ("pip install", {
            let mut pip = command_with(
                &venv_python,
                &[
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-r",
                ],
                Some(&requirements),
            );
            pip.env("PATH", &path);
            pip
        }),
        (
            "the import check",
            command_with(&venv_python, &["-c", "import localstack.runtime.main"], None),
        ),
    ];
    for (what, mut step) in steps {
        let ok = step
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .status()
            .is_ok_and(|s| s.success());
        anyhow::ensure!(
            ok,
            "{what} failed; last lines of {}:\n{}",
            log_path.display(),
            tail(&log_path, 30)
        );
    }
    std::fs::write(&marker, format!("{want}\n"))?;
    say(format_args!("venv installed in {} s", start.elapsed().as_secs()));
    Ok(())
}

fn command_with(program: &Path, args: &[&str], last: Option<&Path>) -> Command {
    let mut command = Command::new(program);
    command.args(args).args(last).stdin(Stdio::null());
    command
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
struct Launch<'a> {
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
        let venv = venv_dir();
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
enum Hooks {
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
async fn wait_ready(
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

/// Runs the (idempotent) ready hook against the LocalStack on `port`: about 1 s when
/// the stack is up to date. Its output goes to stderr.
pub fn deploy(port: u16) -> anyhow::Result<()> {
    let dir = Path::new(LOCALSTACK_DIR);
    let path = format!(
        "{}:{}",
        venv_dir().join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("bash")
        .arg(dir.join("init/ready.d/10-deploy-stockflow.sh"))
        .env("PATH", path)
        .env("STOCKFLOW_TEMPLATE", dir.join("stockflow.yaml"))
        .env("STOCKFLOW_AWS_ENDPOINT", endpoint(port))
        .stdin(Stdio::null())
        .stdout(std::io::stderr())
        .status()
        .context("cannot run bash")?;
    anyhow::ensure!(status.success(), "deploying the stockflow stack failed ({status})");
    Ok(())
}

/// The shared LocalStack of a run dir.
pub struct Shared {
    pub run_dir: PathBuf,
}

impl Shared {
    fn file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }

    fn recorded_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.file("localstack.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn forget(&self) {
        for name in ["localstack.pid", "localstack.started-by-us", "localstack.port"] {
            let _ = std::fs::remove_file(self.file(name));
        }
    }

    /// Starts LocalStack on `port` (or reuses what answers there, unless `own`) and
    /// returns once the stockflow stack is deployed. On a LocalStack it did not start
    /// just now it runs the hook itself (it may have been others', or changed since).
    pub async fn start(
        &self,
        port: u16,
        own: bool,
        env: Vec<(String, String)>,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.run_dir)?;
        let started = Instant::now();
        let log = self.file("localstack.log");
        let ours = self
            .recorded_pid()
            .filter(|pid| is_localstack(*pid) && self.file("localstack.started-by-us").exists());
        let pid = if let Some(pid) = ours {
            say(format_args!(
                "LocalStack pid {pid} (from {}) is running: reusing it",
                self.run_dir.display()
            ));
            Some(pid)
        } else if !port_free(port) {
            anyhow::ensure!(!own, "port {port} is taken: choose a free one");
            say(format_args!(
                "something answers on 127.0.0.1:{port} (not started from here): reusing it"
            ));
            None
        } else {
            let launch = Launch {
                port,
                dir: &self.run_dir,
                fs: self.file("localstack-fs"),
                log: &log,
                inherit_env: true,
                env,
            };
            std::fs::write(&log, "")?;
            say(format_args!(
                "starting LocalStack {VERSION} on 127.0.0.1:{port} (log: {})",
                log.display()
            ));
            let child = launch.command()?.spawn().context("cannot start LocalStack")?;
            std::fs::write(self.file("localstack.pid"), format!("{}\n", child.id()))?;
            std::fs::write(self.file("localstack.port"), format!("{port}\n"))?;
            std::fs::write(self.file("localstack.started-by-us"), "")?;
            Some(child.id())
        };
        let started_now = pid.is_some() && ours.is_none();
        let alive = || pid.is_none_or(|pid| !matches!(process_state(pid), 'Z' | '?'));
        let hooks = match wait_ready(port, timeout, &log, alive).await {
            Ok(Hooks::Failed(body)) if started_now => Err(anyhow::anyhow!(
                "LocalStack's ready hook failed: {body}\n{}",
                tail(&log, 30)
            )),
            other => other,
        };
        match hooks {
            Err(err) => {
                if started_now {
                    self.stop(Duration::from_secs(10)).await.ok();
                }
                return Err(err);
            }
            Ok(_) if started_now => {}
            Ok(state) => {
                say(format_args!(
                    "checking the stockflow stack on the reused LocalStack (hooks: {state:?})"
                ));
                deploy(port)?;
            }
        }
        say(format_args!(
            "ready at {} after {:.1} s{}",
            endpoint(port),
            started.elapsed().as_secs_f64(),
            pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
        ));
        Ok(())
    }

    /// Stops the LocalStack started from this run dir (only a recorded pid still running
    /// LocalStack): SIGTERM to its group, SIGKILL after `grace` (it may ignore SIGTERM;
    /// its SIGKILL loses nothing of ours). One it did not start is left running.
    pub async fn stop(&self, grace: Duration) -> anyhow::Result<()> {
        let started_here = self.file("localstack.started-by-us").exists();
        match self.recorded_pid() {
            None => say(format_args!(
                "no LocalStack pid recorded in {}: nothing to stop",
                self.run_dir.display()
            )),
            Some(pid) if !started_here => say(format_args!(
                "LocalStack pid {pid} was not started from here: left running"
            )),
            Some(pid) if !is_localstack(pid) => {
                say(format_args!("pid {pid} is not a running LocalStack: nothing to stop"))
            }
            Some(pid) => {
                say(format_args!("stopping LocalStack (pid {pid}) ..."));
                if pidfile::stop(pid, MAIN_MODULE, grace).await? {
                    say(format_args!("it was still running after {grace:?}: killed"));
                }
                say("stopped");
            }
        }
        self.forget();
        Ok(())
    }
}

/// `pid` lives (not a zombie) and runs LocalStack.
fn is_localstack(pid: u32) -> bool {
    pidfile::runs(pid, MAIN_MODULE)
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
