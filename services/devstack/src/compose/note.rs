//! The one-line summary note of a passing run, which `scripts/test` records in its summary:
//! the compose and engine versions, each step's time, what the story and the DLQ alert did,
//! and every stand-in or missing image (what the run then did not prove).

use super::images::{Declared, Standin};
use super::steps::Times;

/// What a passing run saw.
pub struct Passed<'a> {
    pub compose_version: &'a str,
    /// `engine 20.10.24[, a dockerd of its own]`.
    pub engine: &'a str,
    pub times: &'a Times,
    pub story: &'a str,
    pub alert: &'a str,
    /// Why the first `up -d` failed, when a second one was needed.
    pub up_retried: Option<&'a str>,
    pub standins: &'a [Standin],
    pub missing: &'a [Declared],
}

impl Passed<'_> {
    pub fn note(&self) -> String {
        let mut note = format!(
            "compose {}, {}: {}; {}; workers scaled to 3; e2e (black-box suite, newman) passed; \
             Prometheus scrapes all 8, {}, every dashboard query has data",
            self.compose_version, self.engine, self.times, self.story, self.alert
        );
        if let Some(why) = self.up_retried {
            note.push_str(&format!("; up needed a second `up -d`, the first failed: {why}"));
        }
        if !self.standins.is_empty() {
            let used: Vec<String> = self
                .standins
                .iter()
                .map(|s| format!("{} for {}", s.name, s.instead_of))
                .collect();
            note.push_str(&format!("; stand-in: {}", used.join(", ")));
        }
        if !self.missing.is_empty() {
            let missing: Vec<&str> = self.missing.iter().map(|m| m.default.as_str()).collect();
            note.push_str(&format!(
                "; not run (no image): {} (its dashboard's queries ran against Prometheus)",
                missing.join(" ")
            ));
        }
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::steps::StepTime;

    #[test]
    fn the_note_lists_times_checks_standins_and_missing_images() {
        let times = Times(vec![StepTime {
            name: "build",
            secs: 60,
        }]);
        let standins = [Standin {
            variable: "MYSQL_IMAGE".into(),
            name: "stockflow-standin/mariadb:10.11".into(),
            instead_of: "mysql:8.4".into(),
        }];
        let missing = [Declared {
            variable: "GRAFANA_IMAGE".into(),
            default: "grafana/grafana:11.6.3".into(),
        }];
        let passed = Passed {
            compose_version: "1.29.2",
            engine: "engine 20.10.24, a dockerd of its own",
            times: &times,
            story: "the story",
            alert: "the alert",
            up_retried: None,
            standins: &standins,
            missing: &missing,
        };
        assert_eq!(
            passed.note(),
            "compose 1.29.2, engine 20.10.24, a dockerd of its own: build 60 s; the story; workers scaled to 3; \
             e2e (black-box suite, newman) passed; Prometheus scrapes all 8, the alert, every dashboard query has data; \
             stand-in: stockflow-standin/mariadb:10.11 for mysql:8.4; \
             not run (no image): grafana/grafana:11.6.3 (its dashboard's queries ran against Prometheus)"
        );
        let plain = Passed {
            standins: &[],
            missing: &[],
            ..passed
        };
        assert!(plain.note().ends_with("every dashboard query has data"));
        let retried = Passed {
            up_retried: Some("ERROR: for sales  Container \"ab12\" is unhealthy."),
            ..plain
        };
        assert!(retried.note().ends_with(
            "every dashboard query has data; up needed a second `up -d`, the first failed: \
             ERROR: for sales  Container \"ab12\" is unhealthy."
        ));
    }
}
