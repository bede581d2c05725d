//! The `Idempotency-Key` header: sales replays a purchase's answer under it, the factory
//! returns the production order placed under it. Both read it here, so both hold it to
//! the rule their problem states: 1 to 128 visible ASCII characters. (Reading it from an
//! HTTP request and the problem answers are `stockflow_kit::problem`'s.)

use crate::fields::BodyError;

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
    pub fn parse(raw: &str) -> Result<Self, BodyError> {
        let key = raw.trim();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(BodyError::Invalid(format!(
                "the {HEADER} header must be 1-{} visible ASCII characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_key_and_rejects_bad_ones() {
        assert_eq!(IdempotencyKey::parse(" abc-1 ").unwrap().as_str(), "abc-1");
        assert!(IdempotencyKey::parse(&"k".repeat(128)).is_ok());
        for bad in ["", "   ", "a b", "tab\there", "café", &"k".repeat(129)] {
            let err = IdempotencyKey::parse(bad).unwrap_err();
            assert!(matches!(err, BodyError::Invalid(_)), "{bad:?}");
            assert!(err.detail().contains("visible ASCII"));
        }
    }
}
