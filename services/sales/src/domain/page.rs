//! A page of the catalogue as `GET /products?limit=…&after=…` asks for it: keyset
//! pagination by sku. Paging starts when `limit` or `after` is given; without either the
//! call is the legacy one and answers the whole catalogue (docs/decisions.md, "Paging
//! the catalogue").

use serde::Deserialize;
use stockflow_kit::problem::Problem;

use warehouse::Sku;

/// How many products one page holds: a whole number from 1 to [`PageLimit::MAX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageLimit(u32);

impl PageLimit {
    /// The page size when `after` is given without `limit`.
    pub const DEFAULT: u32 = 100;
    pub const MAX: u32 = 1000;

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.parse::<u32>() {
            Ok(value) if (1..=Self::MAX).contains(&value) => Ok(Self(value)),
            _ => Err(format!(
                "limit must be a whole number from 1 to {} (got {raw:?}); leave it out for pages of {}",
                Self::MAX,
                Self::DEFAULT
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// One page: at most `limit` products whose sku sorts after `after` (from the first
/// product when `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: PageLimit,
    pub after: Option<Sku>,
}

/// The query string as it comes, before validation.
#[derive(Deserialize)]
struct RawQuery {
    limit: Option<String>,
    after: Option<String>,
}

impl PageRequest {
    /// Reads the query string: `None` for the legacy call (neither `limit` nor `after`),
    /// a 422 problem for a bad limit or cursor. Other parameters are ignored.
    pub fn from_query(query: &str) -> Result<Option<Self>, Problem> {
        let raw = actix_web::web::Query::<RawQuery>::from_query(query)
            .map_err(|err| {
                Problem::invalid_field(format!(
                    "cannot read the query string ({err}); page with ?limit=1..{}&after=<sku>",
                    PageLimit::MAX
                ))
            })?
            .into_inner();
        if raw.limit.is_none() && raw.after.is_none() {
            return Ok(None);
        }
        let limit = match raw.limit {
            Some(limit) => PageLimit::parse(&limit).map_err(Problem::invalid_field)?,
            None => PageLimit::default(),
        };
        let after = raw
            .after
            .map(|after| {
                Sku::parse(&after).map_err(|err| {
                    Problem::invalid_field(format!(
                        "after must be the sku of the last product of the page before, as in the Link header's rel=\"next\": {err}"
                    ))
                })
            })
            .transpose()?;
        Ok(Some(Self { limit, after }))
    }

    /// The request of the page after this one, which ended at `last`.
    pub fn next(&self, last: Sku) -> Self {
        Self {
            limit: self.limit,
            after: Some(last),
        }
    }

    /// This page's path and query, for a `Link` header.
    pub fn path(&self) -> String {
        match &self.after {
            Some(after) => format!("/products?limit={}&after={after}", self.limit.get()),
            None => format!("/products?limit={}", self.limit.get()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(query: &str) -> Option<PageRequest> {
        PageRequest::from_query(query).unwrap()
    }

    fn problem(query: &str) -> Problem {
        PageRequest::from_query(query).unwrap_err()
    }

    #[test]
    fn no_limit_nor_after_is_the_legacy_call() {
        assert_eq!(page(""), None);
        assert_eq!(page("foo=1"), None);
    }

    #[test]
    fn a_limit_or_a_cursor_starts_paging() {
        let first = page("limit=10").unwrap();
        assert_eq!((first.limit.get(), first.after), (10, None));
        let next = page("after=CP-502101").unwrap();
        assert_eq!(next.limit.get(), PageLimit::DEFAULT);
        assert_eq!(next.after.unwrap().as_str(), "CP-502101");
        assert_eq!(page("limit=1000&after=A").unwrap().limit.get(), 1000);
    }

    #[test]
    fn bad_limits_and_cursors_are_422_saying_what_to_do() {
        for query in ["limit=0", "limit=-1", "limit=1001", "limit=ten", "limit=", "limit=1.5"] {
            let p = problem(query);
            assert_eq!(p.status, 422, "{query}");
            assert!(p.detail.contains("from 1 to 1000"), "{query}: {}", p.detail);
        }
        for query in ["after=", "after=a%20b", "limit=5&after=CP';DROP"] {
            let p = problem(query);
            assert_eq!(p.status, 422, "{query}");
            assert!(p.detail.contains("after must be the sku"), "{query}: {}", p.detail);
        }
        assert_eq!(problem("limit=1&limit=2").status, 422);
    }

    #[test]
    fn the_next_page_carries_the_limit_and_the_last_sku() {
        let first = page("limit=2").unwrap();
        assert_eq!(first.path(), "/products?limit=2");
        let next = first.next(Sku::parse("B-2").unwrap());
        assert_eq!(next.path(), "/products?limit=2&after=B-2");
    }
}
