//! The restock request id: sales opens a restock request under it, `stock_empty` carries
//! it to stock-worker, which sends it to the factory (as `MessageGroupId` and as the
//! `Idempotency-Key`), and `stock_arrival` brings it back to the warehouse. One type for
//! all of them: on the wire and in the database it is the UUID's hyphenated text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A restock request's id (a UUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RestockRequestId(Uuid);

impl RestockRequestId {
    /// A new, unique id.
    #[allow(
        clippy::new_without_default,
        reason = "a default id would be a surprise; new() is a fresh one"
    )]
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for RestockRequestId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl FromStr for RestockRequestId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

impl fmt::Display for RestockRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_uuid_text_on_the_wire_and_in_display() {
        let id = RestockRequestId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(id.to_string().len(), 36);
        assert_eq!(serde_json::from_str::<RestockRequestId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<RestockRequestId>().unwrap(), id);
    }

    #[test]
    fn anything_but_a_uuid_is_refused() {
        assert!("r-1".parse::<RestockRequestId>().is_err());
        assert!(serde_json::from_str::<RestockRequestId>("\"\"").is_err());
    }
}
