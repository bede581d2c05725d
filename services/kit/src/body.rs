//! Reading a JSON request body field by field, so that each mistake gets its own
//! [`BodyError`]: the body is not JSON, or a field is missing, of the wrong type, too long
//! or not a whole number (named in the error). Sales and the factory read their bodies
//! with it, the original system's order fields ([`Fields::legacy_order`],
//! `stockflow_contracts::legacy`) included, and answer 400 and 422 ([`crate::problem`]).

use std::fmt;

use serde_json::{Map, Value};
use stockflow_contracts::legacy::{self, LegacyOrder};

/// What is wrong with a request body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is not JSON at all.
    NotJson(String),
    /// JSON, but its shape or a field breaks the contract (the field is named).
    Invalid(String),
}

impl BodyError {
    /// What went wrong, for the caller to read.
    pub fn detail(&self) -> &str {
        match self {
            Self::NotJson(detail) | Self::Invalid(detail) => detail,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail())
    }
}

impl std::error::Error for BodyError {}

/// The fields of a JSON object body.
#[derive(Clone, Debug)]
pub struct Fields(Map<String, Value>);

/// How a count may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountForm {
    /// A JSON integer only.
    Number,
    /// A JSON integer or a string of digits, as the original system sent counts.
    NumberOrDigits,
}

