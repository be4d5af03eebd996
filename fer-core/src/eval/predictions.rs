//! Checks on a model's output before any metric is computed, and the predicted label of each row.

use ndarray::ArrayView2;

use crate::emotion::Emotion;
use crate::error::{FerError, Result};

/// How far a row's sum may be from 1: `sqrt(f32::EPSILON)` ≈ 3.5e-4, the relative tolerance
/// scikit-learn's `log_loss` allows for float32 probabilities.
pub const PROBABILITY_SUM_TOLERANCE: f64 = 3.452_669_8e-4;

/// Checks that `truth` is not empty and that `probabilities` is a valid `truth.len()` x 7
/// matrix of class probabilities: every value finite and in `[0, 1]`, every row summing to 1
/// within [`PROBABILITY_SUM_TOLERANCE`]. The error names the row and column at fault.
pub fn check_probabilities(truth: &[Emotion], probabilities: ArrayView2<f32>) -> Result<()> {
    if truth.is_empty() {
        return Err(FerError::EmptyDataset(
            "no true labels to evaluate predictions against".into(),
        ));
    }
    let (rows, columns) = probabilities.dim();
    if rows != truth.len() || columns != Emotion::COUNT {
        return Err(FerError::ShapeMismatch(format!(
            "probabilities are {rows} x {columns}, expected {} x {} \
             (one row per true label, one column per emotion)",
            truth.len(),
            Emotion::COUNT
        )));
    }
    for (row_index, row) in probabilities.outer_iter().enumerate() {
        for (column, &value) in row.iter().enumerate() {
            if !value.is_finite() || !(0.0..=1.0).contains(&value) {
                return Err(FerError::invalid_parameter(
                    "probabilities",
                    format!(
                        "row {row_index}, column {column} ({}): {value} is not a probability \
                         in [0, 1]",
                        Emotion::ALL[column]
                    ),
                ));
            }
        }
        let sum: f64 = row.iter().map(|&p| f64::from(p)).sum();
        if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
            return Err(FerError::invalid_parameter(
                "probabilities",
                format!("row {row_index} sums to {sum}, not 1"),
            ));
        }
    }
    Ok(())
}

/// Checks that two label slices (true and predicted) are non-empty and of equal length.
pub fn check_labels(truth: &[Emotion], predicted: &[Emotion]) -> Result<()> {
    if truth.is_empty() {
        return Err(FerError::EmptyDataset(
            "no true labels to evaluate predictions against".into(),
        ));
    }
    if truth.len() != predicted.len() {
        return Err(FerError::ShapeMismatch(format!(
            "{} true labels but {} predicted labels",
            truth.len(),
            predicted.len()
        )));
    }
    Ok(())
}

/// The predicted emotion of each row: the column of highest probability, the first one on a
/// tie (as `numpy.argmax`). Rows must pass [`check_probabilities`]'s value checks; the number
/// of rows is free.
pub fn predicted_labels(probabilities: ArrayView2<f32>) -> Result<Vec<Emotion>> {
    if probabilities.ncols() != Emotion::COUNT {
        return Err(FerError::ShapeMismatch(format!(
            "probabilities have {} columns, expected one per emotion ({})",
            probabilities.ncols(),
            Emotion::COUNT
        )));
    }
    probabilities
        .outer_iter()
        .enumerate()
        .map(|(row_index, row)| {
            if let Some(bad) = row.iter().find(|p| !p.is_finite()) {
                return Err(FerError::invalid_parameter(
                    "probabilities",
                    format!("row {row_index} holds {bad}"),
                ));
            }
            let mut best = 0;
            for column in 1..Emotion::COUNT {
                if row[column] > row[best] {
                    best = column;
                }
            }
            Ok(Emotion::ALL[best])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn uniform(rows: usize) -> Array2<f32> {
        Array2::from_elem((rows, 7), 1.0 / 7.0)
    }

    #[test]
    fn bad_shapes_and_values_are_errors_naming_the_fault() {
        let truth = [Emotion::Happy, Emotion::Sad];
        let err = check_probabilities(&truth, uniform(3).view()).unwrap_err();
        assert!(err.to_string().contains("3 x 7, expected 2 x 7"), "{err}");
        let err = check_probabilities(&truth, Array2::zeros((2, 6)).view()).unwrap_err();
        assert!(err.to_string().contains("2 x 6"), "{err}");
        let err = check_probabilities(&[], uniform(0).view()).unwrap_err();
        assert!(matches!(err, FerError::EmptyDataset(_)), "{err}");

        let mut p = uniform(2);
        p[[1, 2]] = f32::NAN;
        let err = check_probabilities(&truth, p.view()).unwrap_err();
        assert!(
            err.to_string().contains("row 1, column 2 (fear): NaN"),
            "{err}"
        );
        let mut p = uniform(2);
        p[[0, 0]] = 0.5;
        let err = check_probabilities(&truth, p.view()).unwrap_err();
        assert!(err.to_string().contains("row 0 sums to"), "{err}");
        assert!(check_probabilities(&truth, uniform(2).view()).is_ok());
    }

    #[test]
    fn label_slices_must_match() {
        let err = check_labels(&[Emotion::Fear], &[]).unwrap_err();
        assert!(err.to_string().contains("1 true labels but 0"), "{err}");
        assert!(check_labels(&[], &[]).is_err());
    }

    #[test]
    fn predicted_label_is_the_first_maximum() {
        let p = array![
            [0.1f32, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1],
            [0.3, 0.0, 0.0, 0.0, 0.0, 0.4, 0.3],
            [0.25, 0.0, 0.0, 0.25, 0.0, 0.25, 0.25],
        ];
        assert_eq!(
            predicted_labels(p.view()).unwrap(),
            [Emotion::Happy, Emotion::Surprise, Emotion::Angry]
        );
        assert!(predicted_labels(Array2::<f32>::zeros((1, 5)).view()).is_err());
    }
}
