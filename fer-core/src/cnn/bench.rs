//! Speed measurements behind `fer bench train-step` and `fer bench infer`: the machine's
//! matrix-multiply roofline (a large square sgemm through the same `gemm` crate), the GFLOP/s
//! our convolutions reach on the seed's layers, a model's training throughput, and its
//! inference throughput and one-face latency.
//!
//! Every figure is the best of several repetitions: other processes share the machine, and the
//! best run is the one they disturbed least.

use std::time::Instant;

use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::shapes::Const;
use dfdx::tensor::{Cpu, TensorFromVec, Trace};
use dfdx::tensor_ops::Backward;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::best_model::BestModel;
use super::config::{Arch, ModelConfig};
use super::folded::FoldedBest;
use super::model::{CnnModel, Network};
use super::optimizer_state::OptimizerState;
use super::seed_model::{SEED_CLASSES, SEED_INPUT_SIDE};
use super::train_config::TrainConfig;
use super::tta::Tta;
use crate::data::{Face, PixelStats, IMAGE_PIXELS};
use crate::error::{FerError, Result};
use crate::ops::WindowGeometry;
use crate::ops::{conv2d_backward, conv2d_forward, ConvShape};
use crate::ops::{matmul, MatMut, MatRef};

/// The three figures `fer bench train-step --json` prints.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TrainStepReport {
    /// Training images per second (forward, backward, Adam update) of the chosen model.
    pub images_per_s: f64,
    /// GFLOP/s of a large square sgemm through the `gemm` crate on all threads: the roofline.
    pub gemm_gflops: f64,
    /// GFLOP/s of the chosen network's convolutions, forward and backward, at the benchmark's batch,
    /// counting a direct convolution's FLOPs: the Winograd layers do 2.25-6.25x fewer in their
    /// products, so this effective rate can pass the roofline.
    pub conv_gflops: f64,
}

/// Speed of one convolution layer, forward and backward.
#[derive(Debug, Clone, Copy)]
pub struct ConvLayerTiming {
    /// The layer.
    pub shape: ConvShape,
    /// Best forward time, seconds.
    pub forward_s: f64,
    /// Best backward time (input, weight and bias gradients), seconds.
    pub backward_s: f64,
}

impl ConvLayerTiming {
    /// Forward + backward GFLOP/s (the backward pass counts twice the forward's FLOPs).
    pub fn gflops(&self) -> f64 {
        3.0 * self.shape.forward_flops() / (self.forward_s + self.backward_s) / 1e9
    }
}

/// Seconds of the fastest of `repeats` runs of `f`.
fn best_of(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats.max(1))
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// Seeded uniform values in [-1, 1).
fn random_values(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

/// GFLOP/s of a `size x size x size` f32 product on all rayon threads, best of `repeats`.
pub fn gemm_roofline(size: usize, repeats: usize) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let a = random_values(size * size, &mut rng);
    let b = random_values(size * size, &mut rng);
    let mut c = vec![0.0f32; size * size];
    let threads = rayon::current_num_threads();
    let seconds = best_of(repeats, || {
        matmul(
            MatMut::row_major(&mut c, size, size),
            MatRef::row_major(&a, size, size),
            MatRef::row_major(&b, size, size),
            false,
            threads,
        )
    });
    2.0 * (size as f64).powi(3) / seconds / 1e9
}

/// The seed's five convolutions at `batch` images of 48x48 (stem, then the four blocks).
pub fn seed_conv_shapes(batch: usize) -> Result<Vec<ConvShape>> {
    conv_shapes(Arch::Seed, batch)
}

/// The convolutions of `arch` at `batch` images of 48x48, in order: the seed's five (stem,
/// then its four blocks), or the best network's eight (two per block).
pub fn conv_shapes(arch: Arch, batch: usize) -> Result<Vec<ConvShape>> {
    // (in channels, side, out channels, kernel, padding)
    let seed = [
        (1, 48, 32, 3, 1),
        (32, 48, 64, 3, 1),
        (64, 24, 128, 5, 2),
        (128, 12, 512, 3, 1),
        (512, 6, 512, 3, 1),
    ];
    let best = [
        (1, 48, 32, 3, 1),
        (32, 48, 32, 3, 1),
        (32, 24, 64, 3, 1),
        (64, 24, 64, 3, 1),
        (64, 12, 128, 3, 1),
        (128, 12, 128, 3, 1),
        (128, 6, 256, 3, 1),
        (256, 6, 256, 3, 1),
    ];
    let layers: &[(usize, usize, usize, usize, usize)] = match arch {
        Arch::Seed => &seed,
        Arch::Best => &best,
    };
    layers
        .iter()
        .map(|&(c, side, o, k, p)| {
            Ok(ConvShape {
                batch,
                out_channels: o,
                geometry: WindowGeometry::new(c, side, side, k, 1, p)?,
            })
        })
        .collect()
}

