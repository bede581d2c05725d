//! `stockctl status`: stock, open restock requests, surplus arrivals awaiting a decision,
//! queue depths and alarm states.

use std::fmt::Write;

use aws_sdk_cloudwatch::types::StateValue;
use serde::Serialize;
use stockflow_contracts::names;

use warehouse::reports;
pub use warehouse::reports::{OpenRestockAge as OpenRestock, StockLine as Product, SurplusLine};

use crate::context::Ctx;
use crate::table::Table;

/// The queues `status` reports, in the order of the flow.
pub const QUEUES: [&str; 5] = [
    names::STOCK_QUEUE,
    names::STOCK_DLQ,
    names::STOCK_INC_QUEUE,
    names::STOCK_INC_DLQ,
    names::OPS_ALERT_QUEUE,
];

/// The alarms localstack/stockflow.yaml declares, without the prefix (a unit test
/// checks this list against the template).
pub const ALARMS: [&str; 4] = [
    "dead_letter_queue-not-empty",
    "stock_inc_dead_letter_queue-not-empty",
    "stock_queue-oldest-message-age",
    "stock_inc_queue-oldest-message-age",
];

#[derive(Debug, Clone, Serialize)]
pub struct QueueDepth {
    /// The base name, e.g. `stock_queue`.
    pub queue: String,
    /// The full name, with the environment's prefix.
    pub name: String,
    /// ApproximateNumberOfMessages.
    pub visible: i64,
    /// ApproximateNumberOfMessagesNotVisible (being processed, or backing off).
    pub in_flight: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Alarm {
    pub name: String,
    /// OK, ALARM or INSUFFICIENT_DATA.
    #[serde(with = "state_serde")]
    pub state: StateValue,
    pub reason: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// What needs a person, one line each with the command to look closer; empty
    /// when all is well.
    pub attention: Vec<String>,
    pub products: Vec<Product>,
    pub open_restocks: Vec<OpenRestock>,
    /// Production orders that arrived for fulfilled restock requests, not yet settled.
    pub surplus: Vec<SurplusLine>,
    pub queues: Vec<QueueDepth>,
    pub alarms: Vec<Alarm>,
}

pub async fn status(ctx: &Ctx) -> anyhow::Result<StatusReport> {
    let (products, open_restocks, surplus) = warehouse(ctx).await?;
    let mut queues = Vec::new();
    for base in QUEUES {
        let url = ctx.queue_url(base).await?;
        let (visible, in_flight) = ctx.depth(&url).await?;
        queues.push(QueueDepth {
            queue: base.to_string(),
            name: ctx.resources.name(base),
            visible,
            in_flight,
        });
    }
    let alarms = alarms(ctx).await?;
    Ok(StatusReport {
        attention: attention(&open_restocks, &surplus, &queues, &alarms),
        products,
        open_restocks,
        surplus,
        queues,
        alarms,
    })
}

async fn warehouse(ctx: &Ctx) -> anyhow::Result<(Vec<Product>, Vec<OpenRestock>, Vec<SurplusLine>)> {
    let pool = ctx.warehouse().await?;
    let result = async {
        let products = reports::stock_table(&pool).await?;
        let open = reports::open_restocks(&pool).await?;
        let surplus = reports::unsettled_surplus(&pool).await?;
        Ok::<_, mysql_async::Error>((products, open, surplus))
    }
    .await;
    pool.disconnect().await.ok();
    result.map_err(|e| ctx.db_error(e.into()))
}

/// The template's alarms of this environment. With an empty prefix, other
/// environments' alarms (e.g. tests') share the account, so only the template's
/// names are kept.
pub async fn alarms(ctx: &Ctx) -> anyhow::Result<Vec<Alarm>> {
    let prefix = ctx.prefix();
    let mut request = ctx.cloudwatch.describe_alarms();
    if !prefix.is_empty() {
        request = request.alarm_name_prefix(prefix);
    }
    let mut pages = request.into_paginator().send();
    let mut alarms = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ctx.aws_error("cannot describe the CloudWatch alarms", e))?;
        for alarm in page.metric_alarms() {
            let name = alarm.alarm_name().unwrap_or_default();
            let ours = name.strip_prefix(prefix).is_some_and(|rest| ALARMS.contains(&rest));
            if ours {
                alarms.push(Alarm {
                    name: name.to_string(),
                    state: alarm.state_value().cloned().unwrap_or_else(|| StateValue::from("")),
                    reason: alarm.state_reason().unwrap_or_default().to_string(),
                    updated_at: alarm.state_updated_timestamp().map(|t| t.to_string()),
                });
            }
        }
    }
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}

