//! The `observability` profile against the stack: Prometheus (and Grafana, when its image is
//! there) healthy; Prometheus scrapes every replica, all up; the DLQ alert: a poison message
//! on `stock_queue` is dead-lettered, `StockflowDeadLetters` fires, `stockctl dlq purge`
//! clears it; and every query of the Grafana dashboards returns data from Prometheus.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use super::cmd::Out;
use super::http::Http;
use super::project::Project;
use super::sqs::Sqs;
use crate::poll;

const ALERT: &str = "StockflowDeadLetters";
/// Every replica compose runs once the workers are scaled to 3.
const REPLICAS: [(&str, usize); 4] = [
    ("sales", 1),
    ("factory", 1),
    ("stock-worker", 3),
    ("stock-inc-worker", 3),
];

/// The profile's checks, against one project.
pub struct Observability<'a> {
    pub http: &'a Http,
    pub project: &'a Project,
    /// Whether Grafana's image is there to start.
    pub grafana: bool,
    /// deploy/grafana/dashboards.
    pub dashboards: &'a Path,
    pub out: Out<'a>,
}

impl Observability<'_> {
    fn prometheus(&self) -> String {
        format!("http://127.0.0.1:{}", self.project.ports.prometheus)
    }

    /// Everything; what the DLQ alert did, for the summary note.
    pub async fn run(&self) -> anyhow::Result<String> {
        let mut services = vec!["prometheus"];
        if self.grafana {
            services.push("grafana");
        }
        let up = ["--profile", "observability", "up", "-d"]
            .into_iter()
            .chain(services.iter().copied());
        let joined = services.join(" ");
        self.project
            .run(up, self.out)
            .await
            .with_context(|| format!("could not start {joined}"))?;
        self.project
            .wait_healthy(Duration::from_secs(180), &services, self.out)
            .await
            .with_context(|| format!("{joined} not healthy"))?;
        self.targets()
            .await
            .context("Prometheus does not scrape every replica, all up")?;
        let alert = self.dlq_alert().await?;
        self.dashboards().await.context("a dashboard query returns no data")?;
        Ok(alert)
    }

    /// Exactly the replicas of [`REPLICAS`] are active targets, every one up.
    async fn targets(&self) -> anyhow::Result<()> {
        let base = self.prometheus();
        let seen = poll::within(
            "Prometheus targets, all up",
            Duration::from_secs(180),
            Duration::from_secs(2),
            || async {
                let active = [("state", "active")];
                let data = self.http.prometheus(&base, "/api/v1/targets", &active).await;
                let data = data.ok_or("no answer".to_string())?;
                let health = target_health(&data);
                if scrapes_every_replica(&health) {
                    Ok(health)
                } else {
                    Err(format!("{health:?}"))
                }
            },
        )
        .await?;
        let per_job: Vec<String> = seen.value.iter().map(|(job, h)| format!("{job} {}", h.len())).collect();
        self.out.say(format_args!(
            "Prometheus scrapes {} targets, every one up ({}) after {} s",
            seen.value.values().map(Vec::len).sum::<usize>(),
            per_job.join(", "),
            seen.after.as_secs()
        ));
        Ok(())
    }

    /// The alert is firing (`true`) or not listed at all (`false`); polled for 300 s.
    async fn alert(&self, firing: bool) -> anyhow::Result<()> {
        let base = self.prometheus();
        let want = if firing { "firing" } else { "gone" };
        let what = format!("alert {ALERT} {want}");
        let seen = poll::within(&what, Duration::from_secs(300), Duration::from_secs(5), || async {
            let data = self
                .http
                .prometheus(&base, "/api/v1/alerts", &[])
                .await
                .ok_or("no answer".to_string())?;
            let states = alert_states(&data, ALERT);
            let ok = if firing {
                states.iter().any(|s| s == "firing")
            } else {
                states.is_empty()
            };
            if ok { Ok(()) } else { Err(format!("{states:?}")) }
        })
        .await?;
        self.out
            .say(format_args!("{what} in Prometheus after {} s", seen.after.as_secs()));
        Ok(())
    }

    /// The poison message dead-lettered, the alert firing, then cleared by `stockctl dlq purge`.
    async fn dlq_alert(&self) -> anyhow::Result<String> {
        let sqs = Sqs::new(self.project.ports.localstack).await;
        let dead = sqs.count("dead_letter_queue").await?;
        anyhow::ensure!(
            dead == 0,
            "dead_letter_queue is not empty before the poison message ({dead} there)"
        );
        self.alert(false)
            .await
            .context("StockflowDeadLetters is listed before any dead letter")?;
        let started = Instant::now();
        let poison = "poison: not a stock_empty event";
        sqs.send("stock_queue", poison)
            .await
            .context("could not send the poison message")?;
        self.out.say(format_args!("sent {poison:?} to stock_queue"));
        let what = "the poison message in dead_letter_queue";
        poll::within(what, Duration::from_secs(60), Duration::from_secs(1), || async {
            match sqs.count("dead_letter_queue").await {
                Ok(1) => Ok(()),
                Ok(n) => Err(format!("{n} there")),
                Err(err) => Err(format!("{err:#}")),
            }
        })
        .await
        .context("the poison message did not reach dead_letter_queue within 60 s")?;
        self.out.say(format_args!(
            "the poison message is in dead_letter_queue after {} s",
            started.elapsed().as_secs()
        ));
        self.alert(true)
            .await
            .context("StockflowDeadLetters did not fire in Prometheus")?;
        let fired = started.elapsed().as_secs();
        let purging = Instant::now();
        let purge = ["--profile", "test", "run", "--rm", "-T", "--no-deps", "e2e"];
        let purge = purge.into_iter().chain(["stockctl", "dlq", "purge", "--yes"]);
        self.project
            .run(purge, self.out)
            .await
            .context("stockctl dlq purge failed")?;
        self.alert(false)
            .await
            .context("StockflowDeadLetters did not clear after the purge")?;
        Ok(format!(
            "DLQ alert fired {fired} s after the poison message, cleared {} s after stockctl dlq purge",
            purging.elapsed().as_secs()
        ))
    }

    /// Every query of every dashboard returns data.
    async fn dashboards(&self) -> anyhow::Result<()> {
        let queries = read_dashboards(self.dashboards)?;
        let base = self.prometheus();
        let mut empty = 0;
        for query in &queries {
            let promql = query.promql()?;
            let data = self
                .http
                .prometheus(&base, "/api/v1/query", &[("query", promql.as_str())])
                .await
                .with_context(|| {
                    format!(
                        "{}, panel {:?}: Prometheus refused the query {promql}",
                        query.file, query.title
                    )
                })?;
            if data.get("result").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                self.out.say(format_args!("no data: {:?}: {promql}", query.title));
                empty += 1;
            }
        }
        anyhow::ensure!(
            empty == 0,
            "{empty} of {} dashboard queries return no data (above)",
            queries.len()
        );
        self.out.say(format_args!(
            "every one of the {} dashboard queries returns data",
            queries.len()
        ));
        Ok(())
    }
}

