//! The eval pass of each network as ONNX nodes, layer for layer in the order of
//! `SeedModel::forward_eval` and `BestModel::forward_eval` (dropout is the identity in
//! inference, so it has no node).

use super::graph::GraphBuilder;
use super::layers::{
    batch_norm1d, batch_norm2d, conv, flatten, global_avg_pool, linear, max_pool, relu,
};
use crate::cnn::best_model::VggBlock;
use crate::cnn::seed_model::{ConvBlock, DenseBlock};
use crate::cnn::{BestModel, Network, SeedModel};

/// Appends `network`'s nodes reading the standardised faces `x` (`[N, 1, 48, 48]`); returns
/// the name of the logits (`[N, 7]`).
pub fn network_logits(g: &mut GraphBuilder, x: &str, network: &Network) -> String {
    match network {
        Network::Seed(m) => seed_logits(g, x, m),
        Network::Best(m) => best_logits(g, x, m),
    }
}

/// Conv + ReLU, batch norm, 2x2 max pooling (Keras' order, the seed's: ReLU before the norm).
fn seed_block<const I: usize, const O: usize, const K: usize, const P: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    block: &ConvBlock<I, O, K, P>,
) -> String {
    let y = conv(g, &format!("{name}.conv"), x, &block.conv);
    let y = relu(g, &format!("{name}.conv"), &y);
    let y = batch_norm2d(g, &format!("{name}.norm"), &y, &block.norm);
    max_pool(g, name, &y, 2, 2)
}

/// Dense + ReLU, batch norm.
fn dense_block<const I: usize, const O: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    block: &DenseBlock<I, O>,
) -> String {
    let y = linear(g, &format!("{name}.linear"), x, &block.linear);
    let y = relu(g, &format!("{name}.linear"), &y);
    batch_norm1d(g, &format!("{name}.norm"), &y, &block.norm)
}

/// The seed's CNN (see [`SeedModel`]'s layer table).
fn seed_logits(g: &mut GraphBuilder, x: &str, m: &SeedModel) -> String {
    let y = conv(g, "stem", x, &m.stem); // [N, 32, 48, 48]
    let y = relu(g, "stem", &y);
    let y = seed_block(g, "blocks.0", &y, &m.blocks.0); // [N, 64, 24, 24]
    let y = seed_block(g, "blocks.1", &y, &m.blocks.1); // [N, 128, 12, 12], 5x5, pads 2
    let y = seed_block(g, "blocks.2", &y, &m.blocks.2); // [N, 512, 6, 6]
    let y = seed_block(g, "blocks.3", &y, &m.blocks.3); // [N, 512, 3, 3]
    let y = flatten(g, "flatten", &y); // [N, 4608]
    let y = dense_block(g, "dense1", &y, &m.dense1); // [N, 256]
    let y = dense_block(g, "dense2", &y, &m.dense2); // [N, 512]
    linear(g, "head", &y, &m.head) // [N, 7]
}

/// Two 3x3 convolutions, each followed by batch norm and ReLU, then 2x2 max pooling.
fn vgg_block<const I: usize, const O: usize>(
    g: &mut GraphBuilder,
    name: &str,
    x: &str,
    block: &VggBlock<I, O>,
) -> String {
    let y = conv(g, &format!("{name}.conv1"), x, &block.conv1);
    let y = batch_norm2d(g, &format!("{name}.norm1"), &y, &block.norm1);
    let y = relu(g, &format!("{name}.norm1"), &y);
    let y = conv(g, &format!("{name}.conv2"), &y, &block.conv2);
    let y = batch_norm2d(g, &format!("{name}.norm2"), &y, &block.norm2);
    let y = relu(g, &format!("{name}.norm2"), &y);
    max_pool(g, name, &y, 2, 2)
}

/// Our network (see [`BestModel`]'s layer table).
fn best_logits(g: &mut GraphBuilder, x: &str, m: &BestModel) -> String {
    let y = vgg_block(g, "blocks.0", x, &m.blocks.0); // [N, 32, 24, 24]
    let y = vgg_block(g, "blocks.1", &y, &m.blocks.1); // [N, 64, 12, 12]
    let y = vgg_block(g, "blocks.2", &y, &m.blocks.2); // [N, 128, 6, 6]
    let y = vgg_block(g, "blocks.3", &y, &m.blocks.3); // [N, 256, 3, 3]
    let y = global_avg_pool(g, "pool", &y); // [N, 256, 1, 1]
    let y = flatten(g, "pool", &y); // [N, 256]
    linear(g, "head", &y, &m.head) // [N, 7]
}
