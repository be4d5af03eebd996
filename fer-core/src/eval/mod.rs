//! Evaluation: metrics, confusion matrices, classification reports and error analysis.