/// The health of every active target, by job.
pub fn target_health(data: &Value) -> BTreeMap<String, Vec<String>> {
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for target in data
        .get("activeTargets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let job = target.pointer("/labels/job").and_then(Value::as_str).unwrap_or("?");
        let health = target.get("health").and_then(Value::as_str).unwrap_or("?");
        by_job.entry(job.into()).or_default().push(health.into());
    }
    by_job
}

/// Each job of [`REPLICAS`] has exactly its replicas as targets, every one up.
pub fn scrapes_every_replica(health: &BTreeMap<String, Vec<String>>) -> bool {
    REPLICAS.iter().all(|(job, n)| {
        health
            .get(*job)
            .is_some_and(|h| h.len() == *n && h.iter().all(|s| s == "up"))
    })
}

/// The states of the alerts named `name`.
pub fn alert_states(data: &Value, name: &str) -> Vec<String> {
    data.get("alerts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|a| a.pointer("/labels/alertname").and_then(Value::as_str) == Some(name))
        .map(|a| a.get("state").and_then(Value::as_str).unwrap_or("?").to_string())
        .collect()
}

/// One query of a dashboard panel.
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub file: String,
    pub title: String,
    pub expr: String,
}

impl Query {
    /// The expression with Grafana's interval variables filled as Grafana would for a 10 s
    /// scrape interval; fails on any other variable.
    pub fn promql(&self) -> anyhow::Result<String> {
        let filled = [("$__rate_interval", "1m"), ("$__interval", "10s"), ("$__range", "1h")]
            .iter()
            .fold(self.expr.clone(), |q, (var, value)| q.replace(var, value));
        anyhow::ensure!(
            !filled.contains('$'),
            "{}, panel {:?}: a variable this check does not know: {}",
            self.file,
            self.title,
            self.expr
        );
        Ok(filled)
    }
}

