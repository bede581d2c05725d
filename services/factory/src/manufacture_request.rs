//! The legacy manufacture request body:
//! `{"MessageGroupId", "MessageAttributeProductId", "MessageAttributeProductCnt",
//! "MessageAttributeFactoryId", "MessageAttributeRequester", "CallbackUrl"}`.
//! `MessageAttributeProductCnt` may be a number or a string of digits, as the
//! original system sent it. `CallbackUrl` is recorded but not called: completions
//! travel through SNS `stock_arrival`.

use serde_json::{Map, Value};
use stockflow_shared::problem::Problem;

#[derive(Clone, Debug, PartialEq)]
pub struct ManufactureRequest {
    pub message_group_id: String,
    pub product_id: String,
    pub quantity: u32,
    pub factory_id: String,
    pub requester: String,
    pub callback_url: Option<String>,
    /// The body as received, echoed back in the reply's `data.data`.
    pub raw: Value,
}

/// The largest production order the factory takes at once.
pub const MAX_QUANTITY: i64 = 100_000;

impl ManufactureRequest {
    pub fn parse(body: &[u8]) -> Result<Self, Problem> {
        let raw: Value = serde_json::from_slice(body)
            .map_err(|err| Problem::malformed_body(format!("the body is not valid JSON: {err}")))?;
        let Value::Object(fields) = &raw else {
            return Err(Problem::invalid_field("the body must be a JSON object"));
        };
        let product_id = required_string(fields, "MessageAttributeProductId", 32)?;
        let quantity = match fields.get("MessageAttributeProductCnt") {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
            None => return Err(Problem::invalid_field("`MessageAttributeProductCnt` is required")),
        }
        .filter(|n| (1..=MAX_QUANTITY).contains(n))
        .ok_or_else(|| {
            Problem::invalid_field(format!(
                "`MessageAttributeProductCnt` must be a whole number from 1 to {MAX_QUANTITY}"
            ))
        })?;
        Ok(Self {
            message_group_id: optional_string(fields, "MessageGroupId", 128)?,
            product_id,
            quantity: quantity as u32,
            factory_id: optional_string(fields, "MessageAttributeFactoryId", 32)?,
            requester: optional_string(fields, "MessageAttributeRequester", 100)?,
            callback_url: Some(optional_string(fields, "CallbackUrl", 500)?).filter(|url| !url.is_empty()),
            raw,
        })
    }
}

fn required_string(fields: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, Problem> {
    let value = optional_string(fields, name, max_chars)?;
    if value.is_empty() {
        return Err(Problem::invalid_field(format!("`{name}` is required")));
    }
    Ok(value)
}

fn optional_string(fields: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, Problem> {
    match fields.get(name) {
        Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(s.clone()),
        Some(Value::String(_)) => Err(Problem::invalid_field(format!(
            "`{name}` must be at most {max_chars} characters"
        ))),
        Some(Value::Null) | None => Ok(String::new()),
        Some(_) => Err(Problem::invalid_field(format!("`{name}` must be a string"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_legacy_request() {
        let body = br#"{"MessageGroupId":"g-1","MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"10","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"kim","CallbackUrl":"http://x/cb"}"#;
        let request = ManufactureRequest::parse(body).unwrap();
        assert_eq!(request.product_id, "CP-502101");
        assert_eq!(request.quantity, 10);
        assert_eq!(request.message_group_id, "g-1");
        assert_eq!(request.callback_url.as_deref(), Some("http://x/cb"));
    }

    #[test]
    fn rejects_missing_and_malformed_fields() {
        assert_eq!(ManufactureRequest::parse(b"nope").unwrap_err().status, 400);
        assert_eq!(
            ManufactureRequest::parse(br#"{"MessageAttributeProductCnt":1}"#)
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(
            ManufactureRequest::parse(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":0}"#)
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(
            ManufactureRequest::parse(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":true}"#)
                .unwrap_err()
                .status,
            422
        );
    }
}
