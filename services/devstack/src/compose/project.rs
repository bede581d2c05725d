//! The compose project: a stack of its own beside whatever runs (its own project name, image
//! tags and free host ports, and every setting it relies on given here: a `.env` beside
//! compose.yaml cannot change them); the compose command (v2 `docker compose` when the
//! client has it, else v1 `docker-compose`; `STOCKFLOW_COMPOSE` chooses), with
//! `scripts/standins/compose.build-host-network.yaml` where image builds need the host's
//! network; health waits by polling `docker inspect` (v1 has no `--wait`); logs and `down -v`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use super::cmd::{self, Out};
use super::engine::Docker;
use crate::ports;

/// The host ports compose publishes, all free when chosen.
#[derive(Clone, Copy, Debug)]
pub struct HostPorts {
    pub sales: u16,
    pub factory: u16,
    pub mysql: u16,
    pub localstack: u16,
    pub prometheus: u16,
    pub grafana: u16,
}

impl HostPorts {
    pub fn free() -> anyhow::Result<Self> {
        let [sales, factory, mysql, localstack, prometheus, grafana] = ports::free_ports(6)?[..] else {
            anyhow::bail!("free_ports(6) did not give 6 ports");
        };
        Ok(Self {
            sales,
            factory,
            mysql,
            localstack,
            prometheus,
            grafana,
        })
    }

    fn env(&self) -> [(&'static str, u16); 6] {
        [
            ("SALES_HOST_PORT", self.sales),
            ("FACTORY_HOST_PORT", self.factory),
            ("MYSQL_HOST_PORT", self.mysql),
            ("LOCALSTACK_HOST_PORT", self.localstack),
            ("PROMETHEUS_HOST_PORT", self.prometheus),
            ("GRAFANA_HOST_PORT", self.grafana),
        ]
    }
}

/// The root password compose gives MySQL.
pub const MYSQL_ROOT_PASSWORD: &str = "stockflow";

/// Compose v2 (a docker client plugin) or v1 (docker-compose 1.29).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cli {
    V2,
    V1,
}

/// What the project is made of.
pub struct ProjectSettings<'a> {
    pub root: &'a Path,
    pub name: &'a str,
    /// `STOCKFLOW_COMPOSE`: `docker compose` or `docker-compose`; otherwise v2 when it answers.
    pub choice: Option<&'a str>,
    /// Image builds on the host's network.
    pub host_network: bool,
    /// The base images' variables (stand-ins).
    pub images: &'a [(String, String)],
}

pub struct Project {
    pub name: String,
    pub ports: HostPorts,
    docker: Docker,
    cli: Cli,
    files: Vec<PathBuf>,
    env: BTreeMap<String, String>,
}

impl Project {
    pub async fn new(docker: &Docker, settings: ProjectSettings<'_>) -> anyhow::Result<Self> {
        let cli = match settings.choice {
            Some("docker compose") => Cli::V2,
            Some("docker-compose") => Cli::V1,
            Some(other) => anyhow::bail!("STOCKFLOW_COMPOSE={other:?}: use \"docker compose\" or \"docker-compose\""),
            None if cmd::succeeds(&mut docker.command(["compose", "version"])).await => Cli::V2,
            None => Cli::V1,
        };
        let mut files = vec![settings.root.join("compose.yaml")];
        if settings.host_network {
            files.push(settings.root.join("scripts/standins/compose.build-host-network.yaml"));
        }
        let ports = HostPorts::free()?;
        let name = settings.name;
        let mut env: BTreeMap<String, String> = [
            ("COMPOSE_PROJECT_NAME", name.to_string()),
            ("STOCKFLOW_IMAGE", format!("{name}:local")),
            ("STOCKFLOW_E2E_IMAGE", format!("{name}-e2e:local")),
            // v1 on a busy machine
            ("DOCKER_BUILDKIT", "1".into()),
            ("COMPOSE_DOCKER_CLI_BUILD", "1".into()),
            ("COMPOSE_HTTP_TIMEOUT", "300".into()),
            ("MYSQL_ROOT_PASSWORD", MYSQL_ROOT_PASSWORD.into()),
            ("STOCKFLOW_PREFIX", String::new()),
            ("STOCKFLOW_MAX_RECEIVE_COUNT", "5".into()),
            ("STOCKFLOW_ALARM_PERIOD_SECONDS", "60".into()),
            ("STOCKFLOW_METRICS_INTERVAL", "5".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        env.extend(ports.env().map(|(k, v)| (k.to_string(), v.to_string())));
        env.extend(settings.images.iter().cloned());
        Ok(Self {
            name: name.to_string(),
            ports,
            docker: docker.clone(),
            cli,
            files,
            env,
        })
    }

    /// The compose command without files or settings.
    fn bare(&self) -> Command {
        match self.cli {
            Cli::V2 => self.docker.command(["compose"]),
            Cli::V1 => {
                let mut command = Command::new("docker-compose");
                // docker-compose 1.29 builds with `docker build` from PATH: the Debian client
                // first (a newer one there would want buildx for DOCKER_BUILDKIT=1).
                if self.docker.is_debian() {
                    let path = std::env::var("PATH").unwrap_or_default();
                    command.env("PATH", format!("/usr/bin:{path}"));
                }
                self.docker.target(&mut command);
                command
            }
        }
    }

    /// `compose -f ... <args>` of this project.
    pub fn command<'a>(&self, args: impl IntoIterator<Item = &'a str>) -> Command {
        let mut command = self.bare();
        for file in &self.files {
            command.arg("-f").arg(file);
        }
        command
            .args(args)
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROFILES")
            .envs(&self.env);
        command
    }

    /// Runs `compose <args>`, its output to `out`.
    pub async fn run<'a>(&self, args: impl IntoIterator<Item = &'a str>, out: Out<'_>) -> anyhow::Result<()> {
        cmd::run(&mut self.command(args), out).await
    }

