//! Queue depth and backlog age as Prometheus gauges: a worker polls
//! `GetQueueAttributes` for its queue and its dead-letter queue every few seconds.
//!
//! Exported, labelled by the queue's full name (prefix included):
//! - `sqs_queue_messages{queue, state}`: `visible`, `in_flight` (received, not yet
//!   deleted) and `delayed` messages, as SQS reports them (approximate);
//! - `sqs_queue_backlog_age_seconds{queue}`: how long the queue has held messages
//!   without once being seen empty (0 when empty). Its oldest message is at most this
//!   old: SQS reports no message age through its API (CloudWatch's
//!   `ApproximateAgeOfOldestMessage` on AWS; LocalStack has none), so this bound is
//!   what a worker can know.
//!
//! A poll that fails leaves the last values in place and is logged once per failure
//! streak; the gauges are always those of the last answer SQS gave.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName as Attr;
use stockflow_kit::periodic::{Pace, Periodic};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often the queues are polled.
pub const POLL_EVERY: Duration = Duration::from_secs(5);

/// One polled queue: its full name (the label) and URL.
#[derive(Clone, Debug)]
pub struct WatchedQueue {
    pub name: String,
    pub url: String,
}

/// Messages in a queue by state, from one `GetQueueAttributes` answer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl Depth {
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// Tracks since when a queue has been non-empty.
#[derive(Debug, Default)]
pub struct BacklogClock {
    busy_since: Option<Instant>,
}

impl BacklogClock {
    /// Records a depth seen at `now`; returns the backlog age in seconds.
    pub fn observe(&mut self, depth: &Depth, now: Instant) -> f64 {
        if depth.total() == 0 {
            self.busy_since = None;
            return 0.0;
        }
        let since = *self.busy_since.get_or_insert(now);
        now.duration_since(since).as_secs_f64()
    }
}

/// Polls `queues` every [`POLL_EVERY`] until `shutdown`.
pub async fn run(sqs: aws_sdk_sqs::Client, queues: Vec<WatchedQueue>, shutdown: CancellationToken) {
    let clocks = std::sync::Mutex::new(queues.iter().map(|_| BacklogClock::default()).collect::<Vec<_>>());
    Periodic::new("queue_gauges", POLL_EVERY)
        .run(shutdown, || async {
            // every queue is read each time; the first failure is the tick's error
            let mut failed = None;
            for (i, queue) in queues.iter().enumerate() {
                match depth(&sqs, &queue.url).await {
                    Ok(depth) => {
                        let age = clocks.lock().expect("never poisoned")[i].observe(&depth, Instant::now());
                        record(&queue.name, &depth, age);
                    }
                    Err(err) => {
                        failed.get_or_insert(err.context(format!("cannot read the depth of `{}`", queue.name)));
                    }
                }
            }
            failed.map_or(Ok(Pace::Steady), Err)
        })
        .await
}

fn record(queue: &str, depth: &Depth, backlog_age: f64) {
    for (state, value) in [
        ("visible", depth.visible),
        ("in_flight", depth.in_flight),
        ("delayed", depth.delayed),
    ] {
        metrics::gauge!("sqs_queue_messages", "queue" => queue.to_string(), "state" => state).set(value as f64);
    }
    metrics::gauge!("sqs_queue_backlog_age_seconds", "queue" => queue.to_string()).set(backlog_age);
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<Depth> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Attr::ApproximateNumberOfMessages)
        .attribute_names(Attr::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(Attr::ApproximateNumberOfMessagesDelayed)
        .send()
        .await?;
    let attrs = out.attributes().cloned().unwrap_or_default();
    let get = |name: Attr| attrs.get(&name).and_then(|v| v.parse::<u64>().ok()).unwrap_or_default();
    Ok(Depth {
        visible: get(Attr::ApproximateNumberOfMessages),
        in_flight: get(Attr::ApproximateNumberOfMessagesNotVisible),
        delayed: get(Attr::ApproximateNumberOfMessagesDelayed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(total: u64) -> Depth {
        Depth {
            visible: total,
            ..Depth::default()
        }
    }

    #[test]
    fn the_backlog_age_counts_from_the_first_non_empty_poll_and_resets_when_empty() {
        let t0 = Instant::now();
        let mut clock = BacklogClock::default();
        assert_eq!(clock.observe(&depth(0), t0), 0.0);
        assert_eq!(clock.observe(&depth(2), t0 + Duration::from_secs(5)), 0.0);
        assert_eq!(clock.observe(&depth(1), t0 + Duration::from_secs(15)), 10.0);
        assert_eq!(clock.observe(&depth(0), t0 + Duration::from_secs(20)), 0.0);
        assert_eq!(clock.observe(&depth(3), t0 + Duration::from_secs(25)), 0.0);
    }

    #[test]
    fn in_flight_and_delayed_messages_are_a_backlog_too() {
        let t0 = Instant::now();
        let mut clock = BacklogClock::default();
        let held = Depth {
            in_flight: 1,
            ..Depth::default()
        };
        clock.observe(&held, t0);
        assert_eq!(clock.observe(&held, t0 + Duration::from_secs(7)), 7.0);
        let delayed = Depth {
            delayed: 1,
            ..Depth::default()
        };
        assert_eq!(delayed.total(), 1);
    }
}
