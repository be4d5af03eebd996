//! The learning-rate schedules: warm-up + cosine (the default), one-cycle and
//! reduce-on-plateau, as functions of the run's step and, for the plateau, of the validation
//! accuracies so far.

use serde::{Deserialize, Serialize};

use super::train_config::TrainConfig;

/// The learning-rate schedule over the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// Linear warm-up over `warmup_epochs`, then a cosine decay from the peak to 0 (the
    /// default, and what runs saved before schedules existed used).
    #[default]
    Cosine,
    /// Smith's one-cycle: a cosine ramp from peak/25 up to the peak over the first 30% of the
    /// steps, then a cosine decay to peak/1e4 (`warmup_epochs` is not used). Adam's β1 and SGD's
    /// momentum stay fixed (Smith's optional momentum cycling is not done).
    OneCycle,
    /// Linear warm-up over `warmup_epochs`, then the peak rate, halved each time
    /// `plateau_patience` epochs pass without a better validation accuracy.
    Plateau,
}

impl Schedule {
    /// The name `fer train cnn --schedule` and `train_config.json` use.
    pub fn name(self) -> &'static str {
        match self {
            Schedule::Cosine => "cosine",
            Schedule::OneCycle => "one-cycle",
            Schedule::Plateau => "plateau",
        }
    }
}

/// Fraction of the steps one-cycle spends ramping up.
pub const ONE_CYCLE_RAMP: f64 = 0.3;
/// One-cycle starts at peak / this (PyTorch's `div_factor`).
pub const ONE_CYCLE_START_DIV: f64 = 25.0;
/// One-cycle ends at peak / this.
pub const ONE_CYCLE_END_DIV: f64 = 1e4;
/// Reduce-on-plateau multiplies the rate by this after each plateau.
pub const PLATEAU_FACTOR: f64 = 0.5;

/// The state of the reduce-on-plateau schedule, kept beside the `last/` checkpoint so a
/// resumed run reduces the rate when an uninterrupted one would.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauState {
    /// The factor applied to the peak rate (1, then halved at each plateau).
    pub scale: f64,
    /// Best validation accuracy so far (None before the first epoch).
    pub best: Option<f64>,
    /// Epochs since `best` last improved (reset when the rate is reduced).
    pub bad_epochs: usize,
}

impl Default for PlateauState {
    fn default() -> Self {
        PlateauState {
            scale: 1.0,
            best: None,
            bad_epochs: 0,
        }
    }
}

impl PlateauState {
    /// Records an epoch's validation accuracy; after `patience` epochs in a row without a
    /// better one, the rate is multiplied by [`PLATEAU_FACTOR`] and the count restarts.
    pub fn observe(&mut self, val_accuracy: f64, patience: usize) {
        if self.best.is_none_or(|best| val_accuracy > best) {
            self.best = Some(val_accuracy);
            self.bad_epochs = 0;
            return;
        }
        self.bad_epochs += 1;
        if self.bad_epochs >= patience {
            self.scale *= PLATEAU_FACTOR;
            self.bad_epochs = 0;
        }
    }
}

impl TrainConfig {
    /// Learning rate at `step` of `total_steps`: linear warm-up over `warmup_steps`, then a
    /// cosine decay from the peak to 0 (Loshchilov & Hutter's SGDR without restarts).
    pub fn learning_rate_at(&self, step: usize, warmup_steps: usize, total_steps: usize) -> f64 {
        if step < warmup_steps {
            return self.learning_rate * (step + 1) as f64 / warmup_steps as f64;
        }
        let decay_steps = total_steps.saturating_sub(warmup_steps).max(1);
        let progress = ((step - warmup_steps) as f64 / decay_steps as f64).min(1.0);
        0.5 * self.learning_rate * (1.0 + (std::f64::consts::PI * progress).cos())
    }

