//! Speed of the baseline's feature extraction on 1,000 faces (the full data set is 35,887), to
//! weigh it against the fit (about 40 s): it decides whether caching features pays.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use fer_core::baseline::{extract, FeatureKind, HogSettings};
use fer_core::data::{Dataset, Origin, Usage, IMAGE_PIXELS};
use fer_core::Emotion;

const FACES: usize = 1000;

/// Synthetic faces with texture, so every HOG cell sees gradients.
fn faces() -> Dataset {
    let mut data = Dataset::with_capacity(FACES);
    for k in 0..FACES as u32 {
        let face: [u8; IMAGE_PIXELS] = std::array::from_fn(|i| {
            let (x, y) = ((i % 48) as u32, (i / 48) as u32);
            ((x * 5 + y * 3 + k * 11).wrapping_mul(2_654_435_761) >> 24) as u8
        });
        data.push(
            &face,
            Emotion::ALL[k as usize % 7],
            Usage::Training,
            Origin::CsvLine(2),
        );
    }
    data
}

fn bench_features(c: &mut Criterion) {
    let data = faces();
    let hog = HogSettings::default();
    for (name, kind) in [
        ("baseline_extract_raw_1000", FeatureKind::Raw),
        ("baseline_extract_hog_1000", FeatureKind::Hog),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| extract(black_box(data.faces()), kind, &hog).expect("valid settings"))
        });
    }
}

criterion_group!(benches, bench_features);
criterion_main!(benches);
