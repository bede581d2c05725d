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
pub mod context;
pub mod dlq;
pub mod peek;
pub mod status;
pub mod surplus;
pub mod table;
pub mod verify;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::{ArgGroup, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use stockflow_kit::config::{DatabaseSettings};
use stockflow_messaging::aws::AwsSettings;
use tokio_util::sync::CancellationToken;

pub use context::Ctx;
pub use dlq::Dlq;

/// stockctl's settings: the services' variables (`MYSQL_URL`, `WAREHOUSE_DB`,
/// `AWS_ENDPOINT_URL`, `AWS_REGION`, `STOCKFLOW_PREFIX`, …).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub database: DatabaseSettings,
    #[serde(flatten)]
    pub aws: AwsSettings,
    /// `WAREHOUSE_DB`: the warehouse database.
    pub warehouse_db: String,
    /// `ALERT_WEBHOOK_URL`: where `stockctl alerts` forwards each alert (a Slack-compatible
    /// incoming webhook); empty: print only. `--webhook` overrides it.
    pub alert_webhook_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database: DatabaseSettings {
                db_pool_max: 2,
                ..DatabaseSettings::default()
            },
            aws: AwsSettings::default(),
            warehouse_db: warehouse::DEFAULT_DATABASE.into(),
            alert_webhook_url: String::new(),
        }
    }
}

/// Operate stockflow: status, dead-letter queues, alerts, the stock invariant.
///
/// Configured by the services' environment variables: MYSQL_URL, WAREHOUSE_DB,
/// AWS_ENDPOINT_URL (empty for real AWS), AWS_REGION, STOCKFLOW_PREFIX.
/// Exit status: 0 ok, 1 check failed, 2 could not run.
#[derive(Debug, Parser)]
#[command(name = "stockctl", version)]
pub struct Cli {
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Products and stock, open restock requests, queue depths, alarm states.
    Status,
    /// The dead-letter queues.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// The ops_alert_queue inbox: worker alerts and CloudWatch alarm changes.
    /// Reading consumes: what is printed is deleted (use --peek to leave it).
    Alerts {
        /// Keep long-polling and print alerts as they arrive, until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// Leave the alerts in the queue (read with VisibilityTimeout=0).
        #[arg(long, conflicts_with = "follow")]
        peek: bool,
        /// Also POST each alert to this Slack-compatible incoming webhook
        /// (`{"text": …, "blocks": […]}`); an alert is deleted only once the webhook
        /// answered 2xx. Default: $ALERT_WEBHOOK_URL (ignored with --peek).
        #[arg(long, value_name = "URL", conflicts_with = "peek")]
        webhook: Option<String>,
        /// With --follow: how long an alert the webhook refused waits before it is tried again.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=43_200))]
        retry_seconds: u64,
    },
    /// Production orders that arrived for a restock request another order had fulfilled:
    /// not added to stock, each waiting for a person's decision.
    Surplus {
        #[command(subcommand)]
        command: SurplusCommand,
    },
    /// Check the stock invariant: initial + produced - sold = stock for every sku,
    /// no negative stock, no restock request open too long. Exit 1 when violated.
    Verify {
        /// A restock request open longer than this is a violation.
        #[arg(long, default_value_t = 600)]
        max_open_seconds: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages in the DLQs with why they failed (non-destructive).
    List {
        /// Only this DLQ (default: both).
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
    },
    /// One message in full, by its DLQ message id or its original message id.
    Show {
        message_id: String,
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
    },
    /// Move the DLQ's messages back to their work queue and wait until done.
    Redrive {
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 300)]
        timeout_seconds: u64,
    },
    /// Delete every message of the DLQ(s). Asks first unless --yes.
    Purge {
        #[arg(long, value_enum)]
        queue: Option<Dlq>,
        /// Do not ask (required when stdin is not a terminal).
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SurplusCommand {
    /// The surplus arrivals that wait for a decision.
    List,
    /// Decide on one, once: keep its goods (added to stock) or return them.
    #[command(group(ArgGroup::new("decision").required(true).args(["keep", "return_goods"])))]
    Settle {
        /// The surplus arrival's production order id.
        production_order_id: uuid::Uuid,
        /// Keep the goods: add its quantity to the sku's stock.
        #[arg(long)]
        keep: bool,
        /// Return the goods: stock stays as it is.
        #[arg(long = "return")]
        return_goods: bool,
    },
}

impl Cli {
    /// Whether the command runs until interrupted (and so wants Ctrl-C handled).
    pub fn follows(&self) -> bool {
        matches!(self.command, Command::Alerts { follow: true, .. })
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_parses() {
        let cli = Cli::try_parse_from(["stockctl", "dlq", "redrive", "--queue", "stock-inc", "--json"]).unwrap();
        assert!(cli.json);
        assert!(matches!(
            cli.command,
            Command::Dlq {
                command: DlqCommand::Redrive {
                    queue: Some(Dlq::StockInc),
                    ..
                }
            }
        ));
        let cli = Cli::try_parse_from(["stockctl", "verify"]).unwrap();
        assert!(matches!(cli.command, Command::Verify { max_open_seconds: 600 }));
        assert!(Cli::try_parse_from(["stockctl", "alerts", "--follow", "--peek"]).is_err());
        let order = "0b6a8f52-5d4e-4d7e-9a43-4f6f2b1f8c11";
        for refused in [
            vec!["stockctl", "surplus", "settle", order],
            vec!["stockctl", "surplus", "settle", order, "--keep", "--return"],
            vec!["stockctl", "surplus", "settle", "not-a-uuid", "--keep"],
        ] {
            assert!(Cli::try_parse_from(&refused).is_err(), "{refused:?}");
        }
        let cli = Cli::try_parse_from(["stockctl", "surplus", "settle", order, "--return"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Surplus {
                command: SurplusCommand::Settle {
                    keep: false,
                    return_goods: true,
                    ..
                }
            }
        ));
        assert!(
            Cli::try_parse_from(["stockctl", "alerts", "--follow"])
                .unwrap()
                .follows()
        );
    }

    #[test]
    fn settings_default_to_the_services_defaults() {
        let s = Settings::default();
        assert_eq!(s.warehouse_db, "stockflow");
        assert_eq!(s.aws.aws_endpoint_url, "http://127.0.0.1:4566");
    }
}
