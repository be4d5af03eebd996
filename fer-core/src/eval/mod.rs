//! Evaluation: metrics, confusion matrices, classification reports and error analysis.
//!
//! Every metric follows scikit-learn's definition and zero-division convention (0), and is
//! checked against scikit-learn on a shared fixture (`fixtures/make_sklearn_reference.py`).

mod calibration;
mod comparison;
mod confused_pairs;
mod confusion;
mod error_analysis;
mod evaluation;
mod mcnemar;
mod occlusion;
mod per_class;
mod predictions;
mod report;
mod scores;
#[cfg(test)]
mod sklearn_reference;
mod tta_scores;

pub use calibration::{Calibration, ReliabilityBin, DEFAULT_CALIBRATION_BINS};
pub use comparison::ModelComparison;
pub use confused_pairs::{most_confused_pairs, ConfusedPair};
pub use confusion::ConfusionMatrix;
pub use error_analysis::{disagreements, hardest_examples, spread_disagreements, HardExample};
pub use evaluation::Evaluation;
pub use mcnemar::{format_p_value, McNemarMethod, McNemarTest, EXACT_TEST_BELOW};
#[cfg(test)]
pub(crate) use occlusion::tests::RegionModel;
pub use occlusion::{occlusion_sensitivity, OCCLUSION_GREY};
pub use per_class::{AveragedMetrics, ClassMetrics, PerClassMetrics};
pub use predictions::{
    check_labels, check_probabilities, predicted_labels, PROBABILITY_SUM_TOLERANCE,
};
pub use report::{ClassificationReport, REPORT_DIGITS};
pub use scores::{accuracy, balanced_accuracy, log_loss, top_k_accuracy, LOG_LOSS_EPSILON};
pub use tta_scores::score_ttas;
