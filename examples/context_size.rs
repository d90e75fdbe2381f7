//! Prints the size of ds01's build context for a typical spec and the median time to make
//! it, as `bytes microseconds`; `scripts/bench.sh` sets it against sending a whole workspace.

use ds01_dockerfile::{build_context, AimeBase, Base, ImageName, ImageRef, ImageSpec, UseCase};
use std::time::Instant;

fn main() {
    let image = ImageRef::parse("aimehub/pytorch-2.7.1-aime-cuda11.8.0").unwrap();
    let base = Base::Aime(AimeBase::new("Pytorch", "2.7.1-aime", "CUDA_AMPERE", image).unwrap());
    let spec = ImageSpec::with_ds01_defaults(
        ImageName::parse("thesis").unwrap(),
        base,
        Some(UseCase::ComputerVision),
    );
    let mut times: Vec<u128> = (0..51)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(build_context(&spec));
            start.elapsed().as_micros()
        })
        .collect();
    times.sort();
    println!(
        "{} {}",
        build_context(&spec).as_bytes().len(),
        times[times.len() / 2]
    );
}
