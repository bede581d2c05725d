//! Waiting for a condition with a deadline, in place of a sleep: the tests' and the
//! bench's one way to wait for something to have happened ([`eventually`], which panics
//! at the deadline), and the compose suite's ([`within`], which says what it last saw).

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

/// Polls `check` every 100 ms until it returns `Some`, or fails after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let every = Duration::from_millis(100);
    match within(what, deadline, every, || {
        let attempt = check();
        async move { attempt.await.ok_or("not yet") }
    })
    .await
    {
        Ok(seen) => seen.value,
        Err(err) => panic!("{err}"),
    }
}

/// What [`within`] waited for, and how long it took.
#[derive(Debug)]
pub struct Seen<T> {
    pub value: T,
    pub after: Duration,
}

/// [`within`] gave up: what it waited for, and what it saw last instead.
#[derive(Debug)]
pub struct TimedOut {
    pub what: String,
    pub deadline: Duration,
    pub last: String,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let TimedOut { what, deadline, last } = self;
        write!(
            f,
            "timed out after {deadline:?} waiting for: {what} (last seen: {last})"
        )
    }
}

impl std::error::Error for TimedOut {}

/// Polls `check` every `every` until it returns `Ok`; at `deadline` fails with `what` and
/// the last `Err` it returned (what it saw instead).
pub async fn within<T, L, F, Fut>(
    what: &str,
    deadline: Duration,
    every: Duration,
    mut check: F,
) -> Result<Seen<T>, TimedOut>
where
    L: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, L>>,
{
    let start = tokio::time::Instant::now();
    loop {
        match check().await {
            Ok(value) => {
                return Ok(Seen {
                    value,
                    after: start.elapsed(),
                });
            }
            Err(last) if start.elapsed() >= deadline => {
                return Err(TimedOut {
                    what: what.into(),
                    deadline,
                    last: last.to_string(),
                });
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}
