//! `stockctl surplus`: production orders that arrived for a restock request another
//! order had fulfilled. stock-inc-worker added none of their goods to stock; the goods
//! did arrive, so a person settles each one once: `--keep` adds them to stock (as an
//! order of no request, so the books balance), `--return` leaves stock unchanged.

use serde::Serialize;
use uuid::Uuid;
use warehouse::reports;
use warehouse::restock::{self, Settled, Settlement};

use crate::context::Ctx;
pub use crate::status::SurplusLine;

#[derive(Debug, Clone, Serialize)]
pub struct SurplusReport {
    /// Unsettled surplus arrivals, oldest first.
    pub surplus: Vec<SurplusLine>,
}

impl SurplusReport {
    pub fn human(&self) -> String {
        if self.surplus.is_empty() {
            return "No surplus arrival awaits a decision.\n".into();
        }
        format!(
            "Surplus arrivals awaiting a decision (settle each: `stockctl surplus settle <production order> --keep|--return`)\n{}",
            crate::status::surplus_table(&self.surplus).render()
        )
    }
}

pub async fn list(ctx: &Ctx) -> anyhow::Result<SurplusReport> {
    let pool = ctx.warehouse().await?;
    let result = reports::unsettled_surplus(&pool).await;
    pool.disconnect().await.ok();
    let surplus = result.map_err(|e| ctx.db_error(e.into()))?;
    Ok(SurplusReport { surplus })
}

#[derive(Debug, Clone, Serialize)]
pub struct SettleReport {
    pub production_order_id: Uuid,
    /// `kept` or `returned`: how it is settled now.
    pub settlement: String,
    /// False when it had been settled before (nothing changed).
    pub changed: bool,
}

impl SettleReport {
    pub fn human(&self) -> String {
        if self.changed {
            format!(
                "production order {} settled as {}{}\n",
                self.production_order_id,
                self.settlement,
                if self.settlement == "kept" {
                    ": its goods were added to stock"
                } else {
                    ": stock unchanged"
                }
            )
        } else {
            format!(
                "production order {} was already settled as {}: nothing changed\n",
                self.production_order_id, self.settlement
            )
        }
    }
}

pub async fn settle(ctx: &Ctx, production_order_id: Uuid, settlement: Settlement) -> anyhow::Result<SettleReport> {
    let pool = ctx.warehouse().await?;
    let result = restock::settle(&pool, &production_order_id.to_string(), settlement).await;
    pool.disconnect().await.ok();
    let (settlement, changed) = match result.map_err(|e| ctx.db_error(e.into()))? {
        Settled::Now => (settlement.as_str().to_string(), true),
        Settled::Already(before) => (before, false),
        Settled::NotFound => anyhow::bail!(
            "no surplus arrival has production order {production_order_id}: `stockctl surplus list` shows those awaiting a decision"
        ),
    };
    Ok(SettleReport {
        production_order_id,
        settlement,
        changed,
    })
}
