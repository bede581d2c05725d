//! The suite's steps: each announced (`[compose] <name>: <what> (log: <dir>/<name>.log)`),
//! its output in its own log, timed for the summary note; a failed one's log end shown and
//! its failure turned into the note. Which step runs is recorded, so that an interrupted
//! suite can say where it stopped.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::cmd::Out;
use crate::process::tail;

/// How many lines of a failed step's log are shown.
const FAILED_TAIL: usize = 60;

/// One finished step and its seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepTime {
    pub name: &'static str,
    pub secs: u64,
}

/// The finished steps, as the note lists them: `build 120 s, up 5 s`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Times(pub Vec<StepTime>);

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|t| format!("{} {} s", t.name, t.secs)).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The suite failed: what the summary note says.
#[derive(Debug)]
pub struct Failure {
    pub note: String,
}

impl Failure {
    /// A failure before the steps: its reason shown, `note` for the summary.
    pub fn before_steps(note: &str, err: &anyhow::Error) -> Self {
        Out::Stderr.say(format_args!("ERROR: {err:#}"));
        Self { note: note.into() }
    }
}

/// `<name> FAILED: <reason> (<log>)[ after: <times>]`.
pub fn failed_note(name: &str, reason: &str, log: &Path, times: &Times) -> String {
    let after = if times.0.is_empty() {
        String::new()
    } else {
        format!(" after: {times}")
    };
    format!("{name} FAILED: {reason} ({}){after}", log.display())
}

/// The steps of one run, their logs in `dir`.
#[derive(Debug)]
pub struct Steps {
    dir: PathBuf,
    pub times: Times,
    /// The step that runs now.
    pub current: Option<&'static str>,
}

impl Steps {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            times: Times::default(),
            current: None,
        }
    }

    /// `<dir>/<name>.log`.
    pub fn log(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.log"))
    }

    /// Runs `step` (whose output goes to [`Self::log`] of `name`): its value, or the failure
    /// note naming its first error line (the whole chain is in the log).
    pub async fn run<T>(
        &mut self,
        name: &'static str,
        what: &str,
        step: impl Future<Output = anyhow::Result<T>>,
    ) -> Result<T, Failure> {
        let log = self.log(name);
        let started = Instant::now();
        Out::Stderr.say(format_args!("{name}: {what} (log: {})", log.display()));
        if let Err(err) = std::fs::write(&log, "") {
            return Err(Failure {
                note: format!("{name} FAILED: cannot write {}: {err}", log.display()),
            });
        }
        self.current = Some(name);
        let result = step.await;
        self.current = None;
        match result {
            Ok(value) => {
                let secs = started.elapsed().as_secs();
                self.times.0.push(StepTime { name, secs });
                Ok(value)
            }
            Err(err) => {
                let said = std::fs::read_to_string(&log).unwrap_or_default();
                let reason = match error_line(&said) {
                    Some(line) => format!("{err}: {line}"),
                    None => err.to_string(),
                };
                Out::Log(&log).say(format_args!("FAIL: {err:#}"));
                Out::Stderr.say(format_args!("ERROR: {name} failed; last lines of {}:", log.display()));
                eprintln!("{}", tail(&log, FAILED_TAIL));
                Err(Failure {
                    note: failed_note(name, &reason, &log, &self.times),
                })
            }
        }
    }
}

/// A step log's first `ERROR` line: what docker or docker-compose said went wrong (compose
/// v1 says `ERROR: for <service>  <why>` before its generic last line), for the note.
pub fn error_line(log: &str) -> Option<&str> {
    log.lines().map(str::trim).find(|line| line.starts_with("ERROR"))
}

/// The lines of the e2e log worth showing: its sections, test results and newman's totals.
pub fn e2e_highlights(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            let trimmed = line.trim_start();
            let table = trimmed
                .strip_prefix('│')
                .map(str::trim_start)
                .is_some_and(|cell| cell.starts_with("requests") || cell.starts_with("assertions"));
            line.starts_with("==>") || trimmed.starts_with("test result") || trimmed.starts_with("Summary") || table
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_times_read_as_a_list() {
        let times = Times(vec![
            StepTime {
                name: "build",
                secs: 120,
            },
            StepTime { name: "up", secs: 5 },
        ]);
        assert_eq!(times.to_string(), "build 120 s, up 5 s");
    }

    #[test]
    fn a_failed_note_names_the_step_its_reason_its_log_and_what_passed_before() {
        let log = Path::new(".run/test/compose/story.log");
        let times = Times(vec![StepTime { name: "build", secs: 3 }]);
        assert_eq!(
            failed_note("story", "no restock arrived", log, &times),
            "story FAILED: no restock arrived (.run/test/compose/story.log) after: build 3 s"
        );
        assert_eq!(
            failed_note("build", "`docker compose build` exited 1", log, &Times::default()),
            "build FAILED: `docker compose build` exited 1 (.run/test/compose/story.log)"
        );
    }

    #[test]
    fn the_error_line_is_the_first_one_docker_compose_printed_as_an_error() {
        let log = "Creating stockflow-test_sales_1 ... done\nERROR: for stock-worker  Container \"ab12\" is unhealthy.\n\
                   ERROR: Encountered errors while bringing up the project.\n[compose] FAIL: `docker-compose up -d` exited 1\n";
        assert_eq!(
            error_line(log),
            Some("ERROR: for stock-worker  Container \"ab12\" is unhealthy.")
        );
        assert_eq!(error_line("Creating ... done\n[compose] FAIL: exited 1\n"), None);
    }

    #[test]
    fn e2e_highlights_are_sections_results_and_newman_totals() {
        let log = "==> blackbox\nrunning 12 tests\ntest result: ok. 12 passed\n  Summary [ 3.1s] 40 tests\n\
                   │              requests │ 30 │ 0 │\n│ assertions │ 90 │ 0 │\n│ scripts │ 1 │\nnoise\n";
        assert_eq!(
            e2e_highlights(log),
            [
                "==> blackbox",
                "test result: ok. 12 passed",
                "  Summary [ 3.1s] 40 tests",
                "│              requests │ 30 │ 0 │",
                "│ assertions │ 90 │ 0 │"
            ]
        );
    }
}
