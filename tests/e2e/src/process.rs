//! Services as real processes, for the faults only a process can have: `kill -9`,
//! SIGTERM, several replicas. Started by the same code as `scripts/up` and the bench
//! (`stockflow-devstack`), from the binaries `cargo build --workspace --bins` made
//! (`scripts/test` builds them first), configured for the test's databases and topology.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use stockflow_devstack::process::{Launcher, Replica};
use stockflow_devstack::service::{Ports, Service};

use crate::TestEnv;

/// `target/<profile>`, next to the test binary's `deps/` folder.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_path_buf()
}

/// Where the service processes of test `id` keep their logs and pids.
pub fn run_dir(id: &str) -> PathBuf {
    std::env::temp_dir().join(format!("stockflow-e2e-{id}"))
}

impl TestEnv {
    /// Every service's variables for this test: its databases, its topology, and test
    /// pacing (short polls and back-offs, production in no time, quick sweeps).
    pub fn process_env(&self) -> Vec<(String, String)> {
        [
            ("MYSQL_URL", self.database.mysql_url.clone()),
            ("DB_POOL_MAX", "8".into()),
            ("WAREHOUSE_DB", self.warehouse_db.clone()),
            ("FACTORY_DB", self.factory_db.clone()),
            ("AWS_ENDPOINT_URL", self.aws.aws_endpoint_url.clone()),
            ("AWS_REGION", self.aws.aws_region.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("STOCKFLOW_PREFIX", self.aws.stockflow_prefix.clone()),
            ("BIND_HOST", "127.0.0.1".into()),
            ("FACTORY_PRODUCTION_SECONDS", "0".into()),
            ("FACTORY_FAULTS_ENABLED", "true".into()),
            ("FACTORY_TIMEOUT_MS", "2000".into()),
            ("OUTBOX_SWEEP_MS", "200".into()),
            ("WORKER_CONCURRENCY", "8".into()),
            ("WORKER_WAIT_SECONDS", "1".into()),
            ("WORKER_RETRY_BASE_SECONDS", "1".into()),
            ("WORKER_VISIBILITY_SECONDS", "3".into()),
            ("RUST_LOG", "info".into()),
            ("LOG_FORMAT", "json".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A launcher for `replicas` of each service on free ports, logs in a folder of this
    /// test's own (printed, kept after the test for a look).
    pub fn launcher(&self, replicas: usize) -> Launcher {
        let run_dir = run_dir(&self.id);
        println!("service logs: {}", run_dir.display());
        Launcher {
            bin_dir: bin_dir(),
            run_dir,
            ports: Ports::free(replicas).expect("free ports"),
            env: self.process_env(),
            service_env: BTreeMap::new(),
            inherit_env: false,
            kill_on_drop: true,
            ready_timeout: Duration::from_secs(90),
        }
    }
}

/// A running service binary; killed if dropped.
pub struct ServiceProcess {
    replica: Replica,
}

impl ServiceProcess {
    /// Starts `name` configured for `env`'s databases and topology, plus `extra`
    /// variables (its port variable among them picks its port; a free one otherwise).
    pub fn start(env: &TestEnv, name: &'static str, extra: &[(&str, String)]) -> Self {
        let service = Service::from_name(name).unwrap_or_else(|| panic!("no service {name}"));
        let mut launcher = env.launcher(1);
        if let Some((_, port)) = extra.iter().find(|(k, _)| *k == service.port_variable()) {
            let port: u16 = port.parse().expect("a port number");
            match service {
                Service::Sales => launcher.ports.sales = port,
                Service::Factory => launcher.ports.factory = port,
                Service::StockWorker => launcher.ports.stock_worker = vec![port],
                Service::StockIncWorker => launcher.ports.stock_inc_worker = vec![port],
            }
        }
        let extra: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let replica = launcher
            .spawn(service, 0, &extra)
            .unwrap_or_else(|err| panic!("cannot start {name}: {err:#}"));
        Self { replica }
    }

    pub fn pid(&self) -> u32 {
        self.replica.pid
    }

    /// Waits until its `/ready` answers 200.
    pub async fn wait_ready(&mut self) {
        self.replica
            .wait_ready(Duration::from_secs(90))
            .await
            .unwrap_or_else(|err| panic!("{err:#}"));
    }

    /// SIGKILL: no chance to finish anything; returns once the process is gone.
    pub async fn kill_9(self) {
        self.replica.kill_9().await.expect("kill -9");
    }

    /// SIGTERM, then the exit status, or a failure if it takes longer than `bound`.
    pub async fn terminate(self, bound: Duration) -> ExitStatus {
        let name = self.replica.service.name();
        let (status, killed) = self.replica.terminate(bound).await.expect("SIGTERM");
        assert!(!killed, "{name} did not exit within {bound:?} of SIGTERM");
        status.expect("our child")
    }
}

/// A process's state letter from /proc (`T` when stopped by a signal, `?` when gone).
pub fn process_state(pid: u32) -> char {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
        })
        .unwrap_or('?')
}
