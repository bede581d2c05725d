//! Plain-text tables for the human output: columns line up in a terminal, wide
//! characters (Hangul product names) included.

use std::fmt::Write;

use unicode_width::UnicodeWidthStr;

/// A table with a header row; columns are as wide as their widest cell.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(width(cell));
                }
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[String]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(width(cell));
                    let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&self.headers);
        for row in &self.rows {
            line(row);
        }
        out
    }
}

/// Display width in terminal columns (Unicode Standard Annex #11: East Asian wide
/// characters such as Hangul take two).
fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The first `max` characters on one line, with `…` when cut.
pub fn preview(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() > max {
        let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        flat
    }
}

pub fn opt(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_with_wide_characters() {
        let mut t = Table::new(&["sku", "name", "stock"]);
        t.row(vec!["CP-1".into(), "부산도너츠".into(), "3".into()]);
        t.row(vec!["CP-22".into(), "abc".into(), "10".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "sku    name        stock");
        assert_eq!(lines[1], "CP-1   부산도너츠  3");
        assert_eq!(lines[2], "CP-22  abc         10");
    }

    #[test]
    fn previews_are_one_line_and_bounded() {
        assert_eq!(preview("a\nb", 10), "a b");
        assert_eq!(preview("abcdef", 4), "abc…");
    }
}
