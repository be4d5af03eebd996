//! The optimiser of a training run and its file beside the `last/` checkpoint: the update is
//! [`crate::ops::Optimizer`]'s, the file and its errors are this module's.

use std::path::Path;

use dfdx::tensor::{Cpu, Gradients};

use super::model::Network;
use super::train_config::TrainConfig;
use crate::error::{FerError, Result};
use crate::ops::Optimizer;

/// File name of the optimiser state beside a `last/` checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

/// The optimiser, for the network being trained.
#[derive(Debug, Clone)]
pub(crate) struct OptimizerState(Optimizer);

impl OptimizerState {
    /// A fresh optimiser of `config.optimizer` (zero moments).
    pub(crate) fn new(_network: &Network, config: &TrainConfig) -> Self {
        OptimizerState(Optimizer::new(config.optimizer, config.weight_decay))
    }

    /// The state saved at `path` for `network`, refusing (naming the file) a state of another
    /// optimiser, another model, or a damaged file.
    pub(crate) fn load(path: &Path, network: &Network, config: &TrainConfig) -> Result<Self> {
        let (kind, decay) = (config.optimizer, config.weight_decay);
        let bytes = std::fs::read(path).map_err(|e| FerError::io(path, e))?;
        let state = match network {
            Network::Seed(m) => Optimizer::from_safetensors(&bytes, kind, decay, m.as_ref()),
            Network::Best(m) => Optimizer::from_safetensors(&bytes, kind, decay, m.as_ref()),
        };
        state.map(OptimizerState).map_err(|e| state_error(path, e))
    }

    /// Writes the state to `path`, to a temporary name first and renamed.
    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.0.to_safetensors().map_err(|e| state_error(path, e))?;
        crate::fs::write_atomically(path, |w| w.write_all(&bytes))
    }

    /// One update of `network` with learning rate `lr` (`grads` is read in place, unchanged).
    pub(crate) fn step(
        &mut self,
        network: &mut Network,
        grads: &mut Gradients<f32, Cpu>,
        lr: f64,
    ) -> Result<()> {
        match network {
            Network::Seed(m) => self.0.update(m.as_mut(), grads, lr),
            Network::Best(m) => self.0.update(m.as_mut(), grads, lr),
        }
    }
}

fn state_error(path: &Path, message: String) -> FerError {
    FerError::Model {
        path: path.to_path_buf(),
        message: format!("optimiser state: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cnn::Arch;
    use crate::ops::OptimizerKind;
    use dfdx::nn::ZeroGrads;
    use dfdx::optim::{Adam, AdamConfig, Optimizer as _, WeightDecay};
    use dfdx::tensor::Cpu;

    /// A state file of another optimiser, or a damaged one, is refused naming the file; a
    /// saved state loads back.
    #[test]
    fn bad_state_files_are_refused_naming_them() {
        let device = Cpu::seed_from_u64(0);
        let mut network = Network::build(Arch::Best, &device).unwrap();
        let config = TrainConfig::new(Arch::Best);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OPTIMIZER_FILE);
        // One update first: a state with moments (a fresh one holds no tensors).
        let mut state = OptimizerState::new(&network, &config);
        let mut grads = network.alloc_grads().unwrap();
        state.step(&mut network, &mut grads, 1e-3).unwrap();
        state.save(&path).unwrap();
        OptimizerState::load(&path, &network, &config).unwrap();
        let sgd = TrainConfig {
            optimizer: OptimizerKind::SgdNesterov,
            ..config
        };
        let err = OptimizerState::load(&path, &network, &sgd)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(OPTIMIZER_FILE) && err.contains("adam"),
            "{err}"
        );
        std::fs::write(&path, b"not safetensors").unwrap();
        let err = OptimizerState::load(&path, &network, &config)
            .unwrap_err()
            .to_string();
        assert!(err.contains(OPTIMIZER_FILE), "{err}");
    }

    /// Time of one AdamW update of the seed model (4.5M parameters): dfdx's and ours, best of
    /// 10. By hand, in release: `cargo test --release -p fer-core --lib adam_update_time --
    /// --ignored --nocapture`.
    #[test]
    #[ignore = "a timing, not a check"]
    fn adam_update_time_on_the_seed_model() {
        use crate::cnn::SeedModel;
        use std::time::Instant;
        let dev = Cpu::seed_from_u64(0);
        let mut model = SeedModel::build(&dev).unwrap();
        let mut grads = model.alloc_grads();
        let best = |f: &mut dyn FnMut()| {
            (0..10)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut theirs = Adam::new(
            &model,
            AdamConfig {
                weight_decay: Some(WeightDecay::Decoupled(1e-4)),
                ..Default::default()
            },
        );
        let dfdx_s = best(&mut || theirs.update(&mut model, &grads).unwrap());
        let mut ours = Optimizer::new(OptimizerKind::Adam, 1e-4);
        let ours_s = best(&mut || ours.update(&mut model, &mut grads, 1e-3).unwrap());
        println!(
            "AdamW update of the seed model on {} threads: dfdx {:.1} ms, ours {:.1} ms",
            rayon::current_num_threads(),
            dfdx_s * 1e3,
            ours_s * 1e3
        );
    }
}
