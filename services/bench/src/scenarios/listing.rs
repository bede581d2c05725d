//! The listing scenario: what one page of `GET /products?limit=…&after=<sku>` costs as
//! the catalogue grows (1,000 → 10,000 → 100,000 products by default). A page is one
//! range read of the primary key, so its cost must stay flat: the verdict is the ratio of
//! the largest catalogue's throughput to the smallest's. Beside it, at the smallest size,
//! the legacy whole list, whose size and latency grow with the shop.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;

use super::World;
use super::phases::insert_products;
use crate::load::{self, HttpClient, Stats};
use crate::report::{self, Report, SummaryRow};
use crate::{Args, progress, system};

/// The skus this scenario adds to reach a size.
const PREFIX: &str = "BLS-";

/// One size's measurement.
struct Measured {
    products: usize,
    page: Stats,
    /// Sales' resident memory after the phase, KiB (its per-sku stock gauges grow with
    /// the catalogue).
    sales_rss_kib: Option<u64>,
}

impl Measured {
    fn describe(&self) -> String {
        format!(
            "{} products: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
            self.products,
            self.page.throughput(),
            self.page.ms(0.5),
            self.page.ms(0.99)
        )
    }
}

/// The legacy whole list at the smallest size.
struct WholeList {
    stats: Stats,
    /// The size of one answer.
    bytes: usize,
}

/// Everything listing measured.
struct Listing {
    /// Smallest catalogue first.
    sizes: Vec<Measured>,
    legacy: Option<WholeList>,
}

pub(super) async fn run(args: &Args, world: &World, report: &mut Report) -> anyhow::Result<()> {
    let Listing {
        sizes: measured,
        legacy,
    } = measure(args, world).await?;
    let (Some(first), Some(last)) = (measured.first(), measured.last()) else {
        return Ok(());
    };
    let errors: u64 = measured.iter().map(|m| m.page.errors()).sum();
    if errors > 0 {
        report
            .failures
            .push(format!("listing: {errors} page requests not answered 200"));
    }
    report.rows.push(summary_row(args, first, last));
    report.sections.push(section(args, &measured, legacy.as_ref()));
    Ok(())
}

/// Each size's page phase, smallest first, and the legacy whole list at the smallest.
async fn measure(args: &Args, world: &World) -> anyhow::Result<Listing> {
    let limit = Duration::from_secs(args.max_seconds);
    let mut sizes = args.listing_sizes.clone();
    sizes.sort_unstable();
    let mut measured = Vec::new();
    let mut legacy = None;
    for &size in &sizes {
        let skus = grow_to(world, size).await?;
        progress(format!(
            "listing: {} products; {} clients, {} requests of GET /products?limit={}&after=<random sku>",
            skus.len(),
            args.listing_clients,
            args.listing_requests,
            args.listing_limit
        ));
        let page_limit = args.listing_limit;
        let pages = |requests| {
            let skus = skus.clone();
            load::closed_loop(
                args.listing_clients,
                requests,
                limit,
                || HttpClient::new(world.sales),
                move |mut client, i| {
                    let after = &skus[(i as usize).wrapping_mul(7919) % skus.len()];
                    let path = format!("/products?limit={page_limit}&after={after}");
                    async move {
                        let outcome = client.get(&path).await;
                        (client, outcome)
                    }
                },
            )
        };
        pages(args.warmup).await;
        let page = pages(args.listing_requests).await;
        progress(format!("listing {}: {}", skus.len(), page.summary()));
        if legacy.is_none() {
            legacy = Some(whole_list(args, world, limit).await);
        }
        let sales_rss_kib = world
            .services
            .pids()
            .into_iter()
            .find(|p| p.name == "sales")
            .and_then(|p| system::memory_kib(p.pid))
            .map(|m| m.rss_kib);
        measured.push(Measured {
            products: skus.len(),
            page,
            sales_rss_kib,
        });
    }
    Ok(Listing {
        sizes: measured,
        legacy,
    })
}

