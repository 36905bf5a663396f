//! Helpers for the figures the `bench/` scripts print.

/// The `p` quantile (0.0–1.0) of ascending `sorted` values (NaN when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p.clamp(0.0, 1.0)).round() as usize]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn quantiles_pick_the_nearest_rank() {
        let v: Vec<f64> = (1..=101).map(f64::from).collect();
        assert_eq!(
            (percentile(&v, 0.5), percentile(&v, 0.99), percentile(&v, 1.0)),
            (51.0, 100.0, 101.0)
        );
        assert!(percentile(&[], 0.5).is_nan());
    }
}
