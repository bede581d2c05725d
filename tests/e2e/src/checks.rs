//! The end-of-test checks every fault test and the soak share: the ledger, restock
//! requests each fulfilled by exactly one production order, one factory order per
//! request, empty dead-letter queues; and waiting until the pipeline settled.

use std::time::Duration;

use mysql_async::Pool;
use mysql_async::prelude::Queryable;
use stockflow_contracts::names;

use crate::{TestEnv, eventually};

impl TestEnv {
    /// Restock requests not fulfilled yet.
    pub async fn open_restock_requests(&self) -> i64 {
        self.warehouse_scalar("SELECT COUNT(*) FROM restock_requests WHERE open_sku IS NOT NULL")
            .await
    }

    /// A scalar query on the warehouse database.
    pub async fn warehouse_scalar(&self, sql: &str) -> i64 {
        query_scalar(&self.warehouse().await, sql).await
    }

    /// A one-column query of ids on the warehouse database.
    pub async fn warehouse_ids(&self, sql: &str) -> Vec<u64> {
        let mut conn = self.warehouse().await.get_conn().await.unwrap();
        conn.query(sql).await.unwrap()
    }

    /// A scalar query on the factory database.
    pub async fn factory_scalar(&self, sql: &str) -> i64 {
        query_scalar(&self.factory().await, sql).await
    }

    /// Waits until no restock request is open and the work queues are empty.
    pub async fn settle(&self, deadline: Duration) {
        eventually(
            "every restock request fulfilled and the queues empty",
            deadline,
            || async {
                let open = self.open_restock_requests().await;
                let busy = self.queue_depth(names::STOCK_QUEUE).await + self.queue_depth(names::STOCK_INC_QUEUE).await;
                (open == 0 && busy == 0).then_some(())
            },
        )
        .await
    }

    /// The guarantees at the end of every fault test: the books balance, each restock
    /// request was fulfilled by exactly one applied production order, the factory made
    /// one production order per request, and nothing sits in a dead-letter queue.
    pub async fn assert_exactly_once(&self) {
        let report = self.invariant().await;
        assert!(report.holds(), "ledger: {:#?}", report.violations);
        assert_eq!(self.open_restock_requests().await, 0, "no restock request is open");
        let not_once = self
            .warehouse_scalar(
                "SELECT COUNT(*) FROM restock_requests r WHERE (SELECT COUNT(*) FROM applied_production_orders a \
                 WHERE a.restock_request_id = r.id) <> 1",
            )
            .await;
        assert_eq!(
            not_once, 0,
            "restock requests without exactly one applied production order"
        );
        let doubled = self
            .factory_scalar("SELECT COUNT(*) - COUNT(DISTINCT message_group_id) FROM production_orders")
            .await;
        assert_eq!(doubled, 0, "production orders beyond one per restock request");
        for dlq in [names::STOCK_DLQ, names::STOCK_INC_DLQ] {
            assert_eq!(self.queue_depth(dlq).await, 0, "{dlq} is empty");
        }
    }
}

/// A scalar query without parameters on `pool` (no row, or NULL: 0).
async fn query_scalar(pool: &Pool, sql: &str) -> i64 {
    let mut conn = pool.get_conn().await.unwrap();
    conn.query_first::<Option<i64>, _>(sql)
        .await
        .unwrap()
        .flatten()
        .unwrap_or_default()
}
