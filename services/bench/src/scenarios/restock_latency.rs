//! The restock scenario: out-of-stock purchases on distinct skus at a steady rate, each
//! a 409 that opens a restock request, timed stage by stage until its stock is back;
//! beside it, the floor: the same count and rate of bare SNS → SQS → SNS → SQS chains.
//! Checked: every purchase answered 409, every request fulfilled, every sku back in
//! stock, no bare chain lost.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use stockflow_messaging::consumer::ConsumerSettings;
use warehouse::reports::{self, RestockTimeline};

use super::phases::{insert_products, numbered_skus};
use super::timelines::{ms_between, wait_until_fulfilled};
use super::{RESTOCK_REORDER, World};
use crate::ceiling::{self, Chain, HopPlan, HopResult, Pace};
use crate::load::{HttpClient, Quantiles, RequestOutcome};
use crate::report::{self, Report, SummaryRow};
use crate::{Args, progress};

const PREFIX: &str = "BRS-";
const PATTERN: &str = "BRS-%";
/// How long the requests may take to be fulfilled.
const FULFILLED_WITHIN: Duration = Duration::from_secs(60);

pub(super) async fn run(args: &Args, world: &World, report: &mut Report) -> anyhow::Result<()> {
    let (n, rate) = (args.restock_count, args.restock_rate);
    let skus = numbered_skus(PREFIX, n);
    insert_products(&world.warehouse, &skus, 0, RESTOCK_REORDER).await?;
    progress(format!(
        "restock: {n} out-of-stock purchases on distinct skus at {rate}/s (factory production time 0)"
    ));
    let answers = purchase(world, &skus, rate).await?;
    wait_until_fulfilled(&world.warehouse, PATTERN, FULFILLED_WITHIN, Duration::from_millis(200)).await?;
    let timelines = reports::restock_timelines(&world.warehouse, PATTERN).await?;
    let stages = Stages::of(&timelines, &answers.at);
    let stock_back = reports::count_at_stock(&world.warehouse, PATTERN, 10).await?;
    progress(format!(
        "restock floor: bare SNS → SQS → SNS → SQS hops (prefix {}), {n} chains at {rate}/s",
        world.hop_prefix
    ));
    let hops = floor(args, &world.hop_prefix).await?;
    let measured = Measured {
        answers,
        stages,
        stock_back,
        hops,
    };
    if !measured.ok(n) {
        report.failures.push(measured.failure(n));
    }
    render(args, report, &measured);
    Ok(())
}

/// The purchases' answers.
struct Answers {
    /// When the client got each 409, by the restock request it opened.
    at: BTreeMap<String, DateTime<Utc>>,
    /// Purchases answered otherwise, or with no restock request.
    not_409: usize,
}

/// One purchase's answer.
struct Answer {
    outcome: RequestOutcome,
    restock_request_id: Option<String>,
    at: DateTime<Utc>,
}

/// One purchase of each sku, the i-th at i / `rate` seconds.
async fn purchase(world: &World, skus: &[String], rate: f64) -> anyhow::Result<Answers> {
    let every = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let t_start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, sku) in skus.iter().enumerate() {
        let (mut client, sku) = (HttpClient::new(world.sales), sku.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(t_start + every * i as u32).await;
            let (outcome, body) = client.checkout(&sku, 1).await;
            let at = Utc::now();
            let restock_request_id = body
                .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                .and_then(|v| v["restock_request_id"].as_str().map(str::to_string));
            Answer {
                outcome,
                restock_request_id,
                at,
            }
        }));
    }
    let mut answers = Answers {
        at: BTreeMap::new(),
        not_409: 0,
    };
    for task in futures::future::join_all(tasks).await {
        match task? {
            Answer {
                outcome: RequestOutcome::OutOfStock,
                restock_request_id: Some(id),
                at,
            } => {
                answers.at.insert(id, at);
            }
            _ => answers.not_409 += 1,
        }
    }
    Ok(answers)
}

/// Each fulfilled request's stages, ms.
#[derive(Default)]
struct Stages {
    requested_to_answer: Vec<f64>,
    requested_to_published: Vec<f64>,
    published_to_ordered: Vec<f64>,
    ordered_to_produced: Vec<f64>,
    produced_to_fulfilled: Vec<f64>,
    answer_to_fulfilled: Vec<f64>,
    /// Requests not fulfilled (or with no 409 answer seen).
    unfinished: usize,
}

impl Stages {
    fn of(timelines: &[RestockTimeline], answered: &BTreeMap<String, DateTime<Utc>>) -> Self {
        let mut stages = Self::default();
        for t in timelines {
            let requested = t.requested_at;
            let (Some(p), Some(o), Some(d), Some(f), Some(answered)) = (
                t.published_at,
                t.ordered_at,
                t.produced_at,
                t.fulfilled_at,
                answered.get(&t.id),
            ) else {
                stages.unfinished += 1;
                continue;
            };
            let answered = answered.naive_utc();
            stages.requested_to_answer.push(ms_between(requested, answered));
            stages.requested_to_published.push(ms_between(requested, p));
            stages.published_to_ordered.push(ms_between(p, o));
            stages.ordered_to_produced.push(ms_between(o, d));
            stages.produced_to_fulfilled.push(ms_between(d, f));
            stages.answer_to_fulfilled.push(ms_between(answered, f));
        }
        stages
    }
}

