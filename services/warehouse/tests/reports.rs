//! The operators' read models against a real MySQL/MariaDB server: the stock summary
//! that sales exports as its bounded gauges counts and sums the whole catalogue (the
//! migrations' seeded products included), and follows a sale and a restock.

mod common;

use common::{TestDb, purchase, restocked};
use warehouse::checkout::{CheckoutOutcome, Checkouts, CombineSettings, Recorded};
use warehouse::reports::{self, StockSummary};

/// The summary as the per-row stock table adds it up.
async fn summed_from_the_table(db: &TestDb) -> StockSummary {
    let lines = reports::stock_table(&db.pool).await.unwrap();
    StockSummary {
        products: lines.len() as i64,
        out_of_stock: lines.iter().filter(|line| line.stock == 0).count() as i64,
        units: lines.iter().map(|line| line.stock).sum(),
    }
}

#[tokio::test]
async fn the_summary_equals_the_stock_table_added_up() {
    let db = TestDb::with_products(&[("SUM-A", 7), ("SUM-B", 0)]).await;
    assert_eq!(
        reports::stock_summary(&db.pool).await.unwrap(),
        summed_from_the_table(&db).await
    );
}

#[tokio::test]
async fn the_summary_counts_the_products_those_out_of_stock_and_sums_the_units() {
    let db = TestDb::new().await;
    let seeded = reports::stock_summary(&db.pool).await.unwrap();
    for (sku, stock) in [("SUM-A", 7), ("SUM-B", 0), ("SUM-C", 35)] {
        db.product(sku, stock).await;
    }
    let added = StockSummary {
        products: seeded.products + 3,
        out_of_stock: seeded.out_of_stock + 1,
        units: seeded.units + 42,
    };
    assert_eq!(reports::stock_summary(&db.pool).await.unwrap(), added);

    // SUM-A sells its last 7 units: one more out of stock, 7 units fewer.
    let checkouts = Checkouts::start(db.pool.clone(), None, &CombineSettings::default());
    let sold = checkouts.checkout(purchase("SUM-A", 7)).await.unwrap();
    assert!(
        matches!(sold, Recorded::Fresh(CheckoutOutcome::Sold { .. })),
        "{sold:?}"
    );
    let sold_out = StockSummary {
        out_of_stock: added.out_of_stock + 1,
        units: added.units - 7,
        ..added
    };
    assert_eq!(reports::stock_summary(&db.pool).await.unwrap(), sold_out);

    // A new product that ran out and was restocked with 5 units.
    restocked(&db, "SUM-D", 5).await;
    let grown = StockSummary {
        products: sold_out.products + 1,
        units: sold_out.units + 5,
        ..sold_out
    };
    assert_eq!(reports::stock_summary(&db.pool).await.unwrap(), grown);
}
