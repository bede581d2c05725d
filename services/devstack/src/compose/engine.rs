//! The Docker tools and engine: Debian's `docker.io` and `docker-compose` installed with apt
//! when missing; the engine that answers (`DOCKER_HOST`, else /var/run/docker.sock) used as
//! it is, else (root only) a `dockerd` of the suite's own: data root
//! `$STOCKFLOW_CACHE/docker/data` (kept, so the next run's build is warm), exec root, socket,
//! pid files and log in `<dir>`, started under `nice`, and stopped by its recorded pid only.
//!
//! `STOCKFLOW_DOCKERD_ARGS` replaces `--storage-driver=vfs --iptables=false --ip-masq=false`
//! (what works where no other driver does: a VM or container without overlayfs);
//! `STOCKFLOW_DOCKER_NICE` (default 10) is its niceness.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use tokio::process::Command;

use super::cmd::{self, Out, is_executable, is_root, on_path};
use crate::pidfile;

/// The Debian docker client: /usr/bin/docker (a newer client elsewhere on PATH may not speak
/// to the 20.10 engine Debian installs); any docker when no Debian one is installed.
const DEBIAN_DOCKER: &str = "/usr/bin/docker";

/// How long a dockerd of our own may take to answer.
const DOCKERD_START: Duration = Duration::from_secs(60);
/// How long it may take to stop on SIGTERM before it is killed.
const DOCKERD_GRACE: Duration = Duration::from_secs(30);

/// The docker client and the engine it talks to.
#[derive(Clone, Debug)]
pub struct Docker {
    pub client: PathBuf,
    /// `DOCKER_HOST` for every docker and compose command; `None`: the caller's environment's.
    pub host: Option<String>,
}

impl Docker {
    pub fn detect() -> Self {
        let debian = Path::new(DEBIAN_DOCKER);
        Self {
            client: if is_executable(debian) {
                debian.to_path_buf()
            } else {
                PathBuf::from("docker")
            },
            host: None,
        }
    }

    /// Whether the client is Debian's (docker-compose v1 then gets /usr/bin first on PATH).
    pub fn is_debian(&self) -> bool {
        self.client == Path::new(DEBIAN_DOCKER)
    }

    /// Points `command` at this engine.
    pub fn target(&self, command: &mut Command) {
        if let Some(host) = &self.host {
            command.env("DOCKER_HOST", host);
        }
    }

    /// `docker <args>`.
    pub fn command<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        let mut command = Command::new(&self.client);
        command.args(args);
        self.target(&mut command);
        command
    }

    pub async fn answers(&self) -> bool {
        cmd::succeeds(&mut self.command(["info"])).await
    }

    /// The engine's version, `?` when it does not say.
    pub async fn server_version(&self) -> String {
        cmd::capture(&mut self.command(["version", "--format", "{{.Server.Version}}"]))
            .await
            .unwrap_or_else(|_| "?".into())
    }

    /// Whether `image` is present in the engine.
    pub async fn has_image(&self, image: &str) -> bool {
        cmd::succeeds(&mut self.command(["image", "inspect", image])).await
    }

    pub async fn pull(&self, image: &str) -> bool {
        cmd::succeeds(&mut self.command(["pull", "-q", image])).await
    }
}