/// Times forward and backward of each convolution in `shapes`, best of `repeats`.
pub fn time_conv_layers(shapes: &[ConvShape], repeats: usize) -> Vec<ConvLayerTiming> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    shapes
        .iter()
        .map(|shape| {
            let g = shape.geometry;
            let x = random_values(shape.batch * g.image_len(), &mut rng);
            let w = random_values(shape.out_channels * g.col_rows(), &mut rng);
            let b = random_values(shape.out_channels, &mut rng);
            let mut y = Vec::new();
            let forward_s = best_of(repeats, || y = conv2d_forward(&x, &w, &b, shape));
            let mut gx = vec![0.0; x.len()];
            let mut gw = vec![0.0; w.len()];
            let mut gb = vec![0.0; b.len()];
            let backward_s = best_of(repeats, || {
                conv2d_backward(&x, &w, &y, shape, &mut gx, &mut gw, &mut gb)
            });
            ConvLayerTiming {
                shape: *shape,
                forward_s,
                backward_s,
            }
        })
        .collect()
}

/// Total forward + backward GFLOP/s over `timings`.
pub fn combined_gflops(timings: &[ConvLayerTiming]) -> f64 {
    let flops: f64 = timings.iter().map(|t| 3.0 * t.shape.forward_flops()).sum();
    let seconds: f64 = timings.iter().map(|t| t.forward_s + t.backward_s).sum();
    flops / seconds / 1e9
}

/// Training images per second of a freshly built `arch` network: `steps` timed steps of
/// `batch` seeded random images (after two untimed warm-up steps), each a training forward
/// pass, cross-entropy, backward pass and Adam update (Keras' defaults: learning rate 1e-3).
/// Returns the best single-step rate and the mean over all steps.
pub fn train_step_throughput(
    arch: Arch,
    batch: usize,
    steps: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    if batch < 2 {
        return Err(FerError::invalid_parameter(
            "batch",
            "must be at least 2 (batch norm needs two images)",
        ));
    }
    if steps == 0 {
        return Err(FerError::invalid_parameter("steps", "must be at least 1"));
    }
    let dev = Cpu::seed_from_u64(seed);
    let mut network = Network::build(arch, &dev)?;
    let mut grads = network.alloc_grads()?;
    let mut optimizer = OptimizerState::new(&network, &TrainConfig::new(arch));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = SEED_INPUT_SIDE;
    let images = random_values(batch * side * side, &mut rng);
    let mut one_hot = vec![0.0f32; batch * SEED_CLASSES];
    for row in one_hot.chunks_exact_mut(SEED_CLASSES) {
        row[rng.gen_range(0..SEED_CLASSES)] = 1.0;
    }
    let mut step_seconds = Vec::with_capacity(steps);
    for step in 0..steps + 2 {
        let start = Instant::now();
        let x = dev.try_tensor_from_vec(
            images.clone(),
            (batch, Const::<1>, Const::<48>, Const::<48>),
        )?;
        let targets = dev.try_tensor_from_vec(one_hot.clone(), (batch, Const::<7>))?;
        let logits = network.forward_train(x.traced(grads), arch.dropout())?;
        let loss = cross_entropy_with_logits_loss(logits, targets);
        grads = loss.try_backward()?;
        optimizer.step(&mut network, &mut grads, 1e-3)?;
        network.zero_grads(&mut grads)?;
        if step >= 2 {
            step_seconds.push(start.elapsed().as_secs_f64());
        }
    }
    let best = step_seconds.iter().copied().fold(f64::INFINITY, f64::min);
    let total: f64 = step_seconds.iter().sum();
    Ok((batch as f64 / best, (batch * steps) as f64 / total))
}

/// The figures `fer bench infer --json` prints.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct InferReport {
    /// Faces classified per second in batches of `batch` (each face in all its TTA views).
    pub faces_per_s: f64,
    /// Faces per batch.
    pub batch: usize,
    /// Median time to classify one face alone, milliseconds.
    pub one_face_ms: f64,
    /// Views classified per face (1 without TTA, 2 with the flip, 10 with crops).
    pub views: usize,
}

