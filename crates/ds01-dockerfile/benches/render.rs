//! How long the spec → Dockerfile → build context path takes for a full DS01-style spec, and
//! what parsing the catalog costs. These run on every `ds01 image build` before the engine is
//! contacted, so they should stay far below a millisecond.

use criterion::{criterion_group, criterion_main, Criterion};
use ds01_dockerfile::{
    build_context, render, AimeBase, Base, Catalog, ImageName, ImageSpec, PipRequirement, UseCase,
};
use std::hint::black_box;

const CATALOG: &str = include_str!("../tests/fixtures/aime-ml_images.repo");

fn full_spec() -> ImageSpec {
    let catalog = Catalog::parse(CATALOG).unwrap();
    let entry = catalog.resolve("pytorch", None, "CUDA_AMPERE").unwrap();
    let base = Base::Aime(AimeBase::from_catalog(entry, "CUDA_AMPERE").unwrap());
    let mut spec = ImageSpec::with_ds01_defaults(
        ImageName::parse("thesis-cv").unwrap(),
        base,
        Some(UseCase::ComputerVision),
    );
    for p in ["wandb", "transformers>=4.30", "numpy>=1.24,<2"] {
        spec.add_pip(PipRequirement::parse(p).unwrap());
    }
    spec
}

fn benches(c: &mut Criterion) {
    let spec = full_spec();
    let toml = spec.to_toml_string().unwrap();
    c.bench_function("render full spec", |b| b.iter(|| render(black_box(&spec))));
    c.bench_function("build_context full spec", |b| {
        b.iter(|| build_context(black_box(&spec)))
    });
    c.bench_function("parse spec toml", |b| {
        b.iter(|| ImageSpec::from_toml_str(black_box(&toml)).unwrap())
    });
    c.bench_function("parse catalog (115 rows) and resolve", |b| {
        b.iter(|| {
            let catalog = Catalog::parse(black_box(CATALOG)).unwrap();
            catalog
                .resolve("tensorflow", None, "CUDA_AMPERE")
                .unwrap()
                .image
                .clone()
        })
    });
}

criterion_group!(render_benches, benches);
criterion_main!(render_benches);
