//! `stockctl`, the operator's command line: what the system holds and where it is
//! stuck (`status`), the dead-letter queues (`dlq list|show|redrive|purge`), the ops
//! alert inbox (`alerts`), surplus arrivals (`surplus list|settle`) and the stock
//! invariant (`verify`).
//!
//! Configured from the environment like the services (README "Configuration"). Each
//! command is a function returning a serializable report, so tests call it in
//! process; [`run`] parses nothing itself and only renders (a table, or JSON with
//! `--json`). Exit status: 0 done, 1 the check failed (`verify`, a failed redrive),
//! 2 the command could not run (an unreachable dependency, a missing queue, a usage
//! error); see `main.rs`.

pub mod alerts;
pub mod cli;
pub mod configuration;
pub mod context;
pub mod dlq;
pub mod peek;
pub mod status;
pub mod surplus;
pub mod table;
pub mod verify;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

pub use cli::{Cli, Command, DlqCommand, SurplusCommand};
pub use configuration::Settings;
pub use context::Ctx;
pub use dlq::Dlq;

/// Runs one command, writing its output to `out`; returns the exit status (0 or 1).
/// `stop` ends `alerts --follow`.
pub async fn run(
    cli: Cli,
    settings: &Settings,
    out: &mut (dyn Write + Send),
    stop: CancellationToken,
) -> anyhow::Result<u8> {
    let ctx = Ctx::new(settings).await;
    let json = cli.json;
    match cli.command {
        Command::Status => {
            let report = status::status(&ctx).await?;
            emit(out, json, &report, || report.human())?;
            Ok(0)
        }
        Command::Verify { max_open_seconds } => {
            let report = verify::verify(&ctx, max_open_seconds).await?;
            emit(out, json, &report, || report.human())?;
            Ok(if report.holds { 0 } else { 1 })
        }
        Command::Alerts {
            follow: false,
            peek,
            webhook,
            ..
        } => {
            let webhook = if peek { None } else { webhook_of(webhook, settings)? };
            let report = alerts::read(&ctx, peek, webhook.as_ref()).await?;
            emit(out, json, &report, || report.human())?;
            // What was delivered is printed; the rest is still queued: say so, exit 2.
            match report.webhook_error {
                Some(error) => Err(anyhow::anyhow!(error)),
                None => Ok(0),
            }
        }
        Command::Alerts {
            follow: true,
            webhook,
            retry_seconds,
            ..
        } => {
            let webhook = webhook_of(webhook, settings)?;
            if let Some(webhook) = &webhook {
                eprintln!(
                    "forwarding {} to {} (Ctrl-C to stop)",
                    ctx.resources.name(stockflow_contracts::names::OPS_ALERT_QUEUE),
                    webhook.display()
                );
            }
            let mut failed = None;
            let retry = Duration::from_secs(retry_seconds);
            alerts::follow(&ctx, stop, webhook.as_ref(), retry, &mut |event| {
                let alert = match event {
                    alerts::FollowEvent::Alert(alert) => alert,
                    alerts::FollowEvent::WebhookFailed { error, kept, retry_in } => {
                        // stderr: stdout stays one alert per line.
                        eprintln!(
                            "stockctl: {error}; {kept} alert(s) kept in the queue, retrying in {} s",
                            retry_in.as_secs()
                        );
                        return;
                    }
                };
                let written = if json {
                    serde_json::to_string(alert)
                        .map_err(std::io::Error::other)
                        .and_then(|line| writeln!(out, "{line}"))
                } else {
                    writeln!(out, "{}", alert.human())
                };
                if let Err(err) = written.and_then(|_| out.flush()) {
                    failed.get_or_insert(err);
                }
            })
            .await?;
            match failed {
                Some(err) => Err(anyhow::anyhow!("cannot write the alerts: {err}")),
                None => Ok(0),
            }
        }
        Command::Dlq { command } => run_dlq(&ctx, command, json, out).await,
        Command::Surplus {
            command: SurplusCommand::List,
        } => {
            let report = surplus::list(&ctx).await?;
            emit(out, json, &report, || report.human())?;
            Ok(0)
        }
        Command::Surplus {
            command:
                SurplusCommand::Settle {
                    production_order_id,
                    keep,
                    ..
                },
        } => {
            let settlement = if keep {
                warehouse::restock::Settlement::Kept
            } else {
                warehouse::restock::Settlement::Returned
            };
            let report = surplus::settle(&ctx, production_order_id, settlement).await?;
            emit(out, json, &report, || report.human())?;
            Ok(0)
        }
    }
}

async fn run_dlq(ctx: &Ctx, command: DlqCommand, json: bool, out: &mut (dyn Write + Send)) -> anyhow::Result<u8> {
    match command {
        DlqCommand::List { queue } => {
            let report = dlq::list(ctx, &Dlq::selected(queue)).await?;
            emit(out, json, &report, || report.human())?;
            Ok(0)
        }
        DlqCommand::Show { message_id, queue } => {
            let message = dlq::show(ctx, &Dlq::selected(queue), &message_id).await?;
            emit(out, json, &message, || message.human())?;
            Ok(0)
        }
        DlqCommand::Redrive { queue, timeout_seconds } => {
            let timeout = Duration::from_secs(timeout_seconds);
            let report = if json {
                // Progress goes to stderr, so stdout stays one JSON document.
                dlq::redrive(ctx, &Dlq::selected(queue), timeout, &mut |p| eprintln!("{}", p.human())).await?
            } else {
                let mut failed = None;
                let report = dlq::redrive(ctx, &Dlq::selected(queue), timeout, &mut |p| {
                    if let Err(err) = writeln!(out, "{}", p.human()).and_then(|_| out.flush()) {
                        failed.get_or_insert(err);
                    }
                })
                .await?;
                if let Some(err) = failed {
                    anyhow::bail!("cannot write the progress: {err}");
                }
                report
            };
            if json {
                emit(out, json, &report, String::new)?;
            }
            Ok(if report.succeeded() { 0 } else { 1 })
        }
        DlqCommand::Purge { queue, yes } => {
            let dlqs = Dlq::selected(queue);
            if !yes {
                let preview = dlq::purge_preview(ctx, &dlqs).await?;
                let what: Vec<String> = preview
                    .iter()
                    .map(|p| format!("{} ({} messages)", p.name, p.messages))
                    .collect();
                if !confirm(&format!("Delete every message of {}?", what.join(" and ")))? {
                    writeln!(out, "nothing purged")?;
                    return Ok(1);
                }
            }
            let report = dlq::purge(ctx, &dlqs).await?;
            emit(out, json, &report, || report.human())?;
            Ok(0)
        }
    }
}

/// The webhook to forward alerts to: `--webhook`, else `ALERT_WEBHOOK_URL`, else none.
fn webhook_of(flag: Option<String>, settings: &Settings) -> anyhow::Result<Option<alerts::Webhook>> {
    let url = flag.unwrap_or_else(|| settings.alert_webhook_url.clone());
    if url.trim().is_empty() {
        return Ok(None);
    }
    alerts::Webhook::new(&url).map(Some)
}

/// Asks on the terminal; refuses when stdin is not one (use --yes there).
fn confirm(question: &str) -> anyhow::Result<bool> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "refusing to purge without --yes: stdin is not a terminal, so nobody can confirm"
    );
    eprint!("{question} Type `yes` to confirm: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}

fn emit<T: Serialize>(
    out: &mut (dyn Write + Send),
    json: bool,
    report: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    if json {
        serde_json::to_writer_pretty(&mut *out, report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", human())?;
    }
    out.flush()?;
    Ok(())
}