/// Every panel target's `expr` of one dashboard.
pub fn dashboard_queries(file: &str, dashboard: &Value) -> Vec<Query> {
    let panels = dashboard.get("panels").and_then(Value::as_array).into_iter().flatten();
    panels
        .flat_map(|panel| {
            let title = panel.get("title").and_then(Value::as_str).unwrap_or("?");
            let targets = panel.get("targets").and_then(Value::as_array).into_iter().flatten();
            targets.filter_map(move |t| {
                let expr = t.get("expr").and_then(Value::as_str).filter(|e| !e.is_empty())?;
                Some(Query {
                    file: file.into(),
                    title: title.into(),
                    expr: expr.into(),
                })
            })
        })
        .collect()
}

/// The queries of `folder/*.json`, in file order.
fn read_dashboards(folder: &Path) -> anyhow::Result<Vec<Query>> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut queries = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path)?;
        let dashboard: Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        queries.extend(dashboard_queries(&name, &dashboard));
    }
    anyhow::ensure!(!queries.is_empty(), "no queries found in {}/*.json", folder.display());
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_replica_must_be_a_target_and_up() {
        let target = |job: &str, health: &str| json!({"labels": {"job": job}, "health": health});
        let mut active: Vec<Value> = ["sales", "factory"].iter().map(|j| target(j, "up")).collect();
        for _ in 0..3 {
            active.push(target("stock-worker", "up"));
            active.push(target("stock-inc-worker", "up"));
        }
        let health = target_health(&json!({ "activeTargets": active.clone() }));
        assert!(scrapes_every_replica(&health));
        active[2] = target("stock-worker", "down");
        assert!(!scrapes_every_replica(&target_health(
            &json!({ "activeTargets": active })
        )));
    }

    #[test]
    fn alert_states_are_those_of_the_named_alert() {
        let data = json!({"alerts": [
            {"labels": {"alertname": "StockflowDeadLetters"}, "state": "pending"},
            {"labels": {"alertname": "Other"}, "state": "firing"},
        ]});
        assert_eq!(alert_states(&data, ALERT), ["pending"]);
        assert!(alert_states(&json!({"alerts": []}), ALERT).is_empty());
    }

    #[test]
    fn dashboard_queries_fill_grafanas_intervals_and_refuse_other_variables() {
        let dashboard = json!({"panels": [
            {"title": "Rate", "targets": [{"expr": "rate(x[$__rate_interval])"}, {"expr": ""}]},
            {"title": "Text"},
            {"title": "Job", "targets": [{"expr": "up{job=\"$job\"}"}]},
        ]});
        let queries = dashboard_queries("d.json", &dashboard);
        assert_eq!(queries.len(), 2);
        assert_eq!(queries[0].promql().unwrap(), "rate(x[1m])");
        assert!(queries[1].promql().unwrap_err().to_string().contains("does not know"));
    }

    #[test]
    fn the_repositorys_dashboards_have_queries_this_check_can_run() {
        let folder = Path::new(super::super::ROOT).join("deploy/grafana/dashboards");
        for query in read_dashboards(&folder).unwrap() {
            query.promql().unwrap();
        }
    }
}
