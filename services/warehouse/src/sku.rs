//! A stock-keeping unit code such as `CP-502101`.

use std::fmt;

/// 1 to 32 characters of ASCII letters, digits, `-` and `_`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let valid = !raw.is_empty()
            && raw.len() <= 32
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if valid {
            Ok(Self(raw.to_string()))
        } else {
            Err(format!(
                "sku must be 1-32 characters of letters, digits, '-' or '_' (got {raw:?})"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_product_codes() {
        assert_eq!(Sku::parse("CP-502101").unwrap().as_str(), "CP-502101");
    }

    #[test]
    fn rejects_empty_long_and_strange_codes() {
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse(&"A".repeat(33)).is_err());
        assert!(Sku::parse("CP 502101").is_err());
        assert!(Sku::parse("CP';DROP").is_err());
    }
}
