//! The tuning parameters of the convolution kernels: chunk sizes chosen to fit the caches, and
//! where Winograd starts to pay. They were measured on one 2-core AVX-512 host of the project's
//! (2 MiB of L2 and 32 MiB of L3 as `lscpu` reports them) with `fer bench train-step` and the
//! `conv` benchmark. On another CPU (the AVX2 AMD EPYC Zen 3 hosts have 512 KiB of L2 per core)
//! every result is still correct, only perhaps not the fastest; the chunk sizes decide how a
//! batch is split, so they can change the last bits of a weight gradient, never more.

/// Target size of one task's column matrix in bytes when tasks run in parallel: this CPU's L2
/// cache (2 MiB), so a task's im2col output is still in L2 when its GEMM reads it.
pub const PARALLEL_CHUNK_BYTES: usize = 2 << 20;

/// Target size of one chunk's column matrix in the backward pass when chunks run one after the
/// other with a multi-threaded GEMM (a quarter of the 32 MiB L3).
pub const SERIAL_CHUNK_BYTES: usize = 8 << 20;

/// The same for the forward pass, larger: each chunk's GEMM packs the whole weight matrix again
/// (9.4 MB for the seed's last layer), and the forward pass has no `dcols` matrix to stream back
/// through col2im, so fewer, wider chunks win. On the seed's 512->512 layer at batch 64 (one
/// chunk instead of six) the forward pass went from about 150 to about 105 ms (load ~5).
pub const SERIAL_FORWARD_CHUNK_BYTES: usize = 64 << 20;

/// Largest weight matrix (bytes) for which tasks run in parallel over the batch. Every task
/// repacks the weights for its GEMM, so with large weights (the seed's 512-filter layers: 2.4
/// and 9.4 MB) few large chunks sharing a multi-threaded GEMM are cheaper.
pub const PARALLEL_MAX_WEIGHT_BYTES: usize = 1 << 20;

/// Fewest input channels for which Winograd beats im2col. The products' inner dimension is the
/// input channels, and the transformed tiles are 2.25-4 times the activations, so with few
/// channels Winograd trades cheap multiply-adds for memory traffic. Measured on the seed's
/// layers at batch 64 (forward + backward, `fer bench train-step`, im2col -> Winograd):
/// 128->512 at 12x12 226 -> 151 ms (F(2x2)) and -> 140 ms (F(4x4)), 512->512 at 6x6 253 -> 135
/// ms (F(2x2)), 64->128 5x5 at 24x24 262 -> 220 ms, but 32->64 at 48x48 125 -> 203 ms (F(2x2))
/// and 113-138 -> 226-244 ms (F(4x4)).
pub const WINOGRAD_MIN_CHANNELS: usize = 64;

/// Target bytes of one chunk's transformed tiles (inputs, outputs and, backward, gradients):
/// a little under the 32 MiB L3, so each product reads tiles the transform just wrote.
pub const WINOGRAD_CHUNK_BYTES: usize = 24 << 20;

/// Fewest input channels for which a training layer's 3x3 convolution runs as shifted
/// products ([`super::shifted_layer`]). With one channel (the first layer) its window copy and
/// the re-layouts cost more than im2col's K=9 product: at batch 64, 16.4 / 10.2 ms forward /
/// backward against 9.0 / 8.3 (`fer bench train-step --arch best`, 2-core AVX-512 Xeon).
pub const SHIFTED_MIN_CHANNELS: usize = 8;

/// Smallest planes for which a training layer's 3x3 convolution runs as in-place products
/// ([`super::shifted_layer`]; smaller planes go there only for Winograd products). On
/// small planes the padding wastes more of the products (a 12x12 plane takes 13x13 positions, a
/// 6x6 one 7x7) and Winograd does 2.25-4 times fewer multiply-adds. Forward / backward ms at
/// batch 64 (`fer bench train-step`, 2-core AVX-512 Xeon, a noisy host: two rounds each),
/// Winograd or im2col against shifted: 64->64 at 24x24 30.4 / 62.9 and 21.8 / 42.8 against
/// 19.9 / 33.1 and 17.4 / 30.8; 32->32 at 48x48 (im2col) 29.5 / 60.6 and 27.1 / 63.0 against
/// 29.9 / 47.5 and 26.2 / 48.5; but 128->128 at 12x12 16.2 / 32.8 and 12.3 / 25.5 against
/// 17.7 / 47.7 and 16.2 / 30.1, the seed's 128->512 at 12x12 49.9 / 101.5 against 66.5 /
/// 177.0, and 256->256 at 6x6 16.4 / 42.0 against 20.4 / 34.7 and 24.0 / 54.3.
pub const SHIFTED_MIN_SIDE: usize = 24;

