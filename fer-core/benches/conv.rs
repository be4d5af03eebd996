//! Speed of the seed's convolutions (forward, backward) and of the sgemm roofline, at batch 16.
//! `fer bench train-step` gives the same figures at the training batch as GFLOP/s; this bench
//! tracks regressions with criterion's statistics.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fer_core::cnn::bench::seed_conv_shapes;
use fer_core::ops::{conv2d_backward, conv2d_forward};
use fer_core::ops::{matmul, MatMut, MatRef};

/// Deterministic values in [-1, 1).
fn values(len: usize) -> Vec<f32> {
    (0..len)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect()
}

fn convolutions(c: &mut Criterion) {
    let mut group = c.benchmark_group("seed_conv_batch16");
    group.sample_size(10);
    for shape in seed_conv_shapes(16).expect("valid seed shapes") {
        let g = shape.geometry;
        let name = format!(
            "{}to{}_{}x{}_k{}",
            g.channels, shape.out_channels, g.height, g.width, g.kernel
        );
        let x = values(shape.batch * g.image_len());
        let w = values(shape.out_channels * g.col_rows());
        let b = values(shape.out_channels);
        group.throughput(Throughput::Elements(shape.forward_flops() as u64));
        group.bench_function(format!("{name}_forward"), |bench| {
            bench.iter(|| conv2d_forward(&x, &w, &b, &shape))
        });
        let y = conv2d_forward(&x, &w, &b, &shape);
        let (mut gx, mut gw, mut gb) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
        group.throughput(Throughput::Elements(2 * shape.forward_flops() as u64));
        group.bench_function(format!("{name}_backward"), |bench| {
            bench.iter(|| conv2d_backward(&x, &w, &y, &shape, &mut gx, &mut gw, &mut gb))
        });
    }
    group.finish();
}

fn roofline(c: &mut Criterion) {
    let n = 1024;
    let (a, b) = (values(n * n), values(n * n));
    let mut out = vec![0.0f32; n * n];
    let mut group = c.benchmark_group("sgemm");
    group.sample_size(10);
    group.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    group.bench_function("square_1024", |bench| {
        bench.iter(|| {
            matmul(
                MatMut::row_major(&mut out, n, n),
                MatRef::row_major(&a, n, n),
                MatRef::row_major(&b, n, n),
                false,
                rayon::current_num_threads(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, convolutions, roofline);
criterion_main!(benches);
