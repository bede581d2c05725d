//! A purchase request, read from either body shape the API accepts:
//! `{"sku": "CP-502101", "quantity": 1, "requester": "…"}` or the original system's
//! `{"MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 1 | "1",
//! "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동"}`.
//! The legacy factory id is accepted and ignored: a product's factory is the one on
//! record.

use serde_json::{Map, Value};
use stockflow_shared::problem::Problem;

use super::{Quantity, Sku};

#[derive(Clone, Debug, PartialEq)]
pub struct CheckoutRequest {
    pub sku: Sku,
    pub quantity: Quantity,
    pub requester: String,
}

const LEGACY_SKU: &str = "MessageAttributeProductId";
const LEGACY_QUANTITY: &str = "MessageAttributeProductCnt";
const LEGACY_REQUESTER: &str = "MessageAttributeRequester";

impl CheckoutRequest {
    /// What makes two requests the same for an idempotency key.
    pub fn fingerprint(&self) -> String {
        format!("{}|{}|{}", self.sku, self.quantity.get(), self.requester)
    }

    /// Parses a body: 400 when it is not JSON, 422 when a field is missing or wrong.
    pub fn parse(body: &[u8]) -> Result<Self, Problem> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| Problem::malformed_body(format!("the body is not valid JSON: {err}")))?;
        let Value::Object(fields) = value else {
            return Err(Problem::invalid_field(
                "the body must be a JSON object such as {\"sku\": \"CP-502101\", \"quantity\": 1}",
            ));
        };
        if fields.contains_key("sku") || !fields.contains_key(LEGACY_SKU) {
            Self::from_fields(&fields, "sku", "quantity", "requester", false)
        } else {
            Self::from_fields(&fields, LEGACY_SKU, LEGACY_QUANTITY, LEGACY_REQUESTER, true)
        }
    }

    fn from_fields(
        fields: &Map<String, Value>,
        sku: &str,
        quantity: &str,
        requester: &str,
        legacy: bool,
    ) -> Result<Self, Problem> {
        let sku = match fields.get(sku) {
            Some(Value::String(raw)) => Sku::parse(raw).map_err(Problem::invalid_field)?,
            Some(_) => return Err(Problem::invalid_field(format!("`{sku}` must be a string"))),
            None => return Err(Problem::invalid_field(format!("`{sku}` is required"))),
        };
        let quantity_value = match fields.get(quantity) {
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| Problem::invalid_field(format!("`{quantity}` must be a whole number")))?,
            // The original system sent the count as a string.
            Some(Value::String(s)) if legacy => s
                .trim()
                .parse::<i64>()
                .map_err(|_| Problem::invalid_field(format!("`{quantity}` must be a whole number (got {s:?})")))?,
            Some(_) => return Err(Problem::invalid_field(format!("`{quantity}` must be a whole number"))),
            None => return Err(Problem::invalid_field(format!("`{quantity}` is required"))),
        };
        let quantity = Quantity::new(quantity_value).map_err(Problem::invalid_field)?;
        let requester = match fields.get(requester) {
            Some(Value::String(name)) if name.chars().count() <= 100 => name.clone(),
            Some(Value::String(_)) => {
                return Err(Problem::invalid_field(format!(
                    "`{requester}` must be at most 100 characters"
                )));
            }
            Some(Value::Null) | None => String::new(),
            Some(_) => return Err(Problem::invalid_field(format!("`{requester}` must be a string"))),
        };
        Ok(Self {
            sku,
            quantity,
            requester,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: &str) -> u16 {
        CheckoutRequest::parse(body.as_bytes()).unwrap_err().status
    }

    #[test]
    fn reads_the_modern_body() {
        let request = CheckoutRequest::parse(br#"{"sku":"CP-502101","quantity":2,"requester":"kim"}"#).unwrap();
        assert_eq!(request.sku.as_str(), "CP-502101");
        assert_eq!(request.quantity.get(), 2);
        assert_eq!(request.requester, "kim");
    }

    #[test]
    fn reads_the_legacy_body_with_a_string_count() {
        let body = r#"{"MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"1","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"홍길동"}"#;
        let request = CheckoutRequest::parse(body.as_bytes()).unwrap();
        assert_eq!(request.sku.as_str(), "CP-502101");
        assert_eq!(request.quantity.get(), 1);
        assert_eq!(request.requester, "홍길동");
    }

    #[test]
    fn malformed_json_is_400_and_bad_fields_are_422() {
        assert_eq!(status("{not json"), 400);
        assert_eq!(status(""), 400);
        assert_eq!(status("[1,2]"), 422);
        assert_eq!(status(r#"{"quantity":1}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101"}"#), 422);
        assert_eq!(status(r#"{"sku":5,"quantity":1}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":"1"}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":1.5}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":0}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":-3}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":1001}"#), 422);
        assert_eq!(status(r#"{"sku":"CP-502101","quantity":1e30}"#), 422);
        assert_eq!(
            status(r#"{"MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"x"}"#),
            422
        );
    }
}

/// The body of `POST /checkout` as the OpenAPI document describes it. Parsing goes
/// through [`CheckoutRequest::parse`] instead, so that each mistake gets a precise
/// problem; these types only document the two accepted shapes.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub enum CheckoutBody {
    Modern(ModernBody),
    Legacy(LegacyBody),
}

#[derive(utoipa::ToSchema)]
#[schema(example = json!({"sku": "CP-502101", "quantity": 1, "requester": "홍길동"}))]
#[allow(dead_code, reason = "describes the wire format for the OpenAPI document only")]
pub struct ModernBody {
    /// 1-32 letters, digits, `-` or `_`.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", min_length = 1, max_length = 32)]
    sku: String,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    quantity: u32,
    /// Who buys (at most 100 characters).
    #[schema(max_length = 100)]
    requester: Option<String>,
}

/// The original system's body; the count may be a number or a string of digits.
#[derive(utoipa::ToSchema)]
#[schema(example = json!({"MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": "1", "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동"}))]
#[allow(
    dead_code,
    non_snake_case,
    reason = "describes the wire format for the OpenAPI document only"
)]
pub struct LegacyBody {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,32}$", min_length = 1, max_length = 32)]
    MessageAttributeProductId: String,
    /// 1 to 1000, as a string of digits (a JSON number is accepted too).
    #[schema(value_type = String, example = "1", pattern = "^(1000|[1-9][0-9]{0,2})$")]
    MessageAttributeProductCnt: String,
    /// Accepted and ignored: the product's factory is the one on record.
    MessageAttributeFactoryId: Option<String>,
    #[schema(max_length = 100)]
    MessageAttributeRequester: Option<String>,
}