/// A restock request open longer than this is worth a look (`verify`'s default).
const STALE_RESTOCK_SECONDS: i64 = 600;

/// The lines of the "needs attention" summary.
fn attention(open: &[OpenRestock], surplus: &[SurplusLine], queues: &[QueueDepth], alarms: &[Alarm]) -> Vec<String> {
    let mut lines = Vec::new();
    for s in surplus {
        lines.push(format!(
            "production order {} brought {} x {} for restock request {}, which {} had fulfilled: not added to stock, decide with `stockctl surplus settle {} --keep|--return` (docs/operations.md#surplus-arrival)",
            s.production_order_id,
            s.quantity,
            s.sku,
            s.restock_request_id,
            s.fulfilled_by.as_deref().unwrap_or("another order"),
            s.production_order_id
        ));
    }
    for q in queues {
        let held = q.visible + q.in_flight;
        if held == 0 {
            continue;
        }
        if q.queue == names::STOCK_DLQ || q.queue == names::STOCK_INC_DLQ {
            lines.push(format!("{held} message(s) in {}: `stockctl dlq list`", q.name));
        } else if q.queue == names::OPS_ALERT_QUEUE && q.visible > 0 {
            lines.push(format!(
                "{} unread alert(s) in {}: `stockctl alerts`",
                q.visible, q.name
            ));
        }
    }
    for a in alarms.iter().filter(|a| a.state == StateValue::Alarm) {
        lines.push(format!("alarm {} is in ALARM: see docs/operations.md", a.name));
    }
    for r in open.iter().filter(|r| r.age_seconds > STALE_RESTOCK_SECONDS) {
        lines.push(format!(
            "restock request {} ({}) open for {} s: `stockctl verify`",
            r.id, r.sku, r.age_seconds
        ));
    }
    lines
}

impl StatusReport {
    pub fn human(&self) -> String {
        let mut out = String::new();
        if self.attention.is_empty() {
            out.push_str("OK: no dead letters, no alarm, no unread alert, no stale restock\n\n");
        } else {
            out.push_str("NEEDS ATTENTION\n");
            for line in &self.attention {
                let _ = writeln!(out, "  - {line}");
            }
            out.push('\n');
        }
        let mut products = Table::new(&["sku", "name", "stock"]);
        for p in &self.products {
            products.row(vec![p.sku.clone(), p.name.clone(), p.stock.to_string()]);
        }
        let _ = writeln!(out, "Products\n{}", products.render());

        if self.open_restocks.is_empty() {
            out.push_str("Open restock requests: none\n\n");
        } else {
            let mut open = Table::new(&["id", "sku", "quantity", "shortages", "age (s)"]);
            for r in &self.open_restocks {
                open.row(vec![
                    r.id.clone(),
                    r.sku.clone(),
                    r.quantity.to_string(),
                    r.shortages.to_string(),
                    r.age_seconds.to_string(),
                ]);
            }
            let _ = writeln!(out, "Open restock requests\n{}", open.render());
        }

        if !self.surplus.is_empty() {
            let _ = writeln!(
                out,
                "Surplus arrivals awaiting a decision\n{}",
                surplus_table(&self.surplus).render()
            );
        }

        let mut queues = Table::new(&["queue", "visible", "in flight"]);
        for q in &self.queues {
            queues.row(vec![q.name.clone(), q.visible.to_string(), q.in_flight.to_string()]);
        }
        let _ = writeln!(out, "Queues\n{}", queues.render());

        let mut alarms = Table::new(&["alarm", "state", "since", "reason"]);
        for a in &self.alarms {
            alarms.row(vec![
                a.name.clone(),
                a.state.as_str().to_string(),
                a.updated_at.clone().unwrap_or_else(|| "-".into()),
                crate::table::preview(&a.reason, 100),
            ]);
        }
        if alarms.is_empty() {
            out.push_str("Alarms: none found (is localstack/stockflow.yaml deployed with this prefix?)\n");
        } else {
            let _ = write!(out, "Alarms\n{}", alarms.render());
        }
        out
    }
}

