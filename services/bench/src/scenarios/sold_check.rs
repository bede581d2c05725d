//! The check of the scenarios that sell from ample stock (spread, against-read): every
//! 200 is one order and one unit less stock, and no request failed.

use warehouse::reports::Books;

/// What the checkouts answered next to what the books recorded over the same time.
pub(super) struct SoldCheck {
    /// Checkouts answered 200.
    sold: u64,
    /// Orders recorded.
    orders: i64,
    /// Units of stock gone.
    stock_drop: i64,
    /// Requests that failed (4xx other than 409, 5xx, transport).
    errors: u64,
}

impl SoldCheck {
    /// The check of `sold` 200s and `errors` failures against the books of the same skus
    /// read `before` and `after` them.
    pub(super) fn new(sold: u64, errors: u64, before: &Books, after: &Books) -> Self {
        Self {
            sold,
            orders: after.sold - before.sold,
            stock_drop: before.stock - after.stock,
            errors,
        }
    }

    pub(super) fn ok(&self) -> bool {
        self.orders == self.sold as i64 && self.stock_drop == self.sold as i64 && self.errors == 0
    }

    /// What was answered and recorded, and the verdict.
    pub(super) fn describe(&self) -> String {
        let Self {
            sold,
            orders,
            stock_drop,
            errors,
        } = self;
        let verdict = if self.ok() { "consistent" } else { "**INCONSISTENT**" };
        format!("{sold} answered 200, {orders} orders recorded, stock fell by {stock_drop}, errors {errors}: {verdict}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn books(sold: i64, stock: i64) -> Books {
        Books {
            initial: 100,
            produced: 0,
            sold,
            stock,
            open_restocks: 0,
        }
    }

    #[test]
    fn it_holds_only_when_every_200_is_one_order_and_one_unit() {
        let before = books(10, 90);
        assert!(SoldCheck::new(5, 0, &before, &books(15, 85)).ok());
        assert!(
            !SoldCheck::new(5, 0, &before, &books(16, 85)).ok(),
            "an order without a 200"
        );
        assert!(
            !SoldCheck::new(5, 0, &before, &books(15, 84)).ok(),
            "a unit gone without an order"
        );
        assert!(!SoldCheck::new(5, 1, &before, &books(15, 85)).ok(), "a failed request");
        assert_eq!(
            SoldCheck::new(5, 0, &before, &books(15, 85)).describe(),
            "5 answered 200, 5 orders recorded, stock fell by 5, errors 0: consistent"
        );
    }
}
