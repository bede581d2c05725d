//! Signals by pid: whether a recorded pid still runs the binary it was started as (a
//! recycled pid is never signalled), and signalling the process group a pid leads.

use std::path::Path;

/// Whether `pid` is alive (not a zombie) and runs `binary`.
pub fn runs_as(pid: u32, binary: &Path) -> bool {
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie);
    alive
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .ok()
            .and_then(|cmdline| {
                cmdline
                    .split(|b| *b == 0)
                    .next()
                    .map(|arg0| arg0 == binary.as_os_str().as_encoded_bytes())
            })
            .unwrap_or(false)
}

/// Sends `signal` to the process group `pid` leads (to `pid` alone if it leads none).
pub fn signal_group(pid: u32, signal: i32) -> anyhow::Result<()> {
    let pid = i32::try_from(pid)?;
    // SAFETY: kill(2) with a pid we started (or recorded and checked); no memory involved.
    let group = unsafe { libc::getpgid(pid) };
    let target = if group == pid { -pid } else { pid };
    // SAFETY: as above.
    let sent = unsafe { libc::kill(target, signal) };
    if sent != 0 {
        let err = std::io::Error::last_os_error();
        anyhow::ensure!(
            err.raw_os_error() == Some(libc::ESRCH),
            "cannot signal pid {pid}: {err}"
        );
    }
    Ok(())
}
