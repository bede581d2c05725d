//! The shared LocalStack of a run dir: started detached (or the one answering reused),
//! its pid recorded, awaited, and stopped only if it was started from there.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Hooks, Launch, MAIN_MODULE, VERSION, deploy, endpoint, say, wait_ready};
use crate::pidfile;
use crate::ports::{LOCALSTACK_PORT, port_free};
use crate::private::process_state;
use crate::process::tail;

/// Where the run dir's LocalStack listens (the command line's `--localstack-port`).
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct LocalstackPort {
    /// 0: a free port, printed on stdout.
    #[arg(long = "localstack-port", env = "STOCKFLOW_LOCALSTACK_PORT", default_value_t = LOCALSTACK_PORT)]
    pub port: u16,
    /// Seconds LocalStack may take to be ready with its topology.
    #[arg(long, env = "STOCKFLOW_LS_START_TIMEOUT", default_value_t = 120)]
    pub start_timeout: u64,
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

    /// The venv, then LocalStack where `at` says (a free port, printed, for 0), with the
    /// SQS metrics interval of `STOCKFLOW_METRICS_INTERVAL` (60 s); the port it listens on.
    pub async fn start_at(&self, at: LocalstackPort, own: bool) -> anyhow::Result<u16> {
        super::ensure_venv()?;
        let port = match at.port {
            0 => {
                let port = crate::ports::free_ports(1)?[0];
                println!("{port}");
                port
            }
            port => port,
        };
        let interval = std::env::var("STOCKFLOW_METRICS_INTERVAL").unwrap_or_else(|_| "60".into());
        let env = vec![("SQS_CLOUDWATCH_METRICS_REPORT_INTERVAL".to_string(), interval)];
        self.start(port, own, env, Duration::from_secs(at.start_timeout))
            .await?;
        Ok(port)
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
                deploy(&endpoint(port), &[])?;
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
