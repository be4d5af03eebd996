//! Speed of the augmentation pipeline on a batch of 64 faces (target: at most 2 ms on both
//! cores, a small fraction of a training step).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use fer_core::data::augment::{AugmentPipeline, BatchMix};
use fer_core::data::{Face, IMAGE_PIXELS};
use fer_core::Emotion;

const BATCH: usize = 64;

/// 64 synthetic faces with texture, so no transform meets a flat image.
fn faces() -> Vec<Face> {
    (0..BATCH as u32)
        .map(|k| {
            std::array::from_fn(|i| {
                let (x, y) = ((i % 48) as u32, (i / 48) as u32);
                ((x * 5 + y * 3 + k * 11).wrapping_mul(2_654_435_761) >> 24) as u8
            })
        })
        .collect()
}

fn bench_augment(c: &mut Criterion) {
    let faces = faces();
    let refs: Vec<&Face> = faces.iter().collect();
    let mut out = vec![0.0f32; BATCH * IMAGE_PIXELS];
    for (name, pipeline) in [
        ("augment_batch64_default", AugmentPipeline::default()),
        ("augment_batch64_strong", AugmentPipeline::strong()),
        ("augment_batch64_none", AugmentPipeline::none()),
    ] {
        let mut seed = 0u64;
        c.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                pipeline
                    .augment_batch(black_box(&refs), seed, &mut out)
                    .expect("the output has room for 64 faces");
            })
        });
    }

    // One stage at a time, at probability 1, to see where the time goes.
    let only = || AugmentPipeline::none().to_builder();
    for (name, builder) in [
        ("stage_flip", only().flip_probability(1.0)),
        ("stage_crop", only().crop_probability(1.0)),
        ("stage_affine", only().affine_probability(1.0)),
        ("stage_photometric", only().photometric_probability(1.0)),
        ("stage_noise", only().noise_probability(1.0)),
        ("stage_erasing", only().erasing_probability(1.0)),
    ] {
        let pipeline = builder.build().expect("valid single-stage settings");
        let mut seed = 0u64;
        c.bench_function(&format!("{name}_batch64"), |b| {
            b.iter(|| {
                seed += 1;
                pipeline
                    .augment_batch(black_box(&refs), seed, &mut out)
                    .expect("the output has room for 64 faces");
            })
        });
    }

    let labels: Vec<Emotion> = (0..BATCH)
        .map(|i| Emotion::ALL[i % Emotion::COUNT])
        .collect();
    let mixup = BatchMix::mixup(0.2, 1.0).expect("valid mixup settings");
    let mut seed = 0u64;
    c.bench_function("mixup_batch64", |b| {
        b.iter(|| {
            seed += 1;
            mixup
                .apply(black_box(&mut out), &labels, seed)
                .expect("64 faces, 64 labels")
        })
    });
}

criterion_group!(benches, bench_augment);
criterion_main!(benches);
