//! One ONNX node (and its weights) per layer kind of fer's networks, each computing what the
//! layer's eval pass computes in `cnn`: the conventions (padding, pooling windows, weight
//! layout, batch-norm epsilon) are read from the layer, not assumed.

use dfdx::nn::modules::{BatchNorm1D, BatchNorm2D, Linear};
use dfdx::tensor::Cpu;

use super::graph::{float_attribute, int_attribute, ints_attribute, GraphBuilder};
use crate::data::{PixelStats, IMAGE_SIDE};
use crate::ops::Conv2d;

/// `(pixels - mean) / std` per pixel with the training statistics, as
/// [`PixelStats::standardize`] computes it (the same two f32 operations, so the same bits).
pub fn standardize(g: &mut GraphBuilder, x: &str, stats: &PixelStats) -> String {
    let side = IMAGE_SIDE;
    let mean = g.initializer("pixel_mean".into(), &[1, 1, side, side], &stats.mean);
    let std = g.initializer("pixel_std".into(), &[1, 1, side, side], &stats.std);
    let centred = g.node("Sub", "standardize/Sub".into(), &[x, &mean], vec![]);
    g.node("Div", "standardize/Div".into(), &[&centred, &std], vec![])
}

/// A [`Conv2d`]: cross-correlation with `O x I x K x K` filters (the layout ONNX's `Conv`
/// takes), stride `S`, `P` zeros on every side, plus the bias.
pub fn conv<const I: usize, const O: usize, const K: usize, const S: usize, const P: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    layer: &Conv2d<I, O, K, S, P>,
) -> String {
    let w = g.initializer(
        format!("{name}.weight"),
        &[O, I, K, K],
        &layer.weight.as_vec(),
    );
    let b = g.initializer(format!("{name}.bias"), &[O], &layer.bias.as_vec());
    let (k, s, p) = (K as i64, S as i64, P as i64);
    g.node(
        "Conv",
        format!("{name}/Conv"),
        &[x, &w, &b],
        vec![
            ints_attribute("kernel_shape", &[k, k]),
            ints_attribute("strides", &[s, s]),
            ints_attribute("pads", &[p, p, p, p]),
            ints_attribute("dilations", &[1, 1]),
            int_attribute("group", 1),
        ],
    )
}

/// Batch norm in inference form: the running statistics, the learnt scale and shift, and the
/// layer's own epsilon (dfdx keeps it as f64; the seed's is Keras' 1e-3, ours dfdx's 1e-5).
#[allow(clippy::too_many_arguments)]
fn batch_norm(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    channels: usize,
    scale: &[f32],
    bias: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
) -> String {
    let scale = g.initializer(format!("{name}.scale"), &[channels], scale);
    let bias = g.initializer(format!("{name}.bias"), &[channels], bias);
    let mean = g.initializer(format!("{name}.running_mean"), &[channels], mean);
    let variance = g.initializer(format!("{name}.running_var"), &[channels], variance);
    g.node(
        "BatchNormalization",
        format!("{name}/BatchNormalization"),
        &[x, &scale, &bias, &mean, &variance],
        vec![float_attribute("epsilon", epsilon as f32)],
    )
}

/// A 2-D batch norm over the channels of `[N, C, H, W]` maps.
pub fn batch_norm2d<const C: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    layer: &BatchNorm2D<C, f32, Cpu>,
) -> String {
    batch_norm(
        g,
        name,
        x,
        C,
        &layer.scale.as_vec(),
        &layer.bias.as_vec(),
        &layer.running_mean.as_vec(),
        &layer.running_var.as_vec(),
        layer.epsilon,
    )
}

/// A 1-D batch norm over the features of `[N, C]` rows (ONNX's `BatchNormalization` takes
/// `[N, C]` as well as `[N, C, H, W]`).
pub fn batch_norm1d<const C: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    layer: &BatchNorm1D<C, f32, Cpu>,
) -> String {
    batch_norm(
        g,
        name,
        x,
        C,
        &layer.scale.as_vec(),
        &layer.bias.as_vec(),
        &layer.running_mean.as_vec(),
        &layer.running_var.as_vec(),
        layer.epsilon,
    )
}

/// A dense layer: dfdx's `Linear` keeps its weight as `[O, I]` and computes `x W^T + b`,
/// which is `Gemm` with `transB = 1`.
pub fn linear<const I: usize, const O: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    layer: &Linear<I, O, f32, Cpu>,
) -> String {
    let w = g.initializer(format!("{name}.weight"), &[O, I], &layer.weight.as_vec());
    let b = g.initializer(format!("{name}.bias"), &[O], &layer.bias.as_vec());
    g.node(
        "Gemm",
        format!("{name}/Gemm"),
        &[x, &w, &b],
        vec![int_attribute("transB", 1)],
    )
}

/// ReLU.
pub fn relu(g: &mut GraphBuilder, name: &str, x: &str) -> String {
    g.node("Relu", format!("{name}/Relu"), &[x], vec![])
}

/// Max pooling over `k x k` windows every `stride` pixels, no padding, windows that would
/// run past the edge dropped (floor): what [`max_pool2d`](crate::cnn::max_pool2d) does.
pub fn max_pool(g: &mut GraphBuilder, name: &str, x: &str, k: i64, stride: i64) -> String {
    g.node(
        "MaxPool",
        format!("{name}/MaxPool"),
        &[x],
        vec![
            ints_attribute("kernel_shape", &[k, k]),
            ints_attribute("strides", &[stride, stride]),
            ints_attribute("pads", &[0, 0, 0, 0]),
        ],
    )
}

/// Global average pooling, `[N, C, H, W] -> [N, C, 1, 1]`.
pub fn global_avg_pool(g: &mut GraphBuilder, name: &str, x: &str) -> String {
    g.node(
        "GlobalAveragePool",
        format!("{name}/GlobalAveragePool"),
        &[x],
        vec![],
    )
}

/// `[N, C, H, W] -> [N, C*H*W]`, channel-major: the order of dfdx's reshape of a contiguous
/// NCHW tensor.
pub fn flatten(g: &mut GraphBuilder, name: &str, x: &str) -> String {
    g.node(
        "Flatten",
        format!("{name}/Flatten"),
        &[x],
        vec![int_attribute("axis", 1)],
    )
}
