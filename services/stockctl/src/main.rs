//! The stockctl binary: parse, configure from the environment, run, exit
//! (0 ok, 1 check failed, 2 could not run).

use std::process::ExitCode;

use clap::Parser;
use stockflow_kit::{config, shutdown};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = stockctl::Cli::parse();
    let settings: stockctl::Settings = match config::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("stockctl: {err:#}");
            return ExitCode::from(2);
        }
    };
    // Only `alerts --follow` handles Ctrl-C itself; anything else just stops.
    let stop = if cli.follows() {
        shutdown::on_signal()
    } else {
        CancellationToken::new()
    };
    let mut stdout = std::io::stdout();
    match stockctl::run(cli, &settings, &mut stdout, stop).await {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("stockctl: {err:#}");
            ExitCode::from(2)
        }
    }
}
