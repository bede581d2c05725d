//! What a dead-lettered message carries: the consumer loop writes these message
//! attributes when it moves a message to its dead-letter queue, and `stockctl dlq` reads
//! them back. The names and the failure kinds are written here only.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The message attributes added to a dead-lettered message (its own attributes, such as
/// `event_type` and `correlation_id`, are kept).
pub mod attr {
    /// Why it failed, at most 1000 characters.
    pub const FAILURE_REASON: &str = "failure_reason";
    /// A [`super::FailureKind`].
    pub const FAILURE_KIND: &str = "failure_kind";
    /// The service that gave up on it.
    pub const FAILURE_SERVICE: &str = "failure_service";
    /// How many deliveries it had.
    pub const FAILURE_ATTEMPTS: &str = "failure_attempts";
    /// The queue it came from (its name with the environment's prefix).
    pub const SOURCE_QUEUE: &str = "source_queue";
    /// Its message id in the source queue.
    pub const ORIGINAL_MESSAGE_ID: &str = "original_message_id";
}

/// Why a worker dead-lettered a message (and raised an ops alert).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// A permanent failure (malformed message, unknown sku, the factory refused):
    /// dead-lettered on the first delivery.
    DeadLettered,
    /// A transient failure on the last delivery the queue's redrive policy allows.
    FinalAttemptFailed,
}

impl FailureKind {
    pub const ALL: [FailureKind; 2] = [FailureKind::DeadLettered, FailureKind::FinalAttemptFailed];

    /// The name on the wire (attribute value, alert `kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::DeadLettered => "dead_lettered",
            FailureKind::FinalAttemptFailed => "final_attempt_failed",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FailureKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| format!("unknown failure kind {text:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_name_is_the_serde_name_and_parses_back() {
        for kind in FailureKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(kind.as_str().parse::<FailureKind>().unwrap(), kind);
        }
        assert!("exploded".parse::<FailureKind>().is_err());
    }
}
