//! Services as real processes, for the faults only a process can have: `kill -9`
//! and SIGTERM. The binaries are the ones `cargo build --workspace --bins` made
//! (`scripts/test` builds them first).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::TestEnv;

/// A running service binary; killed if dropped.
pub struct ServiceProcess {
    child: Child,
    name: &'static str,
}

/// `target/<profile>/<name>`, next to the test binary's `deps/` folder.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not built: run `cargo build --workspace --bins` (scripts/test does)",
        path.display()
    );
    path
}

impl ServiceProcess {
    /// Starts `name` configured for `env`'s databases and topology, plus `extra` variables.
    pub fn start(env: &TestEnv, name: &'static str, extra: &[(&str, String)]) -> Self {
        let mut command = Command::new(binary(name));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", &env.aws.aws_endpoint_url)
            .env("AWS_REGION", &env.aws.aws_region)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("STOCKFLOW_PREFIX", &env.aws.stockflow_prefix)
            .env("MYSQL_URL", &env.database.mysql_url)
            .env("WAREHOUSE_DB", &env.warehouse_db)
            .env("FACTORY_DB", &env.factory_db)
            .env("STOCK_WORKER_PORT", "0")
            .env("STOCK_INC_WORKER_PORT", "0")
            .env("WORKER_WAIT_SECONDS", "1")
            .env("WORKER_RETRY_BASE_SECONDS", "1")
            .env("WORKER_VISIBILITY_SECONDS", "3")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        for (key, value) in extra {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {name}: {err}"));
        Self { child, name }
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill_9(mut self) {
        self.child.kill().await.expect("kill -9");
    }

    /// SIGTERM, then the exit status, or a failure if it takes longer than `bound`.
    pub async fn terminate(mut self, bound: Duration) -> ExitStatus {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("kill(1)");
        assert!(sent.success(), "SIGTERM to {}", self.name);
        tokio::time::timeout(bound, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit within {bound:?} of SIGTERM", self.name))
            .expect("wait")
    }
}
