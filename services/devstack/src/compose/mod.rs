//! `stockflow-devstack compose-suite`: the compose part of `scripts/test`, start to end. It
//! installs docker.io and docker-compose when missing ([`engine`]), uses the Docker engine
//! that answers or starts a dockerd of its own, finds or stands in for the base images
//! ([`images`], [`standins`]), brings the stack up under a project name, image tags and free
//! host ports of its own ([`project`]), runs the README's story ([`story`]), scales the
//! workers to 3, runs the `test` profile (the e2e container), checks the `observability`
//! profile ([`observability`]), and always cleans up after itself: on success, failure and
//! SIGINT/SIGTERM, `down -v` of its project (every profile) and the dockerd it started (by
//! its pid), nothing else; on failure every service's log is kept in `<dir>/services.log`.
//!
//! Progress goes to stderr as `[compose] ...` lines, each step's output to `<dir>/<step>.log`
//! ([`steps`]); stdout carries one line, the summary note ([`note`]), last.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

mod cmd;
pub mod engine;
pub mod http;
pub mod images;
pub mod note;
pub mod observability;
pub mod project;
mod sqs;
pub mod standins;
pub mod steps;
pub mod story;

use cmd::Out;
use engine::{Docker, Dockerd, DockerdSettings};
use project::{Project, ProjectSettings};
use steps::{Failure, Steps, e2e_highlights};

/// The repository: compose.yaml, the Dockerfile, scripts/standins, deploy/.
pub(crate) const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The suite's settings; each has the environment variable `scripts/test` documents.
#[derive(clap::Args, Clone, Debug)]
pub struct Options {
    /// Step logs, the dockerd's files, the stand-ins' logs, services.log.
    #[arg(long, default_value = ".run/test/compose")]
    pub dir: PathBuf,
    /// Compose project name, also the prefix of its image tags.
    #[arg(long, env = "STOCKFLOW_TEST_PROJECT", default_value = "stockflow-test")]
    pub project: String,
    /// "docker compose" (v2) or "docker-compose" (v1); default v2 when the client has it.
    #[arg(long, env = "STOCKFLOW_COMPOSE")]
    pub compose: Option<String>,
    /// "host": image builds on the host's network (always with a dockerd of its own or stand-ins).
    #[arg(long, env = "STOCKFLOW_BUILD_NETWORK")]
    pub build_network: Option<String>,
    /// A dockerd of its own: its storage and network flags.
    #[arg(
        long,
        env = "STOCKFLOW_DOCKERD_ARGS",
        default_value = "--storage-driver=vfs --iptables=false --ip-masq=false"
    )]
    pub dockerd_args: String,
    /// A dockerd of its own runs under `nice -n` this.
    #[arg(
        long,
        env = "STOCKFLOW_DOCKER_NICE",
        default_value_t = 10,
        allow_negative_numbers = true
    )]
    pub docker_nice: i32,
}

/// How the suite ended: the note and the exit code (0 passed, 1 failed, 130/143 interrupted).
pub struct Outcome {
    pub note: String,
    pub code: u8,
}

/// Runs the suite and cleans up after it, whatever happens.
pub async fn run(options: Options) -> Outcome {
    let mut suite = Suite {
        root: PathBuf::from(ROOT),
        steps: Steps::new(&options.dir),
        options,
        dockerd: None,
        project: None,
        up_started: false,
    };
    let ended = tokio::select! {
        result = suite.run() => match result {
            Ok(note) => Ended::Passed(note),
            Err(failure) => Ended::Failed(failure),
        },
        (signal, code) = interrupted() => Ended::Interrupted { signal, code },
    };
    let outcome = match ended {
        Ended::Passed(note) => Outcome { note, code: 0 },
        Ended::Failed(failure) => Outcome {
            note: failure.note,
            code: 1,
        },
        Ended::Interrupted { signal, code } => {
            Out::Stderr.say(format_args!("{signal}: cleaning up"));
            Outcome {
                note: suite.interrupted_note(signal),
                code,
            }
        }
    };
    suite.clean_up(outcome.code == 1).await;
    outcome
}

