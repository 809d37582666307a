//! Criterion benches: the inner kernels (patch distance, one PatchMatch pass, voting, the
//! seam step's Poisson solve) and a whole 512×512 fill, on procedural inputs.

#[path = "../tests/common/mod.rs"]
#[expect(dead_code, reason = "the benches use only part of the helpers")]
mod common;

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;
use retouch_fill::kernels::{self, Field, Maps, NONE, Neighbours};
use retouch_fill::{FillOptions, Filler, ImageRef, MaskRef};

const R: usize = 3;

struct Setup {
    w: usize,
    h: usize,
    img: Vec<u8>,
    maps: Maps,
    nnf: Vec<u32>,
    dist: Vec<u32>,
    holes: Vec<u32>,
}

fn setup(side: u32) -> Setup {
    let (w, h) = (side as usize, side as usize);
    let img = common::scene(side, side, 1);
    let hole = common::mask(common::MaskKind::Square, side, side);
    let maps = Maps::new(&img, &hole, w, h, R);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut nnf = vec![NONE; w * h];
    {
        let f = field(w, h, &img, &maps);
        for (i, n) in nnf.iter_mut().enumerate() {
            if maps.target[i] != 0 {
                *n = f.random_source(&mut rng).unwrap_or(NONE);
            }
        }
    }
    let mut dist = vec![u32::MAX; w * h];
    kernels::distances_band(&field(w, h, &img, &maps), 0, &nnf, &mut dist);
    let holes = (0..w * h)
        .filter(|&i| hole[i] != 0)
        .map(|i| i as u32)
        .collect();
    Setup {
        w,
        h,
        img,
        maps,
        nnf,
        dist,
        holes,
    }
}

fn field<'a>(w: usize, h: usize, img: &'a [u8], maps: &'a Maps) -> Field<'a> {
    Field {
        width: w,
        height: h,
        radius: R,
        img,
        tex: &maps.tex,
        valid: &maps.valid,
        target: &maps.target,
        spans: &maps.spans,
        hole_rows: &[],
    }
}

fn bench_kernels(c: &mut Criterion) {
    let s = setup(256);
    let f = field(s.w, s.h, &s.img, &s.maps);
    c.bench_function("patch_ssd 6x7 clipped at the image edge", |b| {
        b.iter(|| {
            kernels::patch_ssd(
                black_box(&s.img),
                s.w,
                black_box(10 * 256),
                200 * 256 + 40,
                6,
                7,
                u32::MAX,
            )
        })
    });
    c.bench_function("distance 7x7 colour + texture", |b| {
        b.iter(|| f.distance(black_box(40), black_box(40), 200 * 256 + 40, u32::MAX))
    });
    let weighted = Field {
        hole_rows: &s.maps.hole_rows,
        ..f
    };
    // A patch whose right three columns lie in the hole, on row 128.
    let first = (0..s.w)
        .find(|&x| s.maps.hole_rows[128 * s.w + x] & 1 != 0)
        .unwrap_or(s.w / 2);
    c.bench_function(
        "distance 7x7 on the hole's edge, hole pixels weighted",
        |b| {
            b.iter(|| {
                weighted.distance(
                    black_box(first - 1),
                    black_box(128),
                    200 * 256 + 40,
                    u32::MAX,
                )
            })
        },
    );
    c.bench_function("search pass 256² square hole", |b| {
        b.iter_batched(
            || (s.nnf.clone(), s.dist.clone()),
            |(mut nnf, mut dist)| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
                kernels::search_band(
                    &f,
                    0,
                    &mut nnf,
                    &mut dist,
                    Neighbours::default(),
                    true,
                    256,
                    &mut rng,
                );
                nnf
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let mut weight = Vec::new();
    let mut sample = Vec::new();
    kernels::weights(&f, &s.dist, &mut weight, &mut sample);
    c.bench_function("weights 256² square hole", |b| {
        b.iter(|| kernels::weights(&f, black_box(&s.dist), &mut weight, &mut sample))
    });
    let mut out = vec![[0u8; 4 + kernels::TEX_CHANNELS]; s.holes.len()];
    c.bench_function("vote 256² square hole", |b| {
        b.iter(|| kernels::vote(&f, black_box(&s.nnf), &weight, &s.holes, &mut out))
    });
    // Sources from the random field: a seam between almost every pair of neighbours, the
    // solver's hardest case.
    let mut sources = vec![NONE; s.holes.len()];
    kernels::best_sources(&f, &s.nnf, &s.dist, &s.holes, &mut sources);
    let mut hole = vec![0u8; s.w * s.h];
    for &q in &s.holes {
        hole[q as usize] = 1;
    }
    // Each iteration blends a fresh copy: a blended image would ask the solver for less.
    c.bench_function("seam blend 256² square hole", |b| {
        b.iter_batched_ref(
            || s.img.clone(),
            |img| {
                kernels::blend_seams(img, &hole, (s.w, s.h), &s.holes, black_box(&sources));
            },
            BatchSize::LargeInput,
        )
    });
}

fn bench_fill(c: &mut Criterion) {
    let mut group = c.benchmark_group("fill 512²");
    group.sample_size(10);
    let side = 512;
    let img = common::scene(side, side, 2);
    let mut filler = Filler::new();
    for kind in [
        common::MaskKind::Square,
        common::MaskKind::Blob,
        common::MaskKind::Scratch,
    ] {
        let m = common::mask(kind, side, side);
        group.bench_function(format!("{kind:?}"), |b| {
            b.iter(|| {
                filler.fill(
                    ImageRef {
                        width: side,
                        height: side,
                        pixels: &img,
                    },
                    MaskRef {
                        width: side,
                        height: side,
                        data: &m,
                    },
                    &FillOptions::new(),
                    &mut |_| std::ops::ControlFlow::Continue(()),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_kernels, bench_fill);
criterion_main!(benches);
