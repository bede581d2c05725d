//! A purchase request, read from either body shape the API accepts:
//! `{"sku": "CP-502101", "quantity": 1, "requester": "…"}` or the original system's
//! `{"MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 1 | "1",
//! "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동"}`.
//! The legacy factory id is accepted (a string of at most 32 characters) and ignored: a
//! product's factory is the one on record. The legacy fields are read by the shared
//! `stockflow_kit::body`, as the factory reads them.

use stockflow_contracts::legacy;
use stockflow_kit::body::{CountForm, Fields};
use stockflow_kit::problem::Problem;

use warehouse::{Quantity, Sku};

#[derive(Clone, Debug, PartialEq)]
pub struct CheckoutRequest {
    pub sku: Sku,
    pub quantity: Quantity,
    pub requester: String,
}

impl CheckoutRequest {
    /// What makes two requests the same for an idempotency key.
    pub fn fingerprint(&self) -> String {
        format!("{}|{}|{}", self.sku, self.quantity.get(), self.requester)
    }

    /// Parses a body: 400 when it is not JSON, 422 when a field is missing or wrong.
    pub fn parse(body: &[u8]) -> Result<Self, Problem> {
        let fields = Fields::parse(body, r#"{"sku": "CP-502101", "quantity": 1}"#)?;
        if fields.contains("sku") || !fields.contains(legacy::PRODUCT_ID) {
            let sku = fields.required_string("sku", usize::MAX)?;
            Ok(Self {
                sku: Sku::parse(&sku).map_err(Problem::invalid_field)?,
                quantity: Quantity::new(fields.count("quantity", CountForm::Number)?)
                    .map_err(Problem::invalid_field)?,
                requester: fields
                    .optional_string("requester", REQUESTER_CHARS)?
                    .unwrap_or_default(),
            })
        } else {
            let order = fields.legacy_order()?;
            Ok(Self {
                sku: Sku::parse(&order.product_id).map_err(Problem::invalid_field)?,
                quantity: Quantity::new(order.count).map_err(Problem::invalid_field)?,
                requester: order.requester.unwrap_or_default(),
            })
        }
    }
}

/// The longest requester name, in either body.
const REQUESTER_CHARS: usize = legacy::MAX_REQUESTER_CHARS;

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
    #[schema(max_length = 32)]
    MessageAttributeFactoryId: Option<String>,
    #[schema(max_length = 100)]
    MessageAttributeRequester: Option<String>,
}
