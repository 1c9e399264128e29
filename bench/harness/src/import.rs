//! The Shopify import's time on the local stack: 2,000 variants as one product (the most
//! Shopify exports of one, and the largest document the import writes) and as 200 products
//! of 10 (200 transactions), each a dry run, an import and a re-import of the same file.

use crate::stats::{max, pct};
use dev_server::shopify_sample::products_csv;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub struct Options {
    pub api: String,
    pub token: String,
    pub runs: usize,
}

const SHAPES: [(&str, usize, usize, usize, usize); 2] = [
    ("1 product × 2,000 variants (10 × 10 × 20)", 1, 10, 10, 20),
    ("200 products × 10 variants (10 × 1 × 1)", 200, 10, 1, 1),
];

async fn post(
    client: &reqwest::Client,
    o: &Options,
    query: &str,
    csv: &str,
) -> anyhow::Result<(Duration, serde_json::Value)> {
    let start = Instant::now();
    let res = client
        .post(format!(
            "{}/admin/imports/shopify-products?{query}&defaultHsn=7418&defaultGstRate=1200",
            o.api
        ))
        .bearer_auth(&o.token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await?;
    let took = start.elapsed();
    anyhow::ensure!(status.is_success(), "import answered {status}: {body}");
    Ok((took, body))
}

pub async fn run(o: &Options) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let mut md = String::from(
        "| file | bytes | dry run ms p50 (max) | import ms p50 (max) | re-import ms p50 (max) | runs |\n|---|---|---|---|---|---|\n",
    );
    for (shape, (name, products, a, b, c)) in SHAPES.iter().enumerate() {
        let (mut dry, mut first, mut again) = (Vec::new(), Vec::new(), Vec::new());
        let mut bytes = 0;
        for run in 0..o.runs {
            // New handles and SKUs each run, so each import creates what it measures.
            let csv = products_csv(&format!("b{shape}r{run}-"), *products, *a, *b, *c);
            bytes = csv.len();
            dry.push(post(&client, o, "dryRun=true", &csv).await?.0);
            let (took, report) = post(&client, o, "dryRun=false", &csv).await?;
            anyhow::ensure!(
                report["variants"]["created"] == products * a * b * c,
                "the import created {}",
                report["variants"]
            );
            first.push(took);
            let (took, report) = post(&client, o, "dryRun=false", &csv).await?;
            anyhow::ensure!(
                report["variants"]["unchanged"] == products * a * b * c,
                "the re-import changed {}",
                report["variants"]
            );
            again.push(took);
        }
        let cell = |v: Vec<Duration>| format!("{:.0} ({:.0})", pct(&v, 50.0), max(&v));
        writeln!(
            md,
            "| {name} | {bytes} | {} | {} | {} | {} |",
            cell(dry),
            cell(first),
            cell(again),
            o.runs
        )?;
    }
    Ok(md)
}