    /// Learning rate at `step` (0-based, over the whole run) of `total_steps` under
    /// [`schedule`](Self::schedule); `plateau` is the reduce-on-plateau state (ignored by the
    /// other schedules).
    pub fn scheduled_learning_rate(
        &self,
        step: usize,
        warmup_steps: usize,
        total_steps: usize,
        plateau: &PlateauState,
    ) -> f64 {
        let peak = self.learning_rate;
        match self.schedule {
            Schedule::Cosine => self.learning_rate_at(step, warmup_steps, total_steps),
            Schedule::Plateau if step < warmup_steps => {
                peak * (step + 1) as f64 / warmup_steps as f64
            }
            Schedule::Plateau => peak * plateau.scale,
            Schedule::OneCycle => {
                let ramp = ((ONE_CYCLE_RAMP * total_steps as f64).round() as usize).max(1);
                // Half-cosine interpolation from `from` (progress 0) to `to` (progress 1).
                let between = |from: f64, to: f64, progress: f64| {
                    to + 0.5 * (from - to) * (1.0 + (std::f64::consts::PI * progress).cos())
                };
                if step < ramp {
                    between(peak / ONE_CYCLE_START_DIV, peak, step as f64 / ramp as f64)
                } else {
                    let decay = total_steps.saturating_sub(ramp + 1).max(1);
                    let progress = ((step - ramp) as f64 / decay as f64).min(1.0);
                    between(peak, peak / ONE_CYCLE_END_DIV, progress)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::Arch;

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let config = TrainConfig::new(Arch::Best);
        // 10 warm-up steps of 110: step 4 is at 5/10 of the peak, step 10 at the peak, the
        // middle of the decay (step 60) at half of it, the end near 0.
        assert!((config.learning_rate_at(4, 10, 110) - 5e-4).abs() < 1e-12);
        assert!((config.learning_rate_at(10, 10, 110) - 1e-3).abs() < 1e-12);
        assert!((config.learning_rate_at(60, 10, 110) - 5e-4).abs() < 1e-12);
        assert!(config.learning_rate_at(109, 10, 110) < 1e-5);
    }

    /// One-cycle over 100 steps: peak/25 at the start, the peak at step 30 (30%), half-way
    /// between at step 15 (cosine ramp), peak/1e4 at the last step, half-way down the decay
    /// at its middle; always within [peak/1e4, peak].
    #[test]
    fn one_cycle_ramps_up_then_anneals() {
        let config = TrainConfig {
            schedule: Schedule::OneCycle,
            ..TrainConfig::new(Arch::Best)
        };
        let plateau = PlateauState::default();
        let lr = |step| config.scheduled_learning_rate(step, 999, 100, &plateau);
        let (peak, start, end) = (1e-3, 1e-3 / 25.0, 1e-3 / 1e4);
        assert!((lr(0) - start).abs() < 1e-15);
        assert!((lr(15) - (start + peak) / 2.0).abs() < 1e-12);
        assert!((lr(30) - peak).abs() < 1e-15);
        // The decay runs over steps 30..=99: its middle is 64.5.
        assert!((0.5 * (lr(64) + lr(65)) - (peak + end) / 2.0).abs() < 1e-6);
        assert!((lr(99) - end).abs() < 1e-15);
        for step in 0..100 {
            assert!((end - 1e-18..=peak + 1e-18).contains(&lr(step)), "{step}");
            if step > 0 && step <= 30 {
                assert!(lr(step) > lr(step - 1), "{step}");
            }
            if step > 30 {
                assert!(lr(step) < lr(step - 1), "{step}");
            }
        }
    }

    /// Reduce-on-plateau: warm-up as the cosine schedule, then the peak times the state's
    /// scale; the scale halves after `patience` epochs without a better accuracy, and the count
    /// restarts after a reduction or an improvement.
    #[test]
    fn plateau_halves_after_patience_epochs_without_improvement() {
        let config = TrainConfig {
            schedule: Schedule::Plateau,
            plateau_patience: 2,
            ..TrainConfig::new(Arch::Best)
        };
        let mut state = PlateauState::default();
        assert!((config.scheduled_learning_rate(4, 10, 100, &state) - 5e-4).abs() < 1e-15);
        assert_eq!(config.scheduled_learning_rate(50, 10, 100, &state), 1e-3);
        let scales: Vec<f64> = [0.5, 0.6, 0.6, 0.55, 0.6, 0.7, 0.7, 0.7, 0.7]
            .iter()
            .map(|&accuracy| {
                state.observe(accuracy, config.plateau_patience);
                state.scale
            })
            .collect();
        assert_eq!(scales, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]);
        assert_eq!(state.best, Some(0.7));
        assert_eq!(config.scheduled_learning_rate(50, 10, 100, &state), 2.5e-4);
    }
}
