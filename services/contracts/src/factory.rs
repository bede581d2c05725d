//! The Factory API's contract (the legacy manufacturing API, kept): the request and the
//! replies of `POST /api/manufactures` and `GET /api/manufactures/{id}`. stock-worker's
//! client sends and reads these types, the factory's handlers read and answer them, and
//! the factory's OpenAPI document is generated from them.
//!
//! The legacy reply really spells `reqestor`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::fields::{BodyError, Fields};
use crate::legacy::{self, LegacyOrder};

/// Where production orders are placed and read.
pub const MANUFACTURES_PATH: &str = "/api/manufactures";

/// A production request (legacy field names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"MessageGroupId": "0b6c1c53-4a5e-4a8e-9c5b-2f1d2c3b4a5e", "MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 10, "MessageAttributeFactoryId": "FF-500293", "MessageAttributeRequester": "홍길동", "CallbackUrl": "http://127.0.0.1:9000/callback"})))]
pub struct ManufactureRequest {
    /// stock-worker sends the restock request id; it comes back in `stock_arrival`.
    #[serde(rename = "MessageGroupId", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 128))]
    pub message_group_id: Option<String>,
    #[serde(rename = "MessageAttributeProductId")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    pub product_id: String,
    #[serde(rename = "MessageAttributeProductCnt")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub quantity: ProductCount,
    #[serde(
        rename = "MessageAttributeFactoryId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(max_length = 32))]
    pub factory_id: Option<String>,
    #[serde(
        rename = "MessageAttributeRequester",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub requester: Option<String>,
    /// Recorded, not called: completions travel through SNS `stock_arrival`.
    #[serde(rename = "CallbackUrl", default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub callback_url: Option<String>,
}

const EXAMPLE: &str = r#"{"MessageAttributeProductId": "CP-502101", "MessageAttributeProductCnt": 10}"#;
const MAX_GROUP_ID_CHARS: usize = 128;
const MAX_CALLBACK_URL_CHARS: usize = 500;

impl ManufactureRequest {
    /// Reads a body with a precise error for each mistake (not JSON, or naming
    /// the field); also returns the body as received, which the reply echoes.
    pub fn parse(body: &[u8]) -> Result<(Self, Value), BodyError> {
        let fields = Fields::parse(body, EXAMPLE)?;
        let order = LegacyOrder::read(&fields)?;
        let request = Self {
            message_group_id: fields
                .optional_string("MessageGroupId", MAX_GROUP_ID_CHARS)?
                .filter(|id| !id.is_empty()),
            product_id: order.product_id,
            quantity: ProductCount::new(order.count)?,
            factory_id: order.factory_id,
            requester: order.requester,
            callback_url: fields
                .optional_string("CallbackUrl", MAX_CALLBACK_URL_CHARS)?
                .filter(|url| !url.is_empty()),
        };
        Ok((request, fields.into_json()))
    }
}

/// `MessageAttributeProductCnt`: 1 to [`ProductCount::MAX`] units, sent as a JSON number
/// and read from a number or a string of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProductCount(u32);

impl ProductCount {
    /// The largest production order the factory takes at once.
    pub const MAX: u32 = 100_000;

