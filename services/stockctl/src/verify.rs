//! `stockctl verify`: the stock invariant (`warehouse::invariant`).

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;
use warehouse::invariant::{self, Report};

use crate::context::Ctx;
use crate::table::Table;

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub holds: bool,
    pub max_open_seconds: u64,
    #[serde(flatten)]
    pub report: Report,
}

pub async fn verify(ctx: &Ctx, max_open_seconds: u64) -> anyhow::Result<VerifyReport> {
    let pool = ctx.warehouse().await?;
    let result = invariant::check(&pool, Duration::from_secs(max_open_seconds)).await;
    pool.disconnect().await.ok();
    let report = result.map_err(|e| ctx.db_error(e))?;
    Ok(VerifyReport {
        holds: report.holds(),
        max_open_seconds,
        report,
    })
}

impl VerifyReport {
    pub fn human(&self) -> String {
        let mut t = Table::new(&["sku", "initial", "produced", "sold", "expected", "stock", ""]);
        for b in &self.report.balances {
            t.row(vec![
                b.sku.clone(),
                b.initial.to_string(),
                b.produced.to_string(),
                b.sold.to_string(),
                (b.initial + b.produced - b.sold).to_string(),
                b.stock.to_string(),
                if b.balances() { "ok" } else { "MISMATCH" }.into(),
            ]);
        }
        let mut out = t.render();
        out.push('\n');
        if self.holds {
            let _ = writeln!(
                out,
                "invariant holds: initial + produced - sold = stock for every sku, no restock request open over {} s",
                self.max_open_seconds
            );
        } else {
            let _ = writeln!(out, "INVARIANT VIOLATED:");
            for v in &self.report.violations {
                let _ = writeln!(out, "  {v}");
            }
        }
        out
    }
}
