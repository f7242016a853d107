//! Criterion bench: nanoseconds per handle normalization by input shape.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imsg_target::{Handle, Region};

fn normalize(c: &mut Criterion) {
    let region = Region::default();
    let mut group = c.benchmark_group("normalize");
    for (name, input) in [
        ("e164", "+14155552671"),
        ("email", "alice@example.com"),
        ("email_mixed_case", "Alice@Example.com"),
        ("national", "(415) 555-2671"),
        ("other", "bob"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| Handle::normalize(black_box(input), black_box(&region)));
        });
    }
    group.finish();
}

criterion_group!(benches, normalize);
criterion_main!(benches);
