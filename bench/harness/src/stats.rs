use std::time::Duration;

/// Nearest-rank percentile of an unsorted sample, in milliseconds.
pub fn pct(sample: &[Duration], p: f64) -> f64 {
    if sample.is_empty() {
        return f64::NAN;
    }
    let mut v: Vec<Duration> = sample.to_vec();
    v.sort();
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    ms(v[rank.min(v.len()) - 1])
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn min(sample: &[Duration]) -> f64 {
    sample.iter().min().map_or(f64::NAN, |d| ms(*d))
}

pub fn max(sample: &[Duration]) -> f64 {
    sample.iter().max().map_or(f64::NAN, |d| ms(*d))
}

/// `3×200, 1×409`: how a run's answers were distributed, so an error path cannot pass for a
/// fast success.
pub fn tally<T: Ord + std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for i in items {
        *counts.entry(i).or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n}×{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