enum Ended {
    Passed(String),
    Failed(Failure),
    Interrupted { signal: &'static str, code: u8 },
}

/// Waits for SIGINT or SIGTERM: its name and the exit code it asks for.
async fn interrupted() -> (&'static str, u8) {
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        Out::Stderr.say("ERROR: cannot handle SIGINT/SIGTERM; an interrupted run may leave its project up");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => ("SIGINT", 130),
        _ = term.recv() => ("SIGTERM", 143),
    }
}

struct Suite {
    root: PathBuf,
    options: Options,
    steps: Steps,
    /// The dockerd this suite started, if any: stopped at the end.
    dockerd: Option<Dockerd>,
    project: Option<Project>,
    /// The project may have containers: `down -v` at the end.
    up_started: bool,
}

impl Suite {
    /// Every part, start to end: the note of a passing run.
    async fn run(&mut self) -> Result<String, Failure> {
        let dir = self.options.dir.clone();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::before_steps("cannot create its dir", &anyhow::Error::from(e)))?;
        engine::ensure_tools(&Docker::detect())
            .await
            .map_err(|e| Failure::before_steps("docker.io/docker-compose could not be installed", &e))?;
        let settings = DockerdSettings {
            args: self.options.dockerd_args.clone(),
            nice: self.options.docker_nice,
            data_root: crate::venv::cache_dir().join("docker/data"),
        };
        let docker = engine::up(&dir.join("engine"), &settings, &mut self.dockerd)
            .await
            .map_err(|e| Failure::before_steps("no Docker engine (above)", &e))?;
        let own = if self.dockerd.is_some() {
            ", a dockerd of its own"
        } else {
            ""
        };
        let engine = format!("engine {}{own}", docker.server_version().await);
        let cache = crate::venv::cache_dir();
        let images = images::resolve(&docker, &self.root, &dir.join("images"), &cache)
            .await
            .map_err(|e| Failure::before_steps("a stand-in image did not build (above)", &e))?;
        let host_network = self.dockerd.is_some()
            || !images.standins.is_empty()
            || self.options.build_network.as_deref() == Some("host");
        let project = Project::new(
            &docker,
            ProjectSettings {
                root: &self.root,
                name: &self.options.project,
                choice: self.options.compose.as_deref(),
                host_network,
                images: &images.env,
            },
        )
        .await
        .map_err(|e| Failure::before_steps("the compose project could not be set up (above)", &e))?;
        let project = self.project.insert(project);
        let compose_version = project.version().await;
        let ports = project.ports;
        Out::Stderr.say(format_args!(
            "project {}, compose {compose_version}, sales :{}, factory :{}, LocalStack :{}, Prometheus :{}",
            project.name, ports.sales, ports.factory, ports.localstack, ports.prometheus
        ));
        let checks = Checks {
            project: &*project,
            steps: &mut self.steps,
            http: http::Http::new().map_err(|e| Failure::before_steps("no HTTP client", &e))?,
            dashboards: self.root.join("deploy/grafana/dashboards"),
            grafana: !images.is_missing("GRAFANA_IMAGE"),
        };
        let seen = checks.run(&mut self.up_started).await?;
        Ok(note::Passed {
            compose_version: &compose_version,
            engine: &engine,
            times: &self.steps.times,
            story: &seen.story,
            alert: &seen.alert,
            up_retried: seen.up_retried.as_deref(),
            standins: &images.standins,
            missing: &images.missing,
        }
        .note())
    }

    /// Where a signal stopped it.
    fn interrupted_note(&self, signal: &str) -> String {
        let reason = format!("interrupted by {signal}");
        match self.steps.current {
            Some(name) => steps::failed_note(name, &reason, &self.steps.log(name), &self.steps.times),
            None => format!("{reason} before its steps"),
        }
    }

    /// On failure every service's log first; then `down -v` of the project (if it may have
    /// containers) and the dockerd this suite started.
    async fn clean_up(&mut self, failed: bool) {
        if let Some(project) = self.project.as_ref().filter(|_| self.up_started) {
            if failed {
                let file = self.options.dir.join("services.log");
                project.dump_logs(&file).await;
                Out::Stderr.say(format_args!(
                    "every service's log is in {}; its last lines:",
                    file.display()
                ));
                eprintln!("{}", crate::process::tail(&file, 80));
            }
            project.down().await;
        }
        if let Some(dockerd) = self.dockerd.take() {
            dockerd.stop().await;
        }
    }
}