/// `apt-get install` of Debian packages (through sudo unless root), its output to stderr.
pub async fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    Out::Stderr.say(format_args!("apt-get install {}", packages.join(" ")));
    let apt = |args: &[&str]| {
        let mut command = if is_root() {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    let installed = async {
        cmd::run(&mut apt(&["update", "-qq"]), Out::Stderr).await?;
        let mut install = apt(&["install", "-y", "-qq", "--no-install-recommends"]);
        cmd::run(install.args(packages), Out::Stderr).await
    };
    installed.await.with_context(|| {
        format!(
            "could not install {} (Debian packages; install them by hand)",
            packages.join(" ")
        )
    })
}

/// docker (docker.io) and docker-compose, installed when missing.
pub async fn ensure_tools(docker: &Docker) -> anyhow::Result<()> {
    let mut want = Vec::new();
    if !docker.is_debian() && on_path("dockerd").is_none() {
        want.push("docker.io");
    }
    if on_path("docker-compose").is_none() && !cmd::succeeds(&mut docker.command(["compose", "version"])).await {
        want.push("docker-compose");
    }
    if want.is_empty() {
        return Ok(());
    }
    apt_install(&want).await
}

/// How to start a dockerd of our own.
#[derive(Clone, Debug)]
pub struct DockerdSettings {
    /// Storage and network flags (`STOCKFLOW_DOCKERD_ARGS`), split on whitespace.
    pub args: String,
    /// `nice -n` (`STOCKFLOW_DOCKER_NICE`).
    pub nice: i32,
    /// Its data root, kept between runs.
    pub data_root: PathBuf,
}

/// A dockerd this suite started: only this pid is ever stopped.
#[derive(Debug)]
pub struct Dockerd {
    pub pid: u32,
    pub log: PathBuf,
    child: std::process::Child,
}

impl Dockerd {
    /// SIGTERM to its process group, SIGKILL after 30 s; never fails the caller.
    pub async fn stop(mut self) {
        Out::Stderr.say(format_args!("stopping the dockerd we started (pid {})", self.pid));
        match pidfile::stop(self.pid, "dockerd", DOCKERD_GRACE).await {
            Ok(true) => Out::Stderr.say(format_args!(
                "dockerd (pid {}) still ran after {DOCKERD_GRACE:?}: killed",
                self.pid
            )),
            Ok(false) => {}
            Err(err) => Out::Stderr.say(format_args!("ERROR: stopping dockerd (pid {}): {err:#}", self.pid)),
        }
        let _ = self.child.try_wait();
    }
}

/// Uses the engine that answers, or starts a dockerd of our own (files in `dir`). With
/// `started`, the dockerd is recorded before it is awaited, so that an interrupted start
/// still stops it.
pub async fn up(dir: &Path, settings: &DockerdSettings, started: &mut Option<Dockerd>) -> anyhow::Result<Docker> {
    let mut docker = Docker::detect();
    if docker.answers().await {
        let host = std::env::var("DOCKER_HOST").unwrap_or_else(|_| "/var/run/docker.sock".into());
        Out::Stderr.say(format_args!(
            "using the Docker engine that answers ({}, {host})",
            docker.server_version().await
        ));
        return Ok(docker);
    }
    anyhow::ensure!(
        on_path("dockerd").is_some(),
        "no Docker engine answers and dockerd is not installed (apt-get install docker.io)"
    );
    anyhow::ensure!(
        is_root(),
        "no Docker engine answers; start one (a dockerd of our own needs root)"
    );
    std::fs::create_dir_all(dir.join("exec")).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    docker.host = Some(format!("unix://{}", dir.join("docker.sock").display()));
    let dockerd = started.insert(spawn_dockerd(&dir, settings, &docker)?);
    let answered = crate::poll::within(
        "dockerd to answer",
        DOCKERD_START,
        Duration::from_millis(500),
        || async {
            if docker.answers().await {
                Ok(true)
            } else if pidfile::runs(dockerd.pid, "dockerd") {
                Err("no answer yet")
            } else {
                Ok(false)
            }
        },
    )
    .await;
    let problem = match answered {
        Ok(seen) if seen.value => None,
        Ok(_) => Some(format!("dockerd (pid {}) exited", dockerd.pid)),
        Err(_) => Some(format!("dockerd did not answer within {DOCKERD_START:?}")),
    };
    if let Some(problem) = problem {
        return Err(cmd::with_tail(&anyhow::anyhow!(problem), &dockerd.log, 20));
    }
    Out::Stderr.say(format_args!(
        "dockerd {} up (pid {})",
        docker.server_version().await,
        dockerd.pid
    ));
    Ok(docker)
}

/// `nice -n N dockerd <args> --data-root ... -H unix://<dir>/docker.sock` in a process group
/// of its own (a Ctrl-C of the caller does not reach it before we stop it); its pid in
/// `<dir>/dockerd.launch.pid` (nice execs dockerd: the same pid).
fn spawn_dockerd(dir: &Path, settings: &DockerdSettings, docker: &Docker) -> anyhow::Result<Dockerd> {
    std::fs::create_dir_all(&settings.data_root)
        .with_context(|| format!("cannot create {}", settings.data_root.display()))?;
    let log = dir.join("dockerd.log");
    let host = docker.host.as_deref().unwrap_or_default();
    Out::Stderr.say(format_args!(
        "no Docker engine answers: starting dockerd (data root {}, socket {}, log {})",
        settings.data_root.display(),
        host.trim_start_matches("unix://"),
        log.display()
    ));
    let file = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut command = std::process::Command::new("nice");
    command
        .args(["-n", &settings.nice.to_string(), "dockerd"])
        .args(settings.args.split_whitespace())
        .arg("--data-root")
        .arg(&settings.data_root)
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .args(["-H", host])
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let child = command.spawn().context("cannot start nice dockerd")?;
    let pid = child.id();
    std::fs::write(dir.join("dockerd.launch.pid"), format!("{pid}\n"))?;
    Ok(Dockerd { pid, log, child })
}
