//! Rounds: the phases of a scenario (the ceiling, the system, and a third for
//! comparison: the bare service or the bare UPDATE) measured back to back, in reverse
//! order every other round; the verdict takes the median ratio over the rounds.

use std::fmt::Write;
use std::future::Future;

use crate::load::Stats;

/// One round of phases measured back to back: the ceiling at its best pool, the system,
/// and the bare comparison (the bare service in spread, the bare UPDATE in hot).
pub(super) struct Round {
    pub ceiling: Stats,
    pub system: Stats,
    pub bare: Stats,
}

/// Whether round `round` (1-based) runs its phases in reverse order (the bare phase
/// first, the ceiling last). The order alternates, so that a drift of the machine's
/// speed during the run (the later phase was the slower more often than not) favours no
/// side.
pub(super) fn reversed(round: usize) -> bool {
    round.is_multiple_of(2)
}

/// What the three phases of one round gave.
pub(super) struct Ran<C, S, B> {
    pub ceiling: C,
    pub system: S,
    pub bare: B,
}

impl From<Ran<Stats, Stats, Stats>> for Round {
    fn from(ran: Ran<Stats, Stats, Stats>) -> Self {
        Self {
            ceiling: ran.ceiling,
            system: ran.system,
            bare: ran.bare,
        }
    }
}

/// Runs round `round`'s three phases one after the other, in the order `reversed`
/// says; the first error ends it.
pub(super) async fn run_round<C, S, B>(
    round: usize,
    ceiling: impl Future<Output = anyhow::Result<C>>,
    system: impl Future<Output = anyhow::Result<S>>,
    bare: impl Future<Output = anyhow::Result<B>>,
) -> anyhow::Result<Ran<C, S, B>> {
    if reversed(round) {
        let bare = bare.await?;
        let system = system.await?;
        let ceiling = ceiling.await?;
        Ok(Ran { ceiling, system, bare })
    } else {
        let ceiling = ceiling.await?;
        let system = system.await?;
        let bare = bare.await?;
        Ok(Ran { ceiling, system, bare })
    }
}

/// The medians over the rounds of system / ceiling.
pub(super) struct Ratios {
    pub throughput: f64,
    pub p99: f64,
}

fn throughput_ratio(round: &Round) -> f64 {
    round.system.throughput() / round.ceiling.throughput()
}

fn p99_ratio(round: &Round) -> f64 {
    round.system.ms(0.99) / round.ceiling.ms(0.99)
}

pub(super) fn ratios(rounds: &[Round]) -> Ratios {
    Ratios {
        throughput: median_of(rounds, throughput_ratio),
        p99: median_of(rounds, p99_ratio),
    }
}

/// The median of `ratio` over the rounds.
pub(super) fn median_of(rounds: &[Round], ratio: impl Fn(&Round) -> f64) -> f64 {
    median(rounds.iter().map(ratio).collect())
}

/// The rounds' table; `bare_label` names the third phase.
pub(super) fn table(rounds: &[Round], bare_label: &str) -> String {
    let mut table = format!(
        "Rounds measured back to back (in the order ceiling, system, {bare_label}, reversed in even rounds); the verdict takes the median ratio of system to ceiling:\n\n\
         | round | ceiling /s | system /s | throughput ratio | ceiling p99 ms | system p99 ms | p99 ratio | {bare_label} /s | bare / ceiling | system / bare |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (i, round) in rounds.iter().enumerate() {
        let Round { ceiling, system, bare } = round;
        let _ = writeln!(
            table,
            "| {} | {:.0} | {:.0} | {:.2} | {:.1} | {:.1} | {:.2} | {:.0} | {:.2} | {:.2} |",
            i + 1,
            ceiling.throughput(),
            system.throughput(),
            throughput_ratio(round),
            ceiling.ms(0.99),
            system.ms(0.99),
            p99_ratio(round),
            bare.throughput(),
            bare.throughput() / ceiling.throughput(),
            system.throughput() / bare.throughput()
        );
    }
    table
}

pub(super) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn even_rounds_run_reversed() {
        assert!(!reversed(1));
        assert!(reversed(2));
        assert!(!reversed(3));
    }

    #[tokio::test]
    async fn a_reversed_round_runs_the_bare_phase_first() {
        let order = std::sync::Mutex::new(Vec::new());
        let phase = |name: &'static str| {
            let order = &order;
            async move {
                order.lock().unwrap().push(name);
                anyhow::Ok(name)
            }
        };
        let ran = run_round(2, phase("ceiling"), phase("system"), phase("bare"))
            .await
            .unwrap();
        assert_eq!((ran.ceiling, ran.system, ran.bare), ("ceiling", "system", "bare"));
        assert_eq!(*order.lock().unwrap(), ["bare", "system", "ceiling"]);
    }
}
