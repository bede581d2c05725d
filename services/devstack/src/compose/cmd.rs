//! The compose suite's child processes (docker, docker-compose, debootstrap, tar, apt-get):
//! where their output goes ([`Out`]: a step's log or stderr, never stdout, which carries
//! only the summary note), run to completion or captured, with errors that name the
//! command and its exit status. Every child is killed if the suite is interrupted.

use std::fmt::Display;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use tokio::process::Command;

/// Where a message or a child's output goes.
#[derive(Clone, Copy, Debug)]
pub enum Out<'a> {
    /// The terminal, as `[compose] ...` progress lines.
    Stderr,
    /// A step's log file (appended to).
    Log(&'a Path),
}

impl Out<'_> {
    /// One `[compose] ...` line.
    pub fn say(self, line: impl Display) {
        match self {
            Out::Stderr => eprintln!("[compose] {line}"),
            Out::Log(path) => {
                let written = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .and_then(|mut file| writeln!(file, "[compose] {line}"));
                if let Err(err) = written {
                    eprintln!("[compose] (cannot write {}: {err}) {line}", path.display());
                }
            }
        }
    }

    /// A child's stdout or stderr.
    pub fn stdio(self) -> anyhow::Result<Stdio> {
        Ok(match self {
            Out::Stderr => Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?),
            Out::Log(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ),
        })
    }
}

/// `program arg...`, for messages.
pub fn describe(command: &Command) -> String {
    let std = command.as_std();
    std::iter::once(std.get_program())
        .chain(std.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to its end, its output to `out`; fails naming it and its exit status.
pub async fn run(command: &mut Command, out: Out<'_>) -> anyhow::Result<()> {
    let status = command
        .stdin(Stdio::null())
        .stdout(out.stdio()?)
        .stderr(out.stdio()?)
        .kill_on_drop(true)
        .status()
        .await
        .with_context(|| format!("cannot start `{}`", describe(command)))?;
    anyhow::ensure!(status.success(), "`{}` exited {}", describe(command), exit_code(status));
    Ok(())
}

/// Whether `command` succeeds, its output discarded.
pub async fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status()
        .await
        .is_ok_and(|s| s.success())
}

/// The stdout of `command` (its stderr discarded), trimmed; fails naming it.
pub async fn capture(command: &mut Command) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot start `{}`", describe(command)))?;
    anyhow::ensure!(
        output.status.success(),
        "`{}` exited {}",
        describe(command),
        exit_code(output.status)
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The exit code, or the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code.to_string(),
        (None, Some(signal)) => format!("on signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// `name` found in a directory of `PATH`, executable.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// A file with an execute bit.
pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// `producer | consumer`, both run to their end, their other output to `out`.
pub async fn pipe(producer: &mut Command, consumer: &mut Command, out: Out<'_>) -> anyhow::Result<()> {
    let mut first = producer
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(out.stdio()?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start `{}`", describe(producer)))?;
    let between: Stdio = first.stdout.take().context("no pipe from the producer")?.try_into()?;
    let second = consumer
        .stdin(between)
        .stdout(out.stdio()?)
        .stderr(out.stdio()?)
        .kill_on_drop(true)
        .status();
    let (produced, consumed) = tokio::join!(first.wait(), second);
    for (command, status) in [(producer, produced), (consumer, consumed)] {
        let status = status?;
        anyhow::ensure!(status.success(), "`{}` exited {}", describe(command), exit_code(status));
    }
    Ok(())
}

/// `err`, then the last `lines` lines of `log` (what went wrong there).
pub fn with_tail(err: &anyhow::Error, log: &Path, lines: usize) -> anyhow::Error {
    anyhow::anyhow!(
        "{err:#}; last lines of {}:\n{}",
        log.display(),
        crate::process::tail(log, lines)
    )
}

/// `rm -rf path`: nothing when it is not there.
pub fn remove_all(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}
