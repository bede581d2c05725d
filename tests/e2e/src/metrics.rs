//! Reading a service's Prometheus `/metrics`: the sum of the samples of one series (a
//! metric name, optionally with some of its labels), so that a test can prove a retry,
//! a publish or a fault was counted.

/// The sum of every sample whose series starts with `series`, e.g.
/// `outbox_published_total{topic="stock_empty",path="sweep"` or `restock_events_republished_total`.
pub fn sum(text: &str, series: &str) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            let matches = name == series
                || name.starts_with(series)
                    && (series.ends_with('{')
                        || series.ends_with(',')
                        || name[series.len()..].starts_with(['{', ',', '}']));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

/// `GET <base>/metrics` and [`sum`] of `series`; 0 when the service does not answer.
pub async fn scrape(http: &reqwest::Client, base: &str, series: &str) -> f64 {
    match http.get(format!("{base}/metrics")).send().await {
        Ok(response) => sum(&response.text().await.unwrap_or_default(), series),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_samples_of_a_series() {
        let text = "# TYPE x counter\n\
                    outbox_published_total{topic=\"stock_empty\",path=\"fast\"} 3\n\
                    outbox_published_total{topic=\"stock_empty\",path=\"sweep\"} 4\n\
                    outbox_published_total_other 100\n\
                    restock_events_republished_total 2\n";
        assert_eq!(sum(text, "outbox_published_total"), 7.0);
        assert_eq!(
            sum(text, "outbox_published_total{topic=\"stock_empty\",path=\"sweep\""),
            4.0
        );
        assert_eq!(sum(text, "restock_events_republished_total"), 2.0);
        assert_eq!(sum(text, "nothing"), 0.0);
    }
}
