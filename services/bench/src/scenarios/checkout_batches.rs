//! The sizes of the checkout transactions sales ran, scraped from its
//! `warehouse_checkout_batch_size` metric before and after a phase.

use std::net::SocketAddr;

use crate::load::HttpClient;

/// Purchases and transactions so far, and the quantiles since sales started.
#[derive(Debug, Default, PartialEq)]
pub(super) struct BatchSizes {
    purchases: f64,
    transactions: f64,
    quantiles: String,
}

impl BatchSizes {
    pub async fn scrape(sales: SocketAddr) -> Self {
        let text = HttpClient::new(sales).text("/metrics").await.unwrap_or_default();
        Self::parse(&text)
    }

    /// From the Prometheus text of `/metrics`.
    fn parse(metrics: &str) -> Self {
        let mut sizes = Self::default();
        let mut quantiles = Vec::new();
        for line in metrics
            .lines()
            .filter(|l| l.starts_with("warehouse_checkout_batch_size"))
        {
            let Some((name, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let value: f64 = value.parse().unwrap_or_default();
            match name {
                "warehouse_checkout_batch_size_sum" => sizes.purchases = value,
                "warehouse_checkout_batch_size_count" => sizes.transactions = value,
                _ => {
                    if let Some(q) = name.split("quantile=\"").nth(1).and_then(|q| q.split('"').next()) {
                        quantiles.push(format!(
                            "p{} {value:.0}",
                            (q.parse::<f64>().unwrap_or_default() * 100.0).round()
                        ));
                    }
                }
            }
        }
        sizes.quantiles = quantiles.join(", ");
        sizes
    }

    /// This phase's counts (the quantiles stay those of the whole run so far).
    pub fn since(self, before: &Self) -> Self {
        Self {
            purchases: self.purchases - before.purchases,
            transactions: self.transactions - before.transactions,
            quantiles: self.quantiles,
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{:.0} purchases in {:.0} checkout transactions (mean batch {:.1}; batch sizes over the run so far: {})",
            self.purchases,
            self.transactions,
            self.purchases / self.transactions.max(1.0),
            if self.quantiles.is_empty() {
                "none"
            } else {
                &self.quantiles
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_counts_purchases_and_transactions_since_before() {
        let before =
            BatchSizes::parse("warehouse_checkout_batch_size_sum 100\nwarehouse_checkout_batch_size_count 10\n");
        let after = BatchSizes::parse(
            "# TYPE warehouse_checkout_batch_size summary\n\
             warehouse_checkout_batch_size{quantile=\"0.5\"} 4\n\
             warehouse_checkout_batch_size{quantile=\"0.99\"} 12.4\n\
             warehouse_checkout_batch_size_sum 400\n\
             warehouse_checkout_batch_size_count 50\n",
        );
        assert_eq!(
            after.since(&before).describe(),
            "300 purchases in 40 checkout transactions (mean batch 7.5; batch sizes over the run so far: p50 4, p99 12)"
        );
        assert_eq!(
            BatchSizes::default().describe(),
            "0 purchases in 0 checkout transactions (mean batch 0.0; batch sizes over the run so far: none)"
        );
    }
}
