//! Values written into the text of a statement, for the statements of a checkout that
//! travel together as one multi-statement query (one round trip for three statements;
//! prepared statements cannot be sent together). Nothing is escaped, so nothing can be
//! escaped wrongly: a [`Sku`] holds only ASCII letters, digits, `-` and `_` and is quoted
//! as it is; any other string is written as a hexadecimal literal of its UTF-8 bytes,
//! which the server reads as data whatever it holds.

use std::fmt::Write;

use crate::Sku;

/// A sku as a quoted literal: `'CP-502101'`.
pub(super) fn sku(sku: &Sku) -> String {
    format!("'{}'", sku.as_str())
}

/// Any string as a hexadecimal literal read as UTF-8 text: `_utf8mb4 X'6869'` for `hi`.
pub(super) fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 2 + 12);
    out.push_str("_utf8mb4 X'");
    for byte in value.bytes() {
        write!(out, "{byte:02X}").expect("writing to a String cannot fail");
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sku_is_quoted_as_it_is() {
        assert_eq!(sku(&Sku::parse("CP-502_101").unwrap()), "'CP-502_101'");
    }

    #[test]
    fn a_string_is_its_utf8_bytes_in_hex() {
        assert_eq!(string("hi"), "_utf8mb4 X'6869'");
        assert_eq!(string(""), "_utf8mb4 X''");
        assert_eq!(string("é'\\"), "_utf8mb4 X'C3A9275C'");
    }
}
