//! Stopping what a run dir records: every replica whose pid file is there (what
//! `scripts/down` and `stockflow-devstack down` stop), by its recorded pid only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Launcher;
use crate::service::{Ports, Service};

/// Stops every replica recorded in `run_dir` (any service, any index): SIGTERM to its
/// process group, SIGKILL after `grace`. Returns what it stopped, as lines to show.
pub async fn stop_recorded(run_dir: &Path, grace: Duration) -> anyhow::Result<Vec<String>> {
    let mut stopped = Vec::new();
    let Ok(entries) = std::fs::read_dir(run_dir) else {
        return Ok(stopped);
    };
    let mut recorded: Vec<(Service, usize)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".pid")?;
            let (service, index) = stem.rsplit_once('-')?;
            Some((Service::from_name(service)?, index.parse().ok()?))
        })
        .collect();
    // Workers first, then the services they call.
    recorded.sort_by(|a, b| b.cmp(a));
    let launcher = Launcher {
        bin_dir: PathBuf::new(),
        run_dir: run_dir.to_path_buf(),
        ports: Ports::strided(0, 0, 0, 0, 0),
        env: Vec::new(),
        service_env: BTreeMap::new(),
        inherit_env: true,
        kill_on_drop: false,
        ready_timeout: Duration::ZERO,
    };
    for (service, index) in recorded {
        match launcher.recorded(service, index) {
            Some(replica) => {
                let pid = replica.pid;
                let (_, killed) = replica.terminate(grace).await?;
                stopped.push(format!(
                    "stopped {} replica {index} (pid {pid}){}",
                    service.name(),
                    if killed {
                        ": it ignored SIGTERM and was killed"
                    } else {
                        ""
                    }
                ));
            }
            None => {
                for extension in ["pid", "bin"] {
                    let _ = std::fs::remove_file(run_dir.join(format!("{}-{index}.{extension}", service.name())));
                }
                stopped.push(format!("{} replica {index} was not running", service.name()));
            }
        }
    }
    Ok(stopped)
}