    /// `compose version --short`.
    pub async fn version(&self) -> String {
        let mut command = self.bare();
        command.args(["version", "--short"]);
        cmd::capture(&mut command).await.unwrap_or_else(|_| "?".into())
    }

    /// Polls until every container of each service is healthy (a container without a
    /// healthcheck: running); fails naming the others and their states.
    pub async fn wait_healthy(&self, timeout: Duration, services: &[&str], out: Out<'_>) -> anyhow::Result<()> {
        let seen = crate::poll::within("healthy containers", timeout, Duration::from_secs(2), || async {
            let mut unhealthy = Vec::new();
            for service in services {
                if let Some(problem) = self.service_health(service).await {
                    unhealthy.push(problem);
                }
            }
            if unhealthy.is_empty() {
                Ok(())
            } else {
                Err(unhealthy.join(" "))
            }
        })
        .await
        .map_err(|err| anyhow::anyhow!("not healthy within {} s: {}", timeout.as_secs(), err.last))?;
        out.say(format_args!(
            "healthy after {} s: {}",
            seen.after.as_secs(),
            services.join(" ")
        ));
        Ok(())
    }

    /// `None` when every container of `service` is healthy, else what they are.
    async fn service_health(&self, service: &str) -> Option<String> {
        let ids = cmd::capture(&mut self.command(["ps", "-q", service]))
            .await
            .unwrap_or_default();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return Some(format!("{service}(no container)"));
        }
        let template = "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}";
        let mut inspect = self.docker.command(["inspect", "-f", template]);
        let states = cmd::capture(inspect.args(&ids))
            .await
            .unwrap_or_else(|err| format!("{err:#}"));
        let states: Vec<&str> = states.lines().collect();
        health_problem(&states).map(|problem| format!("{service}({problem})"))
    }

    /// `ps` and every service's log (every profile) to `file`, kept after `down -v`.
    pub async fn dump_logs(&self, file: &Path) {
        let _ = std::fs::write(file, "");
        let profiles = ["--profile", "test", "--profile", "observability"];
        for args in [&["ps"][..], &["logs", "--no-color", "--timestamps"]] {
            let mut command = self.command(profiles.iter().chain(args).copied());
            if let Err(err) = cmd::run(command.process_group(0), Out::Log(file)).await {
                Out::Log(file).say(format_args!("ERROR: {err:#}"));
            }
        }
    }

    /// `down -v --remove-orphans` of every profile; in a process group of its own, so that a
    /// second Ctrl-C does not cut it short.
    pub async fn down(&self) {
        Out::Stderr.say(format_args!("down -v ({})", self.name));
        let args = [
            "--profile",
            "test",
            "--profile",
            "observability",
            "down",
            "-v",
            "--remove-orphans",
        ];
        if let Err(err) = cmd::run(self.command(args).process_group(0), Out::Stderr).await {
            Out::Stderr.say(format_args!("ERROR: down -v failed: {err:#}"));
        }
    }
}

/// `None` when every state is `healthy`, else the counts of each, e.g. `2 healthy, 1 starting`.
pub fn health_problem(states: &[&str]) -> Option<String> {
    if !states.is_empty() && states.iter().all(|s| *s == "healthy") {
        return None;
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for state in states {
        *counts.entry(state).or_default() += 1;
    }
    Some(
        counts
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_healthy_is_no_problem() {
        assert_eq!(health_problem(&["healthy", "healthy"]), None);
    }

    #[test]
    fn others_are_counted_by_state() {
        assert_eq!(
            health_problem(&["healthy", "starting", "healthy", "exited"]).as_deref(),
            Some("1 exited, 2 healthy, 1 starting")
        );
        assert_eq!(health_problem(&[]).as_deref(), Some(""));
    }
}
