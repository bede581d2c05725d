//! Reading a JSON request body field by field, so that each mistake gets its own
//! problem: 400 when the body is not JSON, 422 naming the field when one is missing,
//! of the wrong type, too long or not a whole number. Sales and the factory read their
//! bodies with it.

use serde_json::{Map, Value};

use crate::problem::Problem;

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
    /// Parses `body`: 400 when it is not JSON, 422 when it is not an object (`example`
    /// shows the expected shape in the problem's detail).
    pub fn parse(body: &[u8], example: &str) -> Result<Self, Problem> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|err| Problem::malformed_body(format!("the body is not valid JSON: {err}")))?;
        match value {
            Value::Object(fields) => Ok(Self(fields)),
            _ => Err(Problem::invalid_field(format!(
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
    pub fn optional_string(&self, name: &str, max_chars: usize) -> Result<Option<String>, Problem> {
        match self.0.get(name) {
            Some(Value::String(s)) if s.chars().count() <= max_chars => Ok(Some(s.clone())),
            Some(Value::String(_)) => Err(Problem::invalid_field(format!(
                "`{name}` must be at most {max_chars} characters"
            ))),
            Some(Value::Null) | None => Ok(None),
            Some(_) => Err(Problem::invalid_field(format!("`{name}` must be a string"))),
        }
    }

    /// A non-empty string of at most `max_chars` characters.
    pub fn required_string(&self, name: &str, max_chars: usize) -> Result<String, Problem> {
        match self.optional_string(name, max_chars)? {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(Problem::invalid_field(format!("`{name}` is required"))),
        }
    }

    /// A whole number written as `form` allows (its range is the caller's to check).
    pub fn count(&self, name: &str, form: CountForm) -> Result<i64, Problem> {
        let not_whole = |got: &Value| Problem::invalid_field(format!("`{name}` must be a whole number (got {got})"));
        match self.0.get(name) {
            Some(value @ Value::Number(n)) => n.as_i64().ok_or_else(|| not_whole(value)),
            Some(value @ Value::String(s)) if form == CountForm::NumberOrDigits => {
                s.trim().parse::<i64>().map_err(|_| not_whole(value))
            }
            Some(value) => Err(not_whole(value)),
            None => Err(Problem::invalid_field(format!("`{name}` is required"))),
        }
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
        assert_eq!(Fields::parse(b"{nope", "{}").unwrap_err().status, 400);
        assert_eq!(Fields::parse(b"", "{}").unwrap_err().status, 400);
        assert_eq!(Fields::parse(b"[1]", "{}").unwrap_err().status, 422);
    }

    #[test]
    fn strings_are_bounded_typed_and_required_when_asked() {
        let f = fields(r#"{"a":"x","n":null,"long":"abcd","num":5,"empty":""}"#);
        assert_eq!(f.optional_string("a", 3).unwrap().as_deref(), Some("x"));
        assert_eq!(f.optional_string("n", 3).unwrap(), None);
        assert_eq!(f.optional_string("missing", 3).unwrap(), None);
        assert!(f.optional_string("long", 3).unwrap_err().detail.contains("at most 3"));
        assert!(
            f.optional_string("num", 3)
                .unwrap_err()
                .detail
                .contains("must be a string")
        );
        assert!(
            f.required_string("empty", 3)
                .unwrap_err()
                .detail
                .contains("is required")
        );
        assert!(
            f.required_string("missing", 3)
                .unwrap_err()
                .detail
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
        assert_eq!(f.count("s", CountForm::Number).unwrap_err().status, 422);
        for name in ["x", "f", "big", "b"] {
            let problem = f.count(name, CountForm::NumberOrDigits).unwrap_err();
            assert!(problem.detail.contains("whole number"), "{name}: {}", problem.detail);
        }
        assert!(
            f.count("missing", CountForm::Number)
                .unwrap_err()
                .detail
                .contains("is required")
        );
    }
}