/// The bare hops through the private topology, same count and rate.
async fn floor(args: &Args, hop_prefix: &str) -> anyhow::Result<HopResult> {
    let topology = ceiling::Topology::discover(&args.aws_endpoint, hop_prefix).await?;
    let plan = HopPlan {
        chains: args.restock_count,
        pace: Pace::Rate(args.restock_rate),
        in_flight: ConsumerSettings::default().max_in_flight,
        wait_seconds: 20,
        deadline: Duration::from_secs(30),
    };
    ceiling::hops(topology, plan).await
}

/// Everything restock measured.
struct Measured {
    answers: Answers,
    stages: Stages,
    /// Skus back at their reorder quantity.
    stock_back: i64,
    hops: HopResult,
}

impl Measured {
    fn ok(&self, n: usize) -> bool {
        self.answers.not_409 == 0 && self.stages.unfinished == 0 && self.stock_back == n as i64 && self.hops.lost == 0
    }

    fn failure(&self, n: usize) -> String {
        format!(
            "restock: {} purchases not answered 409, {} requests not fulfilled within 60 s, {}/{n} skus back in stock, {} bare-hop chains lost",
            self.answers.not_409, self.stages.unfinished, self.stock_back, self.hops.lost
        )
    }
}

fn render(args: &Args, report: &mut Report, measured: &Measured) {
    let (n, rate) = (args.restock_count, args.restock_rate);
    let stages = &measured.stages;
    let end_to_end = Quantiles::of(stages.answer_to_fulfilled.clone());
    let chains = &measured.hops.chains;
    let floor = Quantiles::of(chains.iter().map(|c| c.second_receive).collect());
    let row = |name: &str, q: Quantiles| format!("| {name} | {} |\n", q.cells());
    let stage = |name: &str, ms: &[f64]| row(name, Quantiles::of(ms.to_vec()));
    let hop = |name: &str, ms: fn(&Chain) -> f64| row(name, Quantiles::of(chains.iter().map(ms).collect()));
    let stage_rows = [
        stage("requested → 409 answer (commit + HTTP)", &stages.requested_to_answer),
        stage(
            "requested → published (outbox relay: SNS publish of stock_empty)",
            &stages.requested_to_published,
        ),
        stage(
            "published → ordered (SNS → stock_queue → stock-worker → factory order)",
            &stages.published_to_ordered,
        ),
        stage(
            "ordered → produced (factory production line, production time 0)",
            &stages.ordered_to_produced,
        ),
        stage(
            "produced → fulfilled (factory outbox → SNS → stock_inc_queue → stock-inc-worker tx)",
            &stages.produced_to_fulfilled,
        ),
        row("**409 answer → stock back (fulfilled_at), end to end**", end_to_end),
    ];
    let hop_rows = [
        hop("SNS publish → SQS receive (stock_empty → stock_queue)", |c| {
            c.first_receive
        }),
        hop("SNS publish (stock_arrival), after receive", |c| {
            c.second_publish - c.first_receive
        }),
        hop("→ SQS receive (stock_inc_queue)", |c| {
            c.second_receive - c.second_publish
        }),
        row("**all four hops, end to end**", floor),
    ];
    let table = format!(
        "| stage | p50 ms | p95 ms | max ms |\n|---|---|---|---|\n{}",
        stage_rows.concat()
    );
    let floor_table = format!(
        "| bare hop | p50 ms | p95 ms | max ms |\n|---|---|---|---|\n{}",
        hop_rows.concat()
    );

    let ratio = end_to_end.p50 / floor.p50.max(1e-9);
    report.rows.push(SummaryRow {
        scenario: format!("restock ({n} skus at {rate}/s)"),
        system: format!("median {:.0} ms (p95 {:.0})", end_to_end.p50, end_to_end.p95),
        ceiling: format!("median {:.0} ms (p95 {:.0}), bare hops", floor.p50, floor.p95),
        ratio: format!("{ratio:.2}× median"),
        target: "median ≤ 2× bare-hop floor".into(),
        met: report::verdict(ratio <= 2.0),
    });
    report.sections.push(format!(
        "## restock\n\n{n} out-of-stock purchases on distinct skus, {rate} per second; factory production time 0. Stages from the restock request's timestamps (`requested_at`, the outbox row's `published_at`, `ordered_at`, `produced_at`, `fulfilled_at`) and the client's clock at the 409 answer (one machine, one clock).\n\n{table}\nFloor: the same count and rate of bare chains through a private topology (one long-polling receive loop per queue, 20 s wait, as the workers):\n\n{floor_table}\nCheck: {} answered 409, {} of {n} fulfilled, {} skus back in stock; {} bare chains lost: {}.",
        measured.answers.at.len(),
        n - stages.unfinished,
        measured.stock_back,
        measured.hops.lost,
        if measured.ok(n) { "all restocked" } else { "**FAILED**" }
    ));
}