impl Fields {
    /// Parses `body`: [`BodyError::NotJson`] when it is not JSON, [`BodyError::Invalid`]
    /// when it is not an object (`example` shows the expected shape in the detail).
    pub fn parse(body: &[u8], example: &str) -> Result<Self, BodyError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| BodyError::NotJson(format!("the body is not valid JSON: {err}")))?;
        match value {
            Value::Object(fields) => Ok(Self(fields)),
            _ => Err(BodyError::Invalid(format!(
                "the body must be a JSON object such as {example}"
            ))),
        }
    }

    /// The body as received.
    pub fn into_json(self) -> Value {
        Value::Object(self.0)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A string of at most `max_chars` characters; `None` when absent or `null`.
    pub fn optional_string(&self, name: &str, max_chars: usize) -> Result<Option<String>, BodyError> {
        match self.0.get(name) {
            Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(BodyError::Invalid(format!(
                "`{name}` must be at most {max_chars} characters"
            ))),
            Some(Value::Null) | None => Ok(None),
            Some(_) => Err(BodyError::Invalid(format!("`{name}` must be a string"))),
        }
    }

    /// A non-empty string of at most `max_chars` characters.
    pub fn required_string(&self, name: &str, max_chars: usize) -> Result<String, BodyError> {
        match self.optional_string(name, max_chars)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(BodyError::Invalid(format!("`{name}` is required"))),
        }
    }

    /// A whole number written as `form` allows (its range is the caller's to check).
    pub fn count(&self, name: &str, form: CountForm) -> Result<i64, BodyError> {
        let not_whole = |got: &Value| BodyError::Invalid(format!("`{name}` must be a whole number (got {got})"));
        match self.0.get(name) {
            Some(value @ Value::Number(n)) => n.as_i64().ok_or_else(|| not_whole(value)),
            Some(value @ Value::String(s)) if form == CountForm::NumberOrDigits => {
                s.trim().parse::<i64>().map_err(|_| not_whole(value))
            }
            Some(value) => Err(not_whole(value)),
            None => Err(BodyError::Invalid(format!("`{name}` is required"))),
        }
    }

    /// The original system's order fields, each checked for its type and length; the
    /// count's range and the product id's form are the reader's to check.
    pub fn legacy_order(&self) -> Result<LegacyOrder, BodyError> {
        Ok(LegacyOrder {
            product_id: self.required_string(legacy::PRODUCT_ID, legacy::MAX_ID_CHARS)?,
            count: self.count(legacy::PRODUCT_CNT, CountForm::NumberOrDigits)?,
            factory_id: self.optional_string(legacy::FACTORY_ID, legacy::MAX_ID_CHARS)?,
            requester: self.optional_string(legacy::REQUESTER, legacy::MAX_REQUESTER_CHARS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        Fields::parse(json.as_bytes(), "{}").unwrap()
    }

    #[test]
    fn not_json_is_400_and_not_an_object_is_422() {
        let not_json = |body: &[u8]| matches!(Fields::parse(body, "{}"), Err(BodyError::NotJson(_)));
        assert!(not_json(b"{nope"));
        assert!(not_json(b""));
        assert!(matches!(Fields::parse(b"[1]", "{}"), Err(BodyError::Invalid(_))));
    }

    #[test]
    fn strings_are_bounded_typed_and_required_when_asked() {
        let f = fields(r#"{"a":"x","n":null,"long":"abcd","num":5,"empty":""}"#);
        assert_eq!(f.optional_string("a", 3).unwrap().as_deref(), Some("x"));
        assert_eq!(f.optional_string("n", 3).unwrap(), None);
        assert_eq!(f.optional_string("missing", 3).unwrap(), None);
        assert!(f.optional_string("long", 3).unwrap_err().detail().contains("at most 3"));
        assert!(
            f.optional_string("num", 3)
                .unwrap_err()
                .detail()
                .contains("must be a string")
        );
        assert!(
            f.required_string("empty", 3)
                .unwrap_err()
                .detail()
                .contains("is required")
        );
        assert!(
            f.required_string("missing", 3)
                .unwrap_err()
                .detail()
                .contains("is required")
        );
        // characters, not bytes: Hangul counts one per syllable
        assert!(fields(r#"{"r":"홍길동"}"#).optional_string("r", 3).is_ok());
    }

    #[test]
    fn counts_are_whole_numbers_and_digits_only_where_allowed() {
        let f = fields(r#"{"n":7,"s":" 12 ","x":"x","f":1.5,"big":1e30,"b":true}"#);
        assert_eq!(f.count("n", CountForm::Number).unwrap(), 7);
        assert_eq!(f.count("s", CountForm::NumberOrDigits).unwrap(), 12);
        assert!(matches!(f.count("s", CountForm::Number), Err(BodyError::Invalid(_))));
        for name in ["x", "f", "big", "b"] {
            let problem = f.count(name, CountForm::NumberOrDigits).unwrap_err();
            assert!(problem.detail().contains("whole number"), "{name}: {problem}");
        }
        assert!(
            f.count("missing", CountForm::Number)
                .unwrap_err()
                .detail()
                .contains("is required")
        );
    }

    fn legacy(json: &str) -> Result<LegacyOrder, BodyError> {
        fields(json).legacy_order()
    }

    #[test]
    fn reads_the_legacy_count_as_a_number_or_a_string() {
        let order = legacy(r#"{"MessageAttributeProductId":"CP-502101","MessageAttributeProductCnt":"10","MessageAttributeFactoryId":"FF-500293","MessageAttributeRequester":"홍길동"}"#).unwrap();
        assert_eq!(order.product_id, "CP-502101");
        assert_eq!(order.count, 10);
        assert_eq!(order.factory_id.as_deref(), Some("FF-500293"));
        assert_eq!(order.requester.as_deref(), Some("홍길동"));
        assert_eq!(
            legacy(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":3}"#)
                .unwrap()
                .count,
            3
        );
    }

    #[test]
    fn names_the_legacy_field_that_is_wrong() {
        let detail = |json| legacy(json).unwrap_err().detail().to_string();
        assert!(detail(r#"{"MessageAttributeProductCnt":1}"#).contains(legacy::PRODUCT_ID));
        assert!(
            detail(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":true}"#)
                .contains(legacy::PRODUCT_CNT)
        );
        assert!(
            detail(r#"{"MessageAttributeProductId":"A","MessageAttributeProductCnt":1,"MessageAttributeFactoryId":7}"#)
                .contains(legacy::FACTORY_ID)
        );
    }
}
