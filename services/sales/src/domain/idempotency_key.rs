//! The `Idempotency-Key` header of `POST /checkout`.

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use stockflow_shared::problem::Problem;

/// 1 to 128 visible ASCII characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, Problem> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value.to_str().map(str::trim).unwrap_or_default();
        if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(Problem::invalid_field(
                "the Idempotency-Key header must be 1-128 visible ASCII characters",
            ));
        }
        Ok(Some(Self(key.to_string())))
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
        assert_eq!(
            IdempotencyKey::from_headers(&headers("abc-1"))
                .unwrap()
                .unwrap()
                .as_str(),
            "abc-1"
        );
        assert_eq!(IdempotencyKey::from_headers(&headers("")).unwrap_err().status, 422);
        assert_eq!(
            IdempotencyKey::from_headers(&headers(&"k".repeat(129)))
                .unwrap_err()
                .status,
            422
        );
    }
}