    pub fn new(count: i64) -> Result<Self, BodyError> {
        if (1..=i64::from(Self::MAX)).contains(&count) {
            Ok(Self(count as u32))
        } else {
            Err(BodyError::Invalid(format!(
                "`{}` must be a whole number from 1 to {} (got {count})",
                legacy::PRODUCT_CNT,
                Self::MAX
            )))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for ProductCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Number(i64),
            Digits(String),
        }
        let count = match Wire::deserialize(deserializer)? {
            Wire::Number(n) => n,
            Wire::Digits(s) => s.trim().parse().map_err(serde::de::Error::custom)?,
        };
        Self::new(count).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ProductCount {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(Self::MAX)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^ *(100000|[1-9][0-9]{0,4}) *$")),
            )
            .description(Some(
                "1 to 100000 units: a number, or a string of digits as the original system sent it",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ProductCount {}

/// 201: the production order placed (or the one placed before under the same
/// `Idempotency-Key`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManufactureCreated {
    pub data: ManufactureCreatedData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManufactureCreatedData {
    /// The production order id.
    pub id: Uuid,
    /// The requester (legacy spelling).
    pub reqestor: String,
    /// The request as received.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: Value,
}

/// 200: a production order and its stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManufactureStatus {
    pub data: ManufactureStatusData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ManufactureStatusData {
    pub id: Uuid,
    pub stage: Stage,
    pub product_id: String,
    pub quantity: u32,
    pub factory_id: String,
    /// The requester (legacy spelling).
    pub reqestor: String,
    pub message_group_id: String,
    pub created_at: DateTime<Utc>,
    /// When production is due to end.
    pub ready_at: DateTime<Utc>,
    /// When production ended and `stock_arrival` was recorded; `null` until then.
    pub completed_at: Option<DateTime<Utc>>,
}

/// The legacy production stages: 시작 (started), 준비 (preparing), 생산 (producing),
/// 포장 (packing), then 종료 (done) once completed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Stage {
    #[serde(rename = "시작")]
    Started,
    #[serde(rename = "준비")]
    Preparing,
    #[serde(rename = "생산")]
    Producing,
    #[serde(rename = "포장")]
    Packing,
    #[serde(rename = "종료")]
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_legacy_request_and_keeps_the_body_as_received() {
        let body = br#"{"MessageGroupId":"g-1","MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"10","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"kim","CallbackUrl":"http://x/cb"}"#;
        let (request, raw) = ManufactureRequest::parse(body).unwrap();
        assert_eq!(request.product_id, "CP-502101");
        assert_eq!(request.quantity.get(), 10);
        assert_eq!(request.message_group_id.as_deref(), Some("g-1"));
        assert_eq!(request.callback_url.as_deref(), Some("http://x/cb"));
        assert_eq!(raw["MessageAttributeProductCnt"], "10");
    }

    #[test]
    fn rejects_missing_and_malformed_fields() {
        // 400 for a body that is not JSON, 422 for a field that breaks the contract
        let status = |body: &[u8]| match ManufactureRequest::parse(body).unwrap_err() {
            BodyError::NotJson(_) => 400,
            BodyError::Invalid(_) => 422,
        };
        assert_eq!(status(b"nope"), 400);
        assert_eq!(status(br#"{"MessageAttributeProductCnt":1}"#), 422);
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":0}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":100001}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":true}"#),
            422
        );
        assert_eq!(
            status(br#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":1,"CallbackUrl":5}"#),
            422
        );
    }

    #[test]
    fn what_the_client_sends_the_factory_reads() {
        let sent = ManufactureRequest {
            message_group_id: Some(Uuid::new_v4().to_string()),
            product_id: "CP-502101".into(),
            quantity: ProductCount::new(7).unwrap(),
            factory_id: Some("FF-500293".into()),
            requester: Some("홍길동".into()),
            callback_url: None,
        };
        let (read, raw) = ManufactureRequest::parse(&serde_json::to_vec(&sent).unwrap()).unwrap();
        assert_eq!(read, sent);
        assert_eq!(raw["MessageAttributeProductCnt"], 7);
        assert!(raw.get("CallbackUrl").is_none());
    }

    #[test]
    fn the_count_deserializes_from_a_number_or_digits_within_range() {
        let count = |json: &str| serde_json::from_str::<ProductCount>(json);
        assert_eq!(count("3").unwrap().get(), 3);
        assert_eq!(count("\"12\"").unwrap().get(), 12);
        assert!(count("0").is_err());
        assert!(count("\"x\"").is_err());
    }

    #[test]
    fn stages_use_the_legacy_names() {
        assert_eq!(serde_json::to_value(Stage::Started).unwrap(), "시작");
        assert_eq!(serde_json::to_value(Stage::Done).unwrap(), "종료");
        assert_eq!(serde_json::from_str::<Stage>("\"포장\"").unwrap(), Stage::Packing);
    }
}
