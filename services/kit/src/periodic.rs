//! The one loop a service's periodic tasks run in (the republisher, the stock gauges,
//! the queue gauges, the outbox sweeper, the factory's production line, housekeeping),
//! with one error policy:
//!
//! - a tick that fails is counted in `periodic_task_failures_total{task}`; the first
//!   failure of a streak is logged at `warn` with the error, the next ones of the same
//!   streak at `debug` (a dependency that is down for a minute logs one line, not sixty);
//! - the first success after a streak is logged at `info`, with the streak's length;
//! - a failure never ends the loop: the task runs again at its next tick. Only shutdown
//!   ends it, between ticks (a tick in progress finishes).
//!
//! A tick returns how long to wait before the next one: [`Pace::Steady`] for the task's
//! period, or a shorter (or longer) wait of its own (a sweeper that left work behind
//! comes back at once). A task may also be woken early by a [`Notify`] (an order placed
//! on the production line).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What the first failure of a streak logs (at `warn`, with the `task` and the `error`).
pub const FAILED: &str = "periodic task failed; it runs again after its period until it succeeds";

/// When a task runs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// After the task's period.
    Steady,
    /// After this wait instead.
    After(Duration),
}

/// A named task run every `period` until shutdown.
#[derive(Clone, Debug)]
pub struct Periodic {
    /// The task's name in logs and in the failure counter's `task` label.
    pub task: &'static str,
    pub period: Duration,
    /// Ends a wait early when notified.
    wake: Option<Arc<Notify>>,
    /// The first tick comes one period after start, not at once.
    first_after_period: bool,
}

impl Periodic {
    pub fn new(task: &'static str, period: Duration) -> Self {
        Self {
            task,
            period,
            wake: None,
            first_after_period: false,
        }
    }

    /// The first tick comes one period after start instead of at once (a task whose
    /// first run at start would only find nothing, or get in a caller's way).
    pub fn first_after_period(self) -> Self {
        Self {
            first_after_period: true,
            ..self
        }
    }

    /// The task also runs as soon as `wake` is notified (a notification given during a
    /// tick ends the next wait at once).
    pub fn woken_by(self, wake: Arc<Notify>) -> Self {
        Self {
            wake: Some(wake),
            ..self
        }
    }

    /// Runs `tick` now and then after each wait it asks for, until `shutdown`.
    pub async fn run<F, Fut>(self, shutdown: CancellationToken, mut tick: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = anyhow::Result<Pace>>,
    {
        let mut failures = 0u64;
        if self.first_after_period {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.period) => {}
            }
        }
        loop {
            let wait = match tick().await {
                Ok(pace) => {
                    if failures > 0 {
                        tracing::info!(task = self.task, failures, "periodic task recovered");
                        failures = 0;
                    }
                    match pace {
                        Pace::Steady => self.period,
                        Pace::After(wait) => wait,
                    }
                }
                Err(err) => {
                    failures += 1;
                    metrics::counter!("periodic_task_failures_total", "task" => self.task).increment(1);
                    if failures == 1 {
                        tracing::warn!(task = self.task, error = %format!("{err:#}"), retry_ms = self.period.as_millis() as u64, "{FAILED}");
                    } else {
                        tracing::debug!(task = self.task, failures, error = %format!("{err:#}"), "periodic task failed again");
                    }
                    self.period
                }
            };
            let woken = async {
                match &self.wake {
                    Some(wake) => wake.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = woken => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_failing_tick_does_not_end_the_loop_and_shutdown_does() {
        let ticks = Arc::new(AtomicU32::new(0));
        let shutdown = CancellationToken::new();
        let task = {
            let (ticks, shutdown) = (ticks.clone(), shutdown.clone());
            tokio::spawn(
                Periodic::new("test", Duration::from_millis(1)).run(shutdown.clone(), move || {
                    let (ticks, shutdown) = (ticks.clone(), shutdown.clone());
                    async move {
                        let n = ticks.fetch_add(1, Ordering::SeqCst) + 1;
                        if n == 5 {
                            shutdown.cancel();
                        }
                        anyhow::ensure!(n % 2 == 0, "odd tick {n}");
                        Ok(Pace::Steady)
                    }
                }),
            )
        };
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the loop ends on shutdown")
            .unwrap();
        assert_eq!(
            ticks.load(Ordering::SeqCst),
            5,
            "failures did not stop it, shutdown did"
        );
    }

    /// Runs `periodic` until its third tick cancels the shutdown token, every tick
    /// answering `pace` and the earlier ones calling `between`; the ticks run. Panics with
    /// `why` if that takes 10 s.
    async fn until_the_third_tick(periodic: Periodic, pace: Pace, between: impl Fn(), why: &str) -> u32 {
        let ticks = AtomicU32::new(0);
        let shutdown = CancellationToken::new();
        let run = periodic.run(shutdown.clone(), || {
            if ticks.fetch_add(1, Ordering::SeqCst) == 2 {
                shutdown.cancel();
            } else {
                between();
            }
            async move { Ok(pace) }
        });
        tokio::time::timeout(Duration::from_secs(10), run).await.expect(why);
        ticks.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn a_tick_sets_its_own_wait() {
        // a period of an hour: only the ticks' own zero waits let the loop come back
        let periodic = Periodic::new("test", Duration::from_secs(3600));
        let ticks = until_the_third_tick(periodic, Pace::After(Duration::ZERO), || {}, "zero waits").await;
        assert_eq!(ticks, 3);
    }

    #[tokio::test]
    async fn a_notification_ends_the_wait() {
        // a period of an hour: only the notifications bring the loop back
        let wake = Arc::new(Notify::new());
        let periodic = Periodic::new("test", Duration::from_secs(3600)).woken_by(wake.clone());
        // notified during the tick: the next wait ends at once
        let notify = || wake.notify_one();
        let ticks = until_the_third_tick(periodic, Pace::Steady, notify, "woken, not waiting an hour").await;
        assert_eq!(ticks, 3);
    }

    #[tokio::test]
    async fn the_first_tick_can_wait_one_period() {
        let ticks = Arc::new(AtomicU32::new(0));
        let shutdown = CancellationToken::new();
        let run = Periodic::new("test", Duration::from_secs(3600))
            .first_after_period()
            .run(shutdown.clone(), {
                let ticks = ticks.clone();
                move || {
                    let ticks = ticks.clone();
                    async move {
                        ticks.fetch_add(1, Ordering::SeqCst);
                        Ok(Pace::Steady)
                    }
                }
            });
        let task = tokio::spawn(run);
        tokio::time::sleep(Duration::from_millis(200)).await; // the span the test looks at
        shutdown.cancel();
        task.await.unwrap();
        assert_eq!(ticks.load(Ordering::SeqCst), 0, "no tick before its first period");
    }
}
