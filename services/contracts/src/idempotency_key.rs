//! The `Idempotency-Key` header: sales replays a purchase's answer under it, the factory
//! returns the production order placed under it. Both read it here, so both hold it to
//! the rule their problem states: 1 to 128 visible ASCII characters. (Reading it from an
//! HTTP request and the problem answers are `stockflow_kit::problem`'s.)

use std::fmt;

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// 1 to 128 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// How long sales remembers a key and its answer (the factory keeps a key with its
    /// production order).
    pub const TTL_HOURS: u32 = 24;
    pub const MAX_LEN: usize = 128;

    /// Surrounding blanks are ignored.
    pub fn parse(raw: &str) -> Result<Self, InvalidIdempotencyKey> {
        let key = raw.trim();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A key that breaks the rule; it states the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidIdempotencyKey;

impl fmt::Display for InvalidIdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {HEADER} header must be 1-{} visible ASCII characters",
            IdempotencyKey::MAX_LEN
        )
    }
}

impl std::error::Error for InvalidIdempotencyKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_key_and_rejects_bad_ones() {
        assert_eq!(IdempotencyKey::parse(" abc-1 ").unwrap().as_str(), "abc-1");
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        for bad in ["", "   ", "a b", "tab\there", "café", &"k".repeat(129)] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert!(err.to_string().contains("visible ASCII"), "{bad:?}");
        }
    }
}
