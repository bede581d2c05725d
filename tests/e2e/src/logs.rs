//! Reading a service replica's JSON log: the evidence of what one replica did when
//! replicas share a port (their `/metrics` cannot be read one by one there).

use std::path::Path;

/// The JSON lines of `log` whose message is `message`.
pub fn saying(log: &Path, message: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == message)
        .collect()
}

/// The sum of the number `field` over the lines of `log` saying `message`.
pub fn sum(log: &Path, message: &str, field: &str) -> u64 {
    saying(log, message).iter().filter_map(|v| v[field].as_u64()).sum()
}

/// What the outbox sweeper logs when it claims rows (`claimed`) and publishes (`published`),
/// and the fast path when a publish fails (`outbox_id`): `stockflow_messaging::outbox`'s words.
pub const SWEEPER_CLAIMED: &str = "outbox sweeper claimed events the fast path left";
pub const SWEEPER_PUBLISHED: &str = "outbox sweeper published events the fast path left";
pub const FAST_PATH_FAILED: &str = "publishing after commit failed; the outbox sweeper will retry";

/// The lines of `log` where the periodic task `task` (`stockflow_kit::periodic`) reported the
/// first failure of a streak: the outbox sweeper (`outbox_sweep`) when SNS is gone, the
/// factory's production line (`production_line`) when its database is (both retry).
pub fn task_failures(log: &Path, task: &str) -> usize {
    saying(log, stockflow_kit::periodic::FAILED)
        .iter()
        .filter(|v| v["task"] == task)
        .count()
}

/// What a consumer logs when a handler fails transiently (the message comes back).
pub const TRANSIENT_FAILURE: &str = "transient failure: will be delivered again";
