//! LocalStack's cached venv: created with python3.11 (else python3 >= 3.10) and
//! `localstack/requirements.txt` installed, again only when that file changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::{LOCALSTACK_DIR, VERSION, say};
use crate::process::tail;

/// The development environment's cache: `$STOCKFLOW_CACHE`, default `~/.cache/stockflow`
/// (LocalStack's venv, the compose suite's Docker data root and debootstrap's packages).
pub fn cache_dir() -> PathBuf {
    std::env::var_os("STOCKFLOW_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/stockflow"))
}

/// `$STOCKFLOW_CACHE/localstack-4.13.1-venv` (default cache `~/.cache/stockflow`).
pub fn venv_dir() -> PathBuf {
    cache_dir().join(format!("localstack-{VERSION}-venv"))
}

/// Creates the venv (python3.11, else python3 >= 3.10) and installs
/// `localstack/requirements.txt`, unless the recorded sha256 of that file matches (the
/// marker `scripts/lib/venv.sh` writes for its venvs too).
pub fn ensure_venv() -> anyhow::Result<()> {
    let venv = venv_dir();
    let requirements = Path::new(LOCALSTACK_DIR).join("requirements.txt");
    let want = format!("{:x}", Sha256::digest(std::fs::read(&requirements)?));
    let marker = venv.join(".stockflow-requirements.sha256");
    let have = std::fs::read_to_string(&marker).unwrap_or_default();
    if venv.join("bin/python").exists() && have.trim() == want {
        say(format_args!("venv ready (cached): {}", venv.display()));
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
    let _ = std::fs::remove_dir_all(&venv);
    let log = std::fs::File::create(&log_path)?;
    let start = Instant::now();
    say(format_args!(
        "creating venv with {python}, pip install -r {} (log: {})",
        requirements.display(),
        log_path.display()
    ));
    let venv_python = venv.join("bin/python");
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let steps: [(&str, Command); 3] = [
        (
            "venv creation",
            command_with(Path::new(python), &["-m", "venv"], Some(&venv)),
        ),
        ("pip install", {
            let mut pip = command_with(
                &venv_python,
                &[
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-r",
                ],
                Some(&requirements),
            );
            pip.env("PATH", &path);
            pip
        }),
        (
            "the import check",
            command_with(&venv_python, &["-c", "import localstack.runtime.main"], None),
        ),
    ];
    for (what, mut step) in steps {
        let ok = step
            .stdout(log.try_clone()?)
            .stderr(log.try_clone()?)
            .status()
            .is_ok_and(|s| s.success());
        anyhow::ensure!(
            ok,
            "{what} failed; last lines of {}:\n{}",
            log_path.display(),
            tail(&log_path, 30)
        );
    }
    std::fs::write(&marker, format!("{want}\n"))?;
    say(format_args!("venv installed in {} s", start.elapsed().as_secs()));
    Ok(())
}

fn command_with(program: &Path, args: &[&str], last: Option<&Path>) -> Command {
    let mut command = Command::new(program);
    command.args(args).args(last).stdin(Stdio::null());
    command
}
