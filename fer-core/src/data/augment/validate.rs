//! Parameter checks shared by the augmentations; each error names the parameter.

use crate::error::{FerError, Result};

/// A probability must be a finite number in [0, 1].
pub(crate) fn check_probability(name: &'static str, value: f32) -> Result<()> {
    check_unit(name, value)
}

/// A value that must be finite and in [0, 1].
pub(crate) fn check_unit(name: &'static str, value: f32) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(FerError::invalid_parameter(
            name,
            format!("{value}: expected a value in [0, 1]"),
        ))
    }
}

/// A (min, max) range: both finite and min <= max.
pub(crate) fn check_range(name: &'static str, low: f32, high: f32) -> Result<()> {
    if !low.is_finite() || !high.is_finite() {
        return Err(FerError::invalid_parameter(
            name,
            format!("({low}, {high}): both ends must be finite"),
        ));
    }
    if low > high {
        return Err(FerError::invalid_parameter(
            name,
            format!("({low}, {high}): reversed range, min is above max"),
        ));
    }
    Ok(())
}
