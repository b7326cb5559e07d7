//! Gi* benchmark, the Rust half of `scripts/bench-hotspots.sh`: builds the two cases
//! (all resolution-9 H3 cells in a disk around Yuxi, about 1,000,000 and 100,000 of them,
//! ring-1 weights, counts with planted clusters), times weight building and the statistic
//! apart, and writes the values, the weights (CSR) and its z-scores and pseudo p-values as
//! raw little-endian arrays for the esda half to read:
//!
//! `DIR/CASE.values.f64`, `.indptr.i64`, `.indices.i32`, `.z.f64`, `.p_sim.f64` and
//! `DIR/CASE.times` (`weights_s`, `statistic_s`, `cells`, `permutations`, one per line).
//!
//! Usage: `cargo run --release -p wangge-analysis --example bench_gistar -- DIR`

use std::io::Write;
use std::time::Instant;

use h3o::{CellIndex, LatLng, Resolution};
use wangge_analysis::gi_star::{GiStarOptions, gi_star};
use wangge_analysis::weights::Weights;

/// SplitMix64: enough randomness for test values, and the same on every machine.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Incident-like counts: a low background with a few clusters of different sizes.
fn values(cells: &[CellIndex], seed: u64) -> Vec<f64> {
    let mut mix = Mix(seed);
    let centre = LatLng::new(24.35, 102.55).expect("Yuxi");
    let span = cells
        .iter()
        .map(|&c| LatLng::from(c).distance_km(centre))
        .fold(0.0f64, f64::max);
    let clusters: Vec<(LatLng, f64, f64)> = (0..12)
        .map(|_| {
            let (r, a) = (
                span * mix.next().sqrt() * 0.9,
                mix.next() * std::f64::consts::TAU,
            );
            let lat = 24.35 + r / 111.2 * a.sin();
            let lng = 102.55 + r / (111.2 * 24.35f64.to_radians().cos()) * a.cos();
            let at = LatLng::new(lat, lng).expect("near Yuxi");
            (
                at,
                span * (0.01 + 0.04 * mix.next()),
                3.0 + 9.0 * mix.next(),
            )
        })
        .collect();
    cells
        .iter()
        .map(|&c| {
            let p = LatLng::from(c);
            let bump: f64 = clusters
                .iter()
                .map(|&(at, sigma, height)| {
                    height * (-(p.distance_km(at) / sigma).powi(2) / 2.0).exp()
                })
                .sum();
            ((bump + 2.0 * mix.next() * mix.next() * 4.0).round()).max(0.0)
        })
        .collect()
}

fn write_array<T: Copy>(path: &std::path::Path, data: &[T], bytes: impl Fn(T) -> Vec<u8>) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    for &x in data {
        out.write_all(&bytes(x)).expect("write");
    }
}

fn run(dir: &std::path::Path, name: &str, ring: u32, permutations: u32) {
    let centre = LatLng::new(24.35, 102.55)
        .expect("Yuxi")
        .to_cell(Resolution::Nine);
    let cells: Vec<CellIndex> = centre.grid_disk::<Vec<_>>(ring);
    let y = values(&cells, 18);
    let started = Instant::now();
    let weights = Weights::h3_ring(&cells, 1).expect("weights");
    let weights_s = started.elapsed().as_secs_f64();
    let options = GiStarOptions {
        permutations,
        seed: 2024,
        threads: 2,
        ..Default::default()
    };
    let mut best = f64::INFINITY;
    let mut result = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        result = gi_star(&y, &weights, &options).expect("gi*");
        best = best.min(started.elapsed().as_secs_f64());
    }
    let n = cells.len();
    let mut indptr = Vec::with_capacity(n + 1);
    let mut indices = Vec::with_capacity(weights.pairs());
    indptr.push(0i64);
    for i in 0..n {
        indices.extend(weights.neighbour_indices(i).iter().map(|&j| j as i32));
        indptr.push(indices.len() as i64);
    }
    let f64s = |x: f64| x.to_le_bytes().to_vec();
    write_array(&dir.join(format!("{name}.values.f64")), &y, f64s);
    write_array(
        &dir.join(format!("{name}.indptr.i64")),
        &indptr,
        |x: i64| x.to_le_bytes().to_vec(),
    );
    write_array(
        &dir.join(format!("{name}.indices.i32")),
        &indices,
        |x: i32| x.to_le_bytes().to_vec(),
    );
    let z: Vec<f64> = result.iter().map(|g| g.z).collect();
    let p_sim: Vec<f64> = result.iter().map(|g| g.p_sim.unwrap_or(f64::NAN)).collect();
    write_array(&dir.join(format!("{name}.z.f64")), &z, f64s);
    write_array(&dir.join(format!("{name}.p_sim.f64")), &p_sim, f64s);
    std::fs::write(
        dir.join(format!("{name}.times")),
        format!(
            "weights_s {weights_s}\nstatistic_s {best}\ncells {n}\npermutations {permutations}\n"
        ),
    )
    .expect("times");
    println!(
        "{name}: {n} cells, ring-1 weights built in {weights_s:.3} s, Gi* ({permutations} permutations, 2 threads) best of 3: {best:.3} s"
    );
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench-hotspots".into()),
    );
    std::fs::create_dir_all(&dir).expect("output folder");
    // Disks of radius 577 and 182 hold 1,000,519 and 99,919 cells.
    run(&dir, "analytic_1m", 577, 0);
    run(&dir, "permutations_100k", 182, 999);
}
