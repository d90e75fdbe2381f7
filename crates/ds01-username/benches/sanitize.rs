//! Time per name for the mappings, over every input of the golden data.
//!
//! Criterion reports the time for the whole batch and, through `Throughput::Elements`,
//! names per second; divide to get nanoseconds per name.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ds01_username::{sanitize, sanitize_compat, slice_user_compat};

fn golden_inputs() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/usernames.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("golden fixture is readable");
    text.lines()
        .map(|line| {
            let row: serde_json::Value = serde_json::from_str(line).expect("fixture line is JSON");
            row["input"].as_str().expect("input is a string").to_owned()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = golden_inputs();
    let mut group = c.benchmark_group("golden inputs");
    group.throughput(Throughput::Elements(inputs.len() as u64));

    group.bench_function("sanitize", |b| {
        b.iter(|| {
            for login in &inputs {
                let _ = black_box(sanitize(black_box(login)));
            }
        })
    });
    group.bench_function("sanitize_compat", |b| {
        b.iter(|| {
            for login in &inputs {
                black_box(sanitize_compat(black_box(login)));
            }
        })
    });
    group.bench_function("slice_user_compat", |b| {
        b.iter(|| {
            for login in &inputs {
                black_box(slice_user_compat(black_box(login)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
