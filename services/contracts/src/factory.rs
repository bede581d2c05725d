//! The Factory API's contract (the legacy manufacturing API, kept): the request and the
//! replies of `POST /api/manufactures` and `GET /api/manufactures/{id}`. stock-worker's
//! client sends and reads these types, the factory's handlers read and answer them, and
//! the factory's OpenAPI document describes them (`factory::openapi`, tested against
//! these types).
//!
//! The legacy reply really spells `reqestor`.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::legacy;

/// Where production orders are placed and read.
pub const MANUFACTURES_PATH: &str = "/api/manufactures";

/// A production request (legacy field names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManufactureRequest {
    /// stock-worker sends the restock request id; it comes back in `stock_arrival`.
    #[serde(rename = "MessageGroupId", default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    #[serde(rename = "MessageAttributeProductId")]
    pub product_id: String,
    #[serde(rename = "MessageAttributeProductCnt")]
    pub quantity: ProductCount,
    #[serde(
        rename = "MessageAttributeFactoryId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub factory_id: Option<String>,
    #[serde(
        rename = "MessageAttributeRequester",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub requester: Option<String>,
    /// Recorded, not called: completions travel through SNS `stock_arrival`.
    #[serde(rename = "CallbackUrl", default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

/// The longest `MessageGroupId`.
pub const MAX_GROUP_ID_CHARS: usize = 128;
/// The longest `CallbackUrl`.
pub const MAX_CALLBACK_URL_CHARS: usize = 500;

/// `MessageAttributeProductCnt`: 1 to [`ProductCount::MAX`] units, sent as a JSON number
/// and read from a number or a string of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ProductCount(u32);

impl ProductCount {
    /// The largest production order the factory takes at once.
    pub const MAX: u32 = 100_000;

    pub fn new(count: i64) -> Result<Self, CountOutOfRange> {
        if (1..=i64::from(Self::MAX)).contains(&count) {
            Ok(Self(count as u32))
        } else {
            Err(CountOutOfRange(count))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A count [`ProductCount`] cannot hold; it says which field and what range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountOutOfRange(pub i64);

impl fmt::Display for CountOutOfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` must be a whole number from 1 to {} (got {})",
            legacy::PRODUCT_CNT,
            ProductCount::MAX,
            self.0
        )
    }
}

impl std::error::Error for CountOutOfRange {}

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

/// 201: the production order placed (or the one placed before under the same
/// `Idempotency-Key`). `Echo` is how the reader holds the request echoed back as
/// received: the factory keeps the JSON it was sent, stock-worker skips it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManufactureCreated<Echo> {
    pub data: ManufactureCreatedData<Echo>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManufactureCreatedData<Echo> {
    /// The production order id.
    pub id: Uuid,
    /// The requester (legacy spelling).
    pub reqestor: String,
    /// The request as received.
    pub data: Echo,
}

/// 200: a production order and its stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ManufactureStatus {
    pub data: ManufactureStatusData,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    fn the_count_deserializes_from_a_number_or_digits_within_range() {
        let count = |json: &str| serde_json::from_str::<ProductCount>(json);
        assert_eq!(count("3").unwrap().get(), 3);
        assert_eq!(count("\"12\"").unwrap().get(), 12);
        assert!(count("0").is_err());
        assert!(count("\"x\"").is_err());
        assert_eq!(
            ProductCount::new(100_001).unwrap_err().to_string(),
            "`MessageAttributeProductCnt` must be a whole number from 1 to 100000 (got 100001)"
        );
    }

    #[test]
    fn stages_use_the_legacy_names() {
        assert_eq!(serde_json::to_value(Stage::Started).unwrap(), "시작");
        assert_eq!(serde_json::to_value(Stage::Done).unwrap(), "종료");
        assert_eq!(serde_json::from_str::<Stage>("\"포장\"").unwrap(), Stage::Packing);
    }
}
