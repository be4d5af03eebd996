//! McNemar's test: do two models, scored on the same faces, differ in accuracy?

use serde::{Deserialize, Serialize};

/// Below this many discordant faces (faces exactly one model gets right) the exact binomial
/// test is used, at or above it the chi-square test with continuity correction. 25 is the
/// usual rule (statsmodels' `mcnemar` documentation; Fagerland et al. 2013): below it the
/// chi-square approximation is poor, above it both agree closely and the chi-square
/// statistic is the one readers know.
pub const EXACT_TEST_BELOW: u64 = 25;

/// Which form of McNemar's test was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum McNemarMethod {
    /// Exact two-sided binomial test of the smaller discordant count against Binomial(b + c,
    /// 1/2); the statistic is that smaller count.
    ExactBinomial,
    /// (|b − c| − 1)² / (b + c), referred to a chi-square distribution with 1 degree of
    /// freedom.
    ChiSquareCorrected,
}

/// McNemar's test on the discordant counts of two models A and B scored on the same faces.
/// The null hypothesis is that both have the same accuracy. Matches statsmodels'
/// `mcnemar(table, exact=True)` and `mcnemar(table, exact=False, correction=True)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct McNemarTest {
    /// Faces model A got right and model B wrong (b).
    pub only_a_correct: u64,
    /// Faces model B got right and model A wrong (c).
    pub only_b_correct: u64,
    /// The form of the test used.
    pub method: McNemarMethod,
    /// The test statistic (see [`McNemarMethod`]).
    pub statistic: f64,
    /// Two-sided p-value: the probability of discordant counts at least this unbalanced if
    /// the models were equally accurate.
    pub p_value: f64,
}

impl McNemarTest {
    /// The test with the method chosen by [`EXACT_TEST_BELOW`].
    pub fn new(only_a_correct: u64, only_b_correct: u64) -> Self {
        let method = if only_a_correct + only_b_correct < EXACT_TEST_BELOW {
            McNemarMethod::ExactBinomial
        } else {
            McNemarMethod::ChiSquareCorrected
        };
        McNemarTest::with_method(only_a_correct, only_b_correct, method)
    }

    /// The test with the given method.
    pub fn with_method(only_a_correct: u64, only_b_correct: u64, method: McNemarMethod) -> Self {
        let (b, c) = (only_a_correct, only_b_correct);
        let (statistic, p_value) = match method {
            McNemarMethod::ExactBinomial => {
                let smaller = b.min(c);
                let p = 2.0 * binomial_half_cdf(smaller, b + c);
                (smaller as f64, p.min(1.0))
            }
            McNemarMethod::ChiSquareCorrected => {
                let discordant = (b + c) as f64;
                let statistic = if discordant == 0.0 {
                    0.0
                } else {
                    ((b as f64 - c as f64).abs() - 1.0).powi(2) / discordant
                };
                // Survival function of chi-square with 1 dof: P(Z² > x) = erfc(√(x/2)).
                (statistic, libm::erfc((statistic / 2.0).sqrt()))
            }
        };
        McNemarTest {
            only_a_correct,
            only_b_correct,
            method,
            statistic,
            p_value,
        }
    }
}

/// Below this a p-value is written in scientific notation: fixed four decimals would print
/// every p-value under 5e-5 as `0.0000`, and a CNN and a baseline scored on thousands of faces
/// routinely give 1e-100.
const SCIENTIFIC_BELOW: f64 = 1e-3;

/// A p-value for people to read, with its `p` and relation: `p = 0.2188` from
/// [`SCIENTIFIC_BELOW`] (1e-3) up, `p = 3.2e-12` below it (two significant digits), and
/// `p < 1e-300` when it underflowed to 0 (the true value is then below f64's smallest
/// positive number, about 5e-324, so the bound holds). The one formatter for every place a
/// p-value is shown (the HTML report, `fer report`, `fer run`), so they agree.
///
/// ```
/// # use fer_core::eval::format_p_value;
/// assert_eq!(format_p_value(0.21875), "p = 0.2188");
/// assert_eq!(format_p_value(3.21e-12), "p = 3.2e-12");
/// assert_eq!(format_p_value(0.0), "p < 1e-300");
/// ```
pub fn format_p_value(p: f64) -> String {
    if p == 0.0 {
        "p < 1e-300".to_string()
    } else if p < SCIENTIFIC_BELOW {
        format!("p = {p:.1e}")
    } else {
        format!("p = {p:.4}")
    }
}

/// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space so large `n` neither overflows the
/// binomial coefficients nor underflows 2⁻ⁿ. Written by hand: it is a short sum, and statrs
/// (the crate with a binomial CDF) would pull in nalgebra for this one function.
fn binomial_half_cdf(k: u64, n: u64) -> f64 {
    if k >= n {
        return 1.0;
    }
    // ln C(n, i) - n ln 2 for i = 0..=k, by the recurrence C(n, i+1) = C(n, i) (n-i)/(i+1).
    let mut log_terms = Vec::with_capacity(k as usize + 1);
    let mut log_term = -(n as f64) * std::f64::consts::LN_2;
    for i in 0..=k {
        log_terms.push(log_term);
        log_term += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    let largest = log_terms.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = log_terms.iter().map(|t| (t - largest).exp()).sum();
    (largest + sum.ln()).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_test_matches_hand_computed_binomial_tails() {
        // b = 1, c = 5: P(X <= 1) for Binomial(6, 1/2) = (1 + 6) / 64; two-sided doubles it.
        let t = McNemarTest::new(1, 5);
        assert_eq!(t.method, McNemarMethod::ExactBinomial);
        assert_eq!(t.statistic, 1.0);
        assert!((t.p_value - 14.0 / 64.0).abs() < 1e-12, "{}", t.p_value);
        // No discordant faces: no evidence of any difference.
        assert_eq!(McNemarTest::new(0, 0).p_value, 1.0);
        // Balanced counts: the doubled tail exceeds 1 and is capped.
        assert_eq!(McNemarTest::new(4, 4).p_value, 1.0);
    }

    #[test]
    fn chi_square_is_used_from_25_discordant_faces() {
        // b = 20, c = 5: (15 - 1)² / 25 = 7.84; P(chi2_1 > 7.84) = 0.00511026066 (scipy.stats.chi2.sf).
        let t = McNemarTest::new(20, 5);
        assert_eq!(t.method, McNemarMethod::ChiSquareCorrected);
        assert!((t.statistic - 7.84).abs() < 1e-12);
        assert!(
            (t.p_value - 0.005_110_260_660_856).abs() < 1e-12,
            "{}",
            t.p_value
        );
    }

    #[test]
    fn tiny_p_values_stay_readable() {
        assert_eq!(format_p_value(1.0), "p = 1.0000");
        assert_eq!(format_p_value(0.005_110_260_660_856), "p = 0.0051");
        assert_eq!(format_p_value(0.001), "p = 0.0010");
        assert_eq!(format_p_value(0.000_999), "p = 1.0e-3");
        assert_eq!(format_p_value(4.4e-5), "p = 4.4e-5");
        // A CNN at ~63% and a baseline at ~37% on 3,589 faces: about 1,200 faces only the
        // CNN gets right, 270 only the baseline. Four decimals printed this as 0.0000.
        let t = McNemarTest::new(1200, 270);
        assert!(t.p_value > 0.0 && t.p_value < 1e-100, "{}", t.p_value);
        let text = format_p_value(t.p_value);
        assert!(text.starts_with("p = ") && text.contains("e-"), "{text}");
        // 4,000 to 400: the chi-square tail underflows to exactly 0.
        let t = McNemarTest::new(4000, 400);
        assert_eq!(t.p_value, 0.0);
        assert_eq!(format_p_value(t.p_value), "p < 1e-300");
    }

    #[test]
    fn binomial_cdf_stays_finite_for_large_counts() {
        // Symmetric: P(X <= 1000) for Binomial(2000, 1/2) = 1/2 + P(X = 1000)/2 = 0.50891951 (scipy.stats.binom.cdf).
        let p = binomial_half_cdf(1000, 2000);
        assert!((p - 0.508_919_505_572_927).abs() < 1e-10, "{p}");
    }
}
