//! The restock requests of the warehouse as the restock and burst scenarios read them:
//! waiting until those of a sku pattern are fulfilled, and the time between two of their
//! timestamps.

use std::time::Duration;

use chrono::NaiveDateTime;
use mysql_async::Pool;
use warehouse::reports;

/// Polls every `poll` until no restock request of the skus matching `pattern` is open,
/// or `deadline` has passed.
pub(super) async fn wait_until_fulfilled(
    pool: &Pool,
    pattern: &str,
    deadline: Duration,
    poll: Duration,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    while reports::books(pool, pattern).await?.open_restocks > 0 && started.elapsed() < deadline {
        tokio::time::sleep(poll).await;
    }
    Ok(())
}

/// Milliseconds from `from` to `to` (negative if `to` is earlier).
pub(super) fn ms_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_microseconds().unwrap_or_default() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_between_keeps_microseconds() {
        let from = NaiveDateTime::parse_from_str("2026-01-01 00:00:00.000000", "%Y-%m-%d %H:%M:%S%.f").unwrap();
        let to = NaiveDateTime::parse_from_str("2026-01-01 00:00:01.250500", "%Y-%m-%d %H:%M:%S%.f").unwrap();
        assert_eq!(ms_between(from, to), 1250.5);
        assert_eq!(ms_between(to, from), -1250.5);
    }
}
