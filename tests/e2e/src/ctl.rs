//! Running `stockctl` in process, as an operator would from the shell, against a
//! test's private environment.

use clap::Parser;
use stockctl::{Cli, Settings};
use tokio_util::sync::CancellationToken;

use crate::TestEnv;

/// stockctl's settings for `env`'s databases and topology.
pub fn settings(env: &TestEnv) -> Settings {
    env.ctl.settings.clone()
}

/// Runs `stockctl <args>`; returns the exit status and stdout.
pub async fn run_with(settings: &Settings, args: &[&str]) -> anyhow::Result<(u8, String)> {
    let cli = Cli::try_parse_from(std::iter::once("stockctl").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    let code = stockctl::run(cli, settings, &mut out, CancellationToken::new()).await?;
    Ok((code, String::from_utf8(out)?))
}

/// Runs `stockctl <args>` for `env`; panics if it cannot run at all.
pub async fn run(env: &TestEnv, args: &[&str]) -> (u8, String) {
    run_with(&settings(env), args)
        .await
        .unwrap_or_else(|err| panic!("stockctl {args:?} failed: {err:#}"))
}