/// Smallest planes on which a training layer on padded maps takes its filter gradient as
/// in-place products; below, as channels-first Winograd products ([`super::winograd`]), which
/// do 2.25 times fewer multiply-adds than the products over a 6x6 plane's 7x7 positions.
/// Backward ms at batch 64 (`fer bench train-step --arch best`, 2-core AVX-512 Xeon, two
/// rounds): 256->256 at 6x6 33.6 / 34.2 -> 20.1 / 16.9, 128->256 16.0 / 16.1 -> 12.4 / 11.4;
/// on 12x12 planes the two are even (128->128 18.5 / 23.6 against 22.5 / 20.4), unless the
/// layer has [`MAPS_WIDE_FILTER_GRADIENT_MIN_OUT`] output channels.
pub const MAPS_FILTER_GRADIENT_MIN_SIDE: usize = 12;

/// Fewest output channels for which a training layer on padded maps below [`SHIFTED_MIN_SIDE`]
/// takes its filter gradient as channels-first Winograd products whatever its side. Backward ms
/// at batch 64, 12x12 planes, in-place against Winograd (2-core AVX-512 Xeon, a noisy host, two
/// rounds): the seed's 128->512 160.3 / 101.4 against 107.7 / 61.0; but 64->128 18.0 / 11.1
/// against 23.1 / 14.1 and 128->128 31.9 / 19.8 against 36.0 / 23.6.
pub const MAPS_WIDE_FILTER_GRADIENT_MIN_OUT: usize = 512;

/// Target bytes of one chunk's padded maps in a training layer's shifted convolution (the
/// larger of its input and output): the batch goes through a few images at a time, so the
/// padded copies do not add a batch-sized buffer or two to the step's peak memory.
pub const SHIFTED_CHUNK_BYTES: usize = 4 << 20;

/// Largest planes on which inference's 3x3 convolutions with 8 or more input channels copy
/// out the pixels' windows ([`super::small_plane_conv`]) instead of reading them in place:
/// a 6x6 plane takes 7x7 padded positions. The best network's 256-channel 6x6 layers at batch
/// 256 (`fer bench infer --layers`, medians of three alternating rounds, 2-core AVX-512 AMD
/// EPYC): 128->256 36.8 -> 28.5 ms, 256->256 with its pooling 75.1 -> 58.6 ms, 648 -> 706
/// faces/s in all. On 12x12 planes the copy costs more than the padding (a 13x13 plane wastes
/// 15%): 128->128 at 12x12 with its pooling went from about 48 to 64-75 ms, 64->128 from 25
/// to 36-42 (2-core AVX-512 Xeon).
pub const SMALL_PLANE_MAX_SIDE: usize = 6;

/// Fewest input and output channels for which inference's 3x3 convolutions run as Winograd
/// products on the padded maps ([`super::winograd_maps`]): a tile's transforms cost in
/// proportion to `C + O`, the multiply-adds they save to `C * O`. The best network at batch 256
/// (`fer bench infer --layers`, two rounds, 2-core AVX-512 AMD EPYC), in-place products ->
/// Winograd: 32->32 at 48x48 with its pooling 58 -> 66 ms (so it stays), 32->64 at 24x24 28 ->
/// 23, 64->64 at 24x24 57 -> 35, 64->128 at 12x12 30 -> 13.5, 128->128 61 -> 23, 128->256 at
/// 6x6 (F(2x2)) 26 -> 15, 256->256 53 -> 28; 760 -> 1190 faces/s in all.
pub const WINOGRAD_MAPS_MIN_IN_CHANNELS: usize = 32;

/// See [`WINOGRAD_MAPS_MIN_IN_CHANNELS`].
pub const WINOGRAD_MAPS_MIN_OUT_CHANNELS: usize = 64;

/// Target bytes of one chunk's input tiles and products in [`super::winograd_maps`]: a
/// quarter of the 32 MiB L3. The same benchmark: 1180 faces/s at 8 MiB, 1090 at 2 and at 24.
pub const WINOGRAD_MAPS_CHUNK_BYTES: usize = 8 << 20;