/// What the story and the alert saw, for the note.
struct Findings {
    story: String,
    alert: String,
    /// Why the first `up -d` failed, when it took a second one.
    up_retried: Option<String>,
}

/// The steps against the project.
struct Checks<'a> {
    project: &'a Project,
    steps: &'a mut Steps,
    http: http::Http,
    dashboards: PathBuf,
    grafana: bool,
}

const STACK: [&str; 6] = [
    "mysql",
    "localstack",
    "sales",
    "factory",
    "stock-worker",
    "stock-inc-worker",
];
const WORKERS: [&str; 2] = ["stock-worker", "stock-inc-worker"];

impl Checks<'_> {
    async fn run(self, up_started: &mut bool) -> Result<Findings, Failure> {
        let Checks {
            project,
            steps,
            http,
            dashboards,
            grafana,
        } = self;
        let compose = |args: &'static [&'static str], log: PathBuf| async move {
            project.run(args.iter().copied(), Out::Log(&log)).await
        };
        let healthy = |timeout: u64, services: &'static [&'static str], log: PathBuf| async move {
            let timeout = Duration::from_secs(timeout);
            project.wait_healthy(timeout, services, Out::Log(&log)).await
        };
        const BUILD: &[&str] = &["--profile", "test", "build"];
        steps
            .run("build", &described(BUILD), compose(BUILD, steps.log("build")))
            .await?;
        *up_started = true;
        let up_retried = steps.run("up", &described(UP), up(project, steps.log("up"))).await?;
        let what = format!("every container healthy within 300 s: {}", STACK.join(" "));
        steps
            .run("healthy", &what, healthy(300, &STACK, steps.log("healthy")))
            .await?;
        let log = steps.log("story");
        let story = story::Story {
            http: &http,
            project,
            out: Out::Log(&log),
        };
        let story = steps.run("story", "the README's story", story.run()).await?;
        const SCALE: &[&str] = &["up", "-d", "--scale", "stock-worker=3", "--scale", "stock-inc-worker=3"];
        steps
            .run("scale", &described(SCALE), compose(SCALE, steps.log("scale")))
            .await?;
        let what = format!("every container healthy within 180 s: {}", WORKERS.join(" "));
        steps
            .run("scaled", &what, healthy(180, &WORKERS, steps.log("scaled")))
            .await?;
        const E2E: &[&str] = &["--profile", "test", "run", "--rm", "-T", "e2e"];
        steps
            .run("e2e", &described(E2E), compose(E2E, steps.log("e2e")))
            .await?;
        show_highlights(&steps.log("e2e"));
        let log = steps.log("observability");
        let observability = observability::Observability {
            http: &http,
            project,
            grafana,
            dashboards: &dashboards,
            out: Out::Log(&log),
        };
        let what = "the observability profile: targets, the DLQ alert, the dashboards";
        let alert = steps.run("observability", what, observability.run()).await?;
        Ok(Findings {
            story,
            alert,
            up_retried,
        })
    }
}

const UP: &[&str] = &["up", "-d"];

/// `up -d`, and once more if the first gave up. Compose v1 creates a container once its
/// dependencies report healthy and fails the whole `up` on any error while it polls them;
/// CI saw one such failure that two runs here did not repeat. A second `up -d` keeps what
/// is up and creates the rest; the error that caused it goes into the note (and a failure
/// of the second one fails the step). The `healthy` step checks every container after.
async fn up(project: &Project, log: PathBuf) -> anyhow::Result<Option<String>> {
    let Err(first) = project.run(UP.iter().copied(), Out::Log(&log)).await else {
        return Ok(None);
    };
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let why = steps::error_line(&said).map_or_else(|| first.to_string(), str::to_string);
    Out::Stderr.say(format_args!(
        "up: the first `compose up -d` failed ({why}); running it once more"
    ));
    Out::Log(&log).say(format_args!("the first `up -d` failed: {first:#}; once more"));
    project.run(UP.iter().copied(), Out::Log(&log)).await?;
    Ok(Some(why))
}

fn described(args: &[&str]) -> String {
    format!("compose {}", args.join(" "))
}

/// The e2e log's sections, test results and newman's totals, on stderr.
fn show_highlights(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in e2e_highlights(&text) {
        eprintln!("{line}");
    }
}
