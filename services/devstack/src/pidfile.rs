//! A process of the development environment that is not a service replica (LocalStack,
//! a dockerd of the compose part), known by its pid file: whether it still runs as
//! what it was, and stopping it, its whole process group, SIGKILL after a grace period.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::signal_group;

/// The pid recorded in `file`, if any.
pub fn read(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// `pid` lives (not a zombie) and its command line contains `expect`.
pub fn runs(pid: u32, expect: &str) -> bool {
    let state = crate::private::process_state(pid);
    !matches!(state, 'Z' | '?')
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(expect))
}

/// SIGTERM to the group `pid` leads, SIGKILL after `grace` (and to whatever is left
/// of the group); whether it had to be killed. A pid no longer running `expect` (a
/// stale pid file can name a recycled pid) is left alone.
pub async fn stop(pid: u32, expect: &str, grace: Duration) -> anyhow::Result<bool> {
    if !runs(pid, expect) {
        return Ok(false);
    }
    signal_group(pid, libc::SIGTERM)?;
    let deadline = Instant::now() + grace;
    while runs(pid, expect) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let killed = runs(pid, expect);
    signal_group(pid, libc::SIGKILL)?;
    Ok(killed)
}
