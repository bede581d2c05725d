//! RFC 9457 problem details: every HTTP error of every service is
//! `application/problem+json` with `type`, `title`, `status` and `detail`. A request's
//! errors become problems here: a body that is not JSON is 400, a field that breaks the
//! contract 422 ([`crate::body`]), and so is a bad `Idempotency-Key`.

use crate::body::BodyError;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use stockflow_contracts::IdempotencyKey;
use stockflow_contracts::idempotency_key::HEADER as IDEMPOTENCY_KEY;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// `Retry-After` of every 503 answer, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 1;

/// A problem answer. `kind` becomes the `type` URI `/problems/{kind}`.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("{title}: {detail}")]
#[cfg_attr(feature = "openapi", schema(example = json!({"type": "/problems/invalid-field", "title": "Invalid request field", "status": 422, "detail": "quantity must be a whole number from 1 to 1000 (got 0)"})))]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// The problems every endpoint that reads a JSON body from the database's answer can give,
/// for `#[utoipa::path(responses(..., BodyProblems))]`: 400 not JSON, 413 too large, 503
/// database unavailable. An endpoint documents its own 404 and 422 beside them.
#[cfg(feature = "openapi")]
#[derive(utoipa::IntoResponses)]
pub enum BodyProblems {
    #[response(status = 400, description = "Not JSON", content_type = "application/problem+json")]
    NotJson(Problem),
    #[response(
        status = 413,
        description = "Body over 64 KiB",
        content_type = "application/problem+json"
    )]
    TooLarge(Problem),
    #[response(
        status = 503,
        description = "Database unavailable",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{kind}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }

    /// The body could not be read as JSON at all.
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed request body",
            detail,
        )
    }

    /// The JSON is well-formed but a field is missing, of the wrong type or out of range.
    pub fn invalid_field(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid request field",
            detail,
        )
    }

    pub fn not_found(kind: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, title, detail)
    }

    /// The body is larger than the service accepts.
    pub fn body_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            format!("the body exceeds the {} KiB limit", limit_bytes / 1024),
        )
    }

    /// Something on our side failed; the detail says what to do, never internals.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service temporarily unavailable",
            detail,
        )
    }
}

impl From<BodyError> for Problem {
    fn from(err: BodyError) -> Self {
        match err {
            BodyError::NotJson(detail) => Self::malformed_body(detail),
            BodyError::Invalid(detail) => Self::invalid_field(detail),
        }
    }
}

/// The `Idempotency-Key` of a request, `None` without the header; 422 when it breaks the rule.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, Problem> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let key = IdempotencyKey::parse(value.to_str().unwrap_or_default());
    Ok(Some(key.map_err(|err| Problem::invalid_field(err.to_string()))?))
}

/// The answer when an `Idempotency-Key` comes back with a different request.
pub fn idempotency_key_reused() -> Problem {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "Idempotency key reused",
        "this Idempotency-Key was already used with a different request; use a new key for a new purchase",
    )
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if self.status == StatusCode::SERVICE_UNAVAILABLE.as_u16() {
            // A dependency is down for a moment: tell clients when to try again.
            response.insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string()));
        }
        response.content_type(CONTENT_TYPE).json(self)
    }
}

/// The largest request body the services read.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Reads a request body of at most [`BODY_LIMIT`] bytes, as a problem otherwise.
pub async fn read_body(payload: actix_web::web::Payload) -> Result<actix_web::web::Bytes, Problem> {
    payload
        .to_bytes_limited(BODY_LIMIT)
        .await
        .map_err(|_| Problem::body_too_large(BODY_LIMIT))?
        .map_err(|err| Problem::malformed_body(format!("cannot read the body: {err}")))
}

/// JSON extractor settings whose errors are problems too (400 for a body that is not
/// JSON, 422 for JSON of the wrong shape).
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _| {
            use actix_web::error::JsonPayloadError;
            let problem = match &err {
                JsonPayloadError::Deserialize(e) if e.is_data() => Problem::invalid_field(e.to_string()),
                JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    Problem::body_too_large(*limit)
                }
                other => Problem::malformed_body(other.to_string()),
            };
            problem.into()
        })
}

/// One route: `method` served by `handler`, any other method answered 405.
pub fn resource<F, Args>(path: &str, method: actix_web::Route, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    actix_web::web::resource(path)
        .route(method.to(handler))
        .default_service(actix_web::web::to(method_not_allowed))
}

/// The answer for a known path asked with a method it does not serve.
pub async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<HttpResponse, Problem> {
    Err(Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{} is not served on {}; see /openapi.json", req.method(), req.path()),
    ))
}

/// The default answer for routes that do not exist.
pub async fn not_found_route() -> Result<HttpResponse, Problem> {
    Err(Problem::not_found(
        "no-such-route",
        "No such route",
        "see the README for the routes this service offers",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    #[actix_web::test]
    async fn problems_render_as_rfc9457_json() {
        let problem = Problem::invalid_field("quantity must be between 1 and 1000");
        let response = problem.error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(response.headers().get("content-type").unwrap(), CONTENT_TYPE);
        let body: serde_json::Value = serde_json::from_slice(&to_bytes(response.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["type"], "/problems/invalid-field");
        assert_eq!(body["status"], 422);
        assert_eq!(body["title"], "Invalid request field");
        assert_eq!(body["detail"], "quantity must be between 1 and 1000");
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let response = Problem::unavailable("the database is down").error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").unwrap(), "1");
        assert_eq!(response.headers().get("content-type").unwrap(), CONTENT_TYPE);
    }

    fn headers(value: &[u8]) -> HeaderMap {
        use actix_web::http::header::{HeaderName, HeaderValue};
        let mut map = HeaderMap::new();
        map.insert(
            HeaderName::from_static("idempotency-key"),
            HeaderValue::from_bytes(value).unwrap(),
        );
        map
    }

    #[test]
    fn reads_the_idempotency_key_header_and_refuses_a_bad_one_with_422() {
        assert_eq!(idempotency_key(&HeaderMap::new()).unwrap(), None);
        assert_eq!(
            idempotency_key(&headers(b" abc-1 ")).unwrap().unwrap().as_str(),
            "abc-1"
        );
        for bad in [&b"a b"[..], b"caf\xc3\xa9"] {
            let problem = idempotency_key(&headers(bad)).unwrap_err();
            assert_eq!(problem.status, 422, "{bad:?}");
            assert!(problem.detail.contains("visible ASCII"));
        }
    }

    #[test]
    fn body_errors_are_400_and_422() {
        assert_eq!(Problem::from(BodyError::NotJson("x".into())).status, 400);
        assert_eq!(Problem::from(BodyError::Invalid("x".into())).status, 422);
    }
}
