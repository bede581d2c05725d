//! The `Idempotency-Key` header: sales replays a purchase's answer under it, the factory
//! returns the production order placed under it. Both read it here, so both hold it to
//! the rule their problem states: 1 to 128 visible ASCII characters.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;

use crate::problem::Problem;

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

    /// The key of a request, `None` without the header; a 422 problem when it breaks the rule.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, Problem> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        Self::parse(value.to_str().unwrap_or_default()).map(Some)
    }

    /// Surrounding blanks are ignored.
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let key = raw.trim();
        if key.is_empty() || key.len() > Self::MAX_LEN || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Problem::invalid_field(format!(
                "the {HEADER} header must be 1-{} visible ASCII characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(key.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The answer when a key comes back with a different request.
    pub fn reused() -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
            "this Idempotency-Key was already used with a different request; use a new key for a new purchase",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_str(value).unwrap(),
        );
        map
    }

    #[test]
    fn reads_a_key_and_rejects_bad_ones() {
        assert_eq!(IdempotencyKey::from_headers(&HeaderMap::new()).unwrap(), None);
        let key = IdempotencyKey::from_headers(&headers(" abc-1 ")).unwrap().unwrap();
        assert_eq!(key.as_str(), "abc-1");
        assert!(IdempotencyKey::from_headers(&headers(&"k".repeat(128))).is_ok());
        for bad in ["", "   ", "a b", "tab\there", &"k".repeat(129)] {
            let problem = IdempotencyKey::from_headers(&headers(bad)).unwrap_err();
            assert_eq!(problem.status, 422, "{bad:?}");
            assert!(problem.detail.contains("visible ASCII"));
        }
    }

    #[test]
    fn a_header_that_is_not_text_is_refused() {
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        );
        assert_eq!(IdempotencyKey::from_headers(&map).unwrap_err().status, 422);
    }
}