/// Inference speed of a freshly built `arch` network through [`CnnModel::predict_faces`], the
/// path `fer predict`, `fer evaluate` and the notebooks take (standardisation, the TTA's views,
/// eval-mode forward pass, softmax): the median of `batches` timed batches of `batch` seeded
/// random faces, and the median of `10 * batches` one-face calls, each after one untimed
/// warm-up. Trained
/// weights would take the same time: the arithmetic does not depend on their values.
pub fn infer_throughput(
    arch: Arch,
    batch: usize,
    batches: usize,
    tta: Tta,
    seed: u64,
) -> Result<InferReport> {
    if batch == 0 {
        return Err(FerError::invalid_parameter("batch", "must be at least 1"));
    }
    if batches == 0 {
        return Err(FerError::invalid_parameter("batches", "must be at least 1"));
    }
    tta.check()?;
    let dev = Cpu::seed_from_u64(seed);
    let stats = PixelStats {
        mean: vec![128.0; IMAGE_PIXELS],
        std: vec![64.0; IMAGE_PIXELS],
        count: 1,
    };
    let model = CnnModel::new(ModelConfig::new(arch), stats, &dev)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let faces: Vec<Face> = (0..batch)
        .map(|_| std::array::from_fn(|_| rng.gen()))
        .collect();
    let median_seconds = |runs: usize, faces: &[Face]| -> Result<f64> {
        model.predict_faces(faces, tta)?;
        let mut seconds = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            model.predict_faces(faces, tta)?;
            seconds.push(start.elapsed().as_secs_f64());
        }
        seconds.sort_by(f64::total_cmp);
        Ok(seconds[runs / 2])
    };
    let batch_s = median_seconds(batches, &faces)?;
    let one_face_s = median_seconds(10 * batches, &faces[..1])?;
    Ok(InferReport {
        faces_per_s: batch as f64 / batch_s,
        batch,
        one_face_ms: one_face_s * 1e3,
        views: tta.views().len(),
    })
}

/// Time of one inference step of the folded best network ([`FoldedBest::logits_timed`]).
#[derive(Debug, Clone, Serialize)]
pub struct LayerTime {
    /// The step: a convolution (with its fused ReLU, or ReLU and pooling) and its output
    /// shape, or "head" (global pooling and the dense layer).
    pub layer: String,
    /// Median milliseconds over the timed runs.
    pub ms: f64,
}

/// Where the best network's inference spends its time: the median of `runs` timed forward
/// passes (after one warm-up) of `batch` seeded random standardised images, step by step, the
/// whole batch in one pass (the classifier sends 32 images at a time).
pub fn infer_layer_times(batch: usize, runs: usize, seed: u64) -> Result<Vec<LayerTime>> {
    if batch == 0 || runs == 0 {
        return Err(FerError::invalid_parameter(
            "batch",
            "batch and runs must be at least 1",
        ));
    }
    let dev = Cpu::seed_from_u64(seed);
    let folded = FoldedBest::new(&BestModel::build(&dev)?);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let images = random_values(batch * IMAGE_PIXELS, &mut rng);
    let mut laps: Vec<(String, Vec<f64>)> = Vec::new();
    for run in 0..=runs {
        let mut step = 0;
        folded.logits_timed(&images, |layer, seconds| {
            if run > 0 {
                if laps.len() <= step {
                    laps.push((layer.to_string(), Vec::new()));
                }
                laps[step].1.push(seconds);
            }
            step += 1;
        });
    }
    Ok(laps
        .into_iter()
        .map(|(layer, mut seconds)| {
            seconds.sort_by(f64::total_cmp);
            LayerTime {
                layer,
                ms: seconds[seconds.len() / 2] * 1e3,
            }
        })
        .collect())
}

#[cfg(test)]
mod infer_tests {
    use super::*;

    /// Each TTA classifies its own number of views per face ([`Tta::views`]); bad sizes are
    /// refused by name.
    #[test]
    fn infer_reports_the_views_of_each_tta_and_refuses_empty_runs() {
        for (tta, views) in [
            (Tta::None, 1),
            (Tta::Flip, 2),
            (Tta::Crops { shift: 3 }, 10),
        ] {
            let report = infer_throughput(Arch::Best, 2, 1, tta, 0).unwrap();
            assert_eq!((report.views, report.batch), (views, 2));
            assert!(report.faces_per_s > 0.0 && report.one_face_ms > 0.0);
        }
        let error = infer_throughput(Arch::Best, 0, 1, Tta::None, 0).unwrap_err();
        assert!(error.to_string().contains("batch"), "{error}");
        let error = infer_throughput(Arch::Best, 2, 0, Tta::None, 0).unwrap_err();
        assert!(error.to_string().contains("batches"), "{error}");
    }
}
