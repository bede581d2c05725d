//! The stock invariant, written once for tests and operators (`stockctl verify`):
//! for every sku, initial stock + produced − sold == current stock; no stock is
//! negative; no restock request stays open longer than a threshold.

use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use serde::Serialize;

/// One sku's books.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Balance {
    pub sku: String,
    pub initial: i64,
    pub produced: i64,
    pub sold: i64,
    pub stock: i64,
}

impl Balance {
    pub fn balances(&self) -> bool {
        self.initial + self.produced - self.sold == self.stock
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub balances: Vec<Balance>,
    /// What is wrong, one sentence each; empty when the invariant holds.
    pub violations: Vec<String>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks the warehouse; `max_open` is how long a restock request may stay open.
pub async fn check(pool: &Pool, max_open: Duration) -> anyhow::Result<Report> {
    let mut conn = pool.get_conn().await?;
    let rows: Vec<(String, i64, i64, i64, i64)> = conn
        .query(
            "SELECT p.sku, p.initial_stock, \
               CAST(COALESCE((SELECT SUM(a.quantity) FROM applied_production_orders a WHERE a.sku = p.sku), 0) AS SIGNED), \
               CAST(COALESCE((SELECT SUM(o.quantity) FROM orders o WHERE o.sku = p.sku), 0) AS SIGNED), \
               p.stock \
             FROM products p ORDER BY p.sku",
        )
        .await?;
    let balances: Vec<Balance> = rows
        .into_iter()
        .map(|(sku, initial, produced, sold, stock)| Balance {
            sku,
            initial,
            produced,
            sold,
            stock,
        })
        .collect();
    let mut violations = Vec::new();
    for b in &balances {
        if !b.balances() {
            violations.push(format!(
                "{}: initial {} + produced {} - sold {} = {}, but stock is {}",
                b.sku,
                b.initial,
                b.produced,
                b.sold,
                b.initial + b.produced - b.sold,
                b.stock
            ));
        }
        if b.stock < 0 {
            violations.push(format!("{}: stock is negative ({})", b.sku, b.stock));
        }
    }
    let stale: Vec<(String, String, i64)> = conn
        .exec(
            "SELECT id, sku, TIMESTAMPDIFF(SECOND, requested_at, CURRENT_TIMESTAMP(6)) FROM restock_requests \
             WHERE open_sku IS NOT NULL AND requested_at < CURRENT_TIMESTAMP(6) - INTERVAL ? SECOND ORDER BY requested_at",
            (max_open.as_secs(),),
        )
        .await?;
    for (id, sku, age) in stale {
        violations.push(format!(
            "{sku}: restock request {id} open for {age} s (over {} s): look for it in the DLQs",
            max_open.as_secs()
        ));
    }
    Ok(Report { balances, violations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_balance_adds_up_or_not() {
        let mut b = Balance {
            sku: "A".into(),
            initial: 3,
            produced: 10,
            sold: 5,
            stock: 8,
        };
        assert!(b.balances());
        b.stock = 9;
        assert!(!b.balances());
    }
}