/// The surplus arrivals as a table (`status`, `surplus list`).
pub fn surplus_table(surplus: &[SurplusLine]) -> Table {
    let mut table = Table::new(&[
        "production order",
        "restock request",
        "fulfilled by",
        "sku",
        "quantity",
        "arrived",
        "alerted",
    ]);
    for s in surplus {
        table.row(vec![
            s.production_order_id.clone(),
            s.restock_request_id.clone(),
            s.fulfilled_by.clone().unwrap_or_else(|| "-".into()),
            s.sku.clone(),
            s.quantity.to_string(),
            s.arrived_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            if s.alerted { "yes" } else { "not yet" }.to_string(),
        ]);
    }
    table
}

/// An alarm state (the SDK's enum) as its CloudWatch name, e.g. `"ALARM"`, in JSON.
pub mod state_serde {
    use aws_sdk_cloudwatch::types::StateValue;
    use serde::{Serialize, Serializer};

    pub fn serialize<S: Serializer>(state: &StateValue, serializer: S) -> Result<S::Ok, S::Error> {
        state.as_str().serialize(serializer)
    }

    /// The same for an optional state (`null` when absent).
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(state: &Option<StateValue>, serializer: S) -> Result<S::Ok, S::Error> {
            state.as_ref().map(StateValue::as_str).serialize(serializer)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_names_surplus_dead_letters_alarms_unread_alerts_and_stale_restocks() {
        let queue = |queue: &str, visible, in_flight| QueueDepth {
            queue: queue.into(),
            name: format!("p_{queue}"),
            visible,
            in_flight,
        };
        let healthy = [
            queue(names::STOCK_QUEUE, 3, 2),
            queue(names::STOCK_DLQ, 0, 0),
            queue(names::OPS_ALERT_QUEUE, 0, 1),
        ];
        let ok = Alarm {
            name: "p_dead_letter_queue-not-empty".into(),
            state: StateValue::Ok,
            reason: String::new(),
            updated_at: None,
        };
        let young = OpenRestock {
            id: "r1".into(),
            sku: "S".into(),
            quantity: 1,
            shortages: 1,
            age_seconds: 5,
        };
        assert!(attention(std::slice::from_ref(&young), &[], &healthy, std::slice::from_ref(&ok)).is_empty());

        let troubled = [queue(names::STOCK_DLQ, 1, 0), queue(names::OPS_ALERT_QUEUE, 2, 0)];
        let firing = Alarm {
            state: StateValue::Alarm,
            ..ok
        };
        let old = OpenRestock {
            age_seconds: 900,
            ..young
        };
        assert_eq!(serde_json::to_value(&firing).unwrap()["state"], "ALARM");
        let surplus = SurplusLine {
            production_order_id: "po2".into(),
            restock_request_id: "r0".into(),
            fulfilled_by: Some("po1".into()),
            sku: "S".into(),
            quantity: 5,
            arrived_at: chrono::NaiveDateTime::default(),
            alerted: true,
        };
        let lines = attention(&[old], &[surplus], &troubled, &[firing]);
        assert_eq!(
            lines,
            [
                "production order po2 brought 5 x S for restock request r0, which po1 had fulfilled: not added to stock, decide with `stockctl surplus settle po2 --keep|--return` (docs/operations.md#surplus-arrival)",
                "1 message(s) in p_dead_letter_queue: `stockctl dlq list`",
                "2 unread alert(s) in p_ops_alert_queue: `stockctl alerts`",
                "alarm p_dead_letter_queue-not-empty is in ALARM: see docs/operations.md",
                "restock request r1 (S) open for 900 s: `stockctl verify`",
            ]
        );
    }

    #[test]
    fn the_alarm_list_matches_the_template() {
        let template = include_str!("../../../localstack/stockflow.yaml");
        let declared: Vec<&str> = template
            .lines()
            .filter_map(|l| l.trim().strip_prefix("AlarmName: !Sub \"${Prefix}"))
            .map(|rest| rest.trim_end_matches('"'))
            .collect();
        let mut declared = declared;
        declared.sort();
        let mut known = ALARMS.to_vec();
        known.sort();
        assert_eq!(declared, known);
    }
}
