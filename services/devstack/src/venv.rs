//! The cached Python venvs of the tools installed from PyPI: LocalStack, the API schema
//! checks (`tests/api`) and the deploy checks (`tests/deploy`). A venv is created with
//! python3.11 (else python3 >= 3.10), its pinned requirements installed and a check command
//! run; it is made again only when the sha256 of its requirements file changes.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::process::tail;

/// The development environment's cache: `$STOCKFLOW_CACHE`, default `~/.cache/stockflow`
/// (the venvs, the compose suite's Docker data root and debootstrap's packages).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("STOCKFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/stockflow"))
}

/// One cached venv: `<cache>/<name>` with `requirements` installed.
pub struct Venv {
    pub dir: PathBuf,
    requirements: PathBuf,
    label: String,
}

impl Venv {
    /// `<cache>/<name>`, for the tools `requirements` pins; `label` prefixes its progress.
    pub fn new(name: &str, requirements: impl Into<PathBuf>, label: &str) -> Self {
        Self {
            dir: cache_dir().join(name),
            requirements: requirements.into(),
            label: label.to_string(),
        }
    }

    /// A program of the venv (`bin/<name>`).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }

    fn say(&self, message: std::fmt::Arguments) {
        eprintln!("[{}] {message}", self.label);
    }

    /// Creates the venv and installs the requirements, then runs `check` (its first word
    /// looked up in the venv's `bin/` first), unless the recorded sha256 of the requirements
    /// matches. Progress on stderr, pip's output in `<dir>-install.log`.
    pub fn ensure<S: AsRef<OsStr>>(&self, check: &[S]) -> anyhow::Result<()> {
        let (venv, requirements) = (&self.dir, &self.requirements);
        let want = format!(
            "{:x}",
            Sha256::digest(std::fs::read(requirements).with_context(|| format!("{}", requirements.display()))?)
        );
        let marker = venv.join(".stockflow-requirements.sha256");
        let have = std::fs::read_to_string(&marker).unwrap_or_default();
        if self.bin("python").exists() && have.trim() == want {
            self.say(format_args!("venv ready (cached): {}", venv.display()));
            return Ok(());
        }
        let python = ["python3.11", "python3"]
            .into_iter()
            .find(|py| {
                Command::new(py)
                    .args(["-c", "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)"])
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .context("python3.11 (or python3 >= 3.10) not found")?;
        let log_path = PathBuf::from(format!("{}-install.log", venv.display()));
        std::fs::create_dir_all(venv.parent().context("venv without parent")?)?;
        let _ = std::fs::remove_dir_all(venv);
        let log = std::fs::File::create(&log_path)?;
        let start = Instant::now();
        self.say(format_args!(
            "creating venv with {python}, pip install -r {} (log: {})",
            requirements.display(),
            log_path.display()
        ));
        let path = format!(
            "{}:{}",
            venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let pip: [&OsStr; 6] = [
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ]
        .map(OsStr::new);
        let (program, args) = check.split_first().context("an empty check command")?;
        let steps: [(&str, Command); 3] = [
            (
                "venv creation",
                command(
                    Path::new(python),
                    &[OsStr::new("-m"), OsStr::new("venv"), venv.as_os_str()],
                ),
            ),
            (
                "pip install",
                command(self.bin("python"), &[&pip[..], &[requirements.as_os_str()]].concat()),
            ),
            ("the check", command(program.as_ref(), args)),
        ];
        for (what, mut step) in steps {
            let ok = step
                .env("PATH", &path)
                .stdout(log.try_clone()?)
                .stderr(log.try_clone()?)
                .status()
                .is_ok_and(|s| s.success());
            anyhow::ensure!(
                ok,
                "[{}] {what} failed; last lines of {}:\n{}",
                self.label,
                log_path.display(),
                tail(&log_path, 30)
            );
        }
        std::fs::write(&marker, format!("{want}\n"))?;
        self.say(format_args!("venv installed in {} s", start.elapsed().as_secs()));
        Ok(())
    }
}

fn command<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Command {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    command
}