/// The largest catalogue against the smallest: flat if 0.8–1.25× the throughput.
fn summary_row(args: &Args, first: &Measured, last: &Measured) -> SummaryRow {
    let ratio = last.page.throughput() / first.page.throughput().max(1e-9);
    let p50_ratio = last.page.ms(0.5) / first.page.ms(0.5).max(1e-9);
    SummaryRow {
        scenario: format!("listing (pages of {})", args.listing_limit),
        system: last.describe(),
        ceiling: first.describe(),
        ratio: format!(
            "{ratio:.2}× thr, {p50_ratio:.2}× p50 ({}/{})",
            last.products, first.products
        ),
        target: "flat: 0.8–1.25× thr".into(),
        met: report::verdict((0.8..=1.25).contains(&ratio)),
    }
}

/// `measured` is not empty.
fn section(args: &Args, measured: &[Measured], legacy: Option<&WholeList>) -> String {
    let first = &measured[0];
    let mut table = format!("{}\n", report::STATS_HEADER);
    for m in measured {
        let _ = writeln!(
            table,
            "{}",
            report::stats_row(
                &format!("page of {}, {} products", args.listing_limit, m.products),
                "-",
                &m.page
            )
        );
    }
    let rss: Vec<String> = measured
        .iter()
        .filter_map(|m| {
            m.sales_rss_kib
                .map(|kib| format!("{:.1} MiB at {}", kib as f64 / 1024.0, m.products))
        })
        .collect();
    let mut legacy_line = format!(" Sales' RSS after each size: {}.", rss.join(", "));
    if let Some(legacy) = legacy {
        let _ = writeln!(
            table,
            "{}",
            report::stats_row(
                &format!("legacy whole list, {} products", first.products),
                "-",
                &legacy.stats
            )
        );
        legacy_line += &format!(
            " The legacy whole list at {} products is {:.0} KB per answer.",
            first.products,
            legacy.bytes as f64 / 1000.0
        );
    }
    format!(
        "## listing\n\nThe warehouse grows to each size (products `{PREFIX}…` added to those of the other scenarios); at each, {} warm-up then {} requests of `GET /products?limit={}&after=<sku>` from {} clients, the cursor a pseudo-random sku of the catalogue (the i-th request takes sku number i × 7919 mod size). Answers other than 200 count as errors.{legacy_line}\n\n{table}",
        args.warmup, args.listing_requests, args.listing_limit, args.listing_clients
    )
}

/// Adds `PREFIX` products until the warehouse holds `size`; every sku, by sku.
async fn grow_to(world: &World, size: usize) -> anyhow::Result<Arc<Vec<String>>> {
    let mut conn = world.warehouse.get_conn().await?;
    let count: usize = conn.query_first("SELECT COUNT(*) FROM products").await?.unwrap_or(0);
    let ours: usize = conn
        .exec_first(
            "SELECT COUNT(*) FROM products WHERE sku LIKE ?",
            (format!("{PREFIX}%"),),
        )
        .await?
        .unwrap_or(0);
    let added: Vec<String> = (ours..ours + size.saturating_sub(count))
        .map(|i| format!("{PREFIX}{i:06}"))
        .collect();
    insert_products(&world.warehouse, &added, 1, 10).await?;
    let skus: Vec<String> = conn.query("SELECT sku FROM products ORDER BY sku").await?;
    Ok(Arc::new(skus))
}

/// The legacy `GET /products` at the current size: a short phase and the answer's size.
async fn whole_list(args: &Args, world: &World, limit: Duration) -> WholeList {
    let bytes = HttpClient::new(world.sales)
        .text("/products")
        .await
        .map(|body| body.len())
        .unwrap_or_default();
    let requests = (args.listing_requests / 10).max(10);
    let stats = load::closed_loop(
        args.listing_clients,
        requests,
        limit,
        || HttpClient::new(world.sales),
        |mut client, _| async move {
            let outcome = client.get("/products").await;
            (client, outcome)
        },
    )
    .await;
    progress(format!(
        "listing: legacy whole list ({bytes} bytes): {}",
        stats.summary()
    ));
    WholeList { stats, bytes }
}
