//! Times coverage validation on a city-sized plan: a 72 × 72 tiling (5,184 cells) of 150 m
//! cells near Yuxi, each edge a wiggling line of 36 segments shared by both its cells, so a
//! cell has 144 vertices; villages are blocks of 8 × 8 cells whose outlines follow the same
//! lines. Prints the time of a whole-city run and of a focus run (one cell and its
//! neighbours among the whole city's cells), and the issues found (none: the plan is clean).
//!
//! `cargo run --release -p wangge-analysis --example validate_coverage`

use std::time::Instant;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use wangge_analysis::coverage::{Cell, Tolerances, Village, validate};

const N: usize = 72;
const SIZE_M: f64 = 150.0;
const STEPS: usize = 36;
const BLOCK: usize = 8;

fn main() {
    let ky = 1.0 / 111_195.08;
    let kx = ky / 24.35f64.to_radians().cos();
    let at = |x: f64, y: f64| Coord {
        x: 102.3 + x * kx,
        y: 24.2 + y * ky,
    };
    let noise = |a: usize, b: usize, c: usize| {
        ((a * 7919 + b * 104_729 + c * 31 + 1) as f64 * 12.9898)
            .sin()
            .fract()
    };
    let corner = |i: usize, j: usize| {
        let inner = i > 0 && j > 0 && i < N && j < N;
        let (dx, dy) = if inner {
            (20.0 * noise(i, j, 1), 20.0 * noise(i, j, 2))
        } else {
            (0.0, 0.0)
        };
        at(i as f64 * SIZE_M + dx, j as f64 * SIZE_M + dy)
    };
    // The points of the edge between lattice corners p and q, from p to q, the same points
    // whichever of the two cells asks (the outer edge stays straight).
    let edge = |p: (usize, usize), q: (usize, usize)| -> Vec<Coord<f64>> {
        let (a, b) = (p.min(q), p.max(q));
        let (ca, cb) = (corner(a.0, a.1), corner(b.0, b.1));
        let outer =
            (a.0 == b.0 && (a.0 == 0 || a.0 == N)) || (a.1 == b.1 && (a.1 == 0 || a.1 == N));
        let mut pts: Vec<Coord<f64>> = (0..STEPS)
            .map(|s| {
                let t = s as f64 / STEPS as f64;
                let wiggle = if outer || s == 0 {
                    0.0
                } else {
                    2.0 * noise(a.0 * 131 + b.0, a.1 * 137 + b.1, s)
                };
                let (nx, ny) = (-(cb.y - ca.y) / ky, (cb.x - ca.x) / kx);
                let len = nx.hypot(ny);
                Coord {
                    x: ca.x + t * (cb.x - ca.x) + wiggle * nx / len * kx,
                    y: ca.y + t * (cb.y - ca.y) + wiggle * ny / len * ky,
                }
            })
            .collect();
        if p != a {
            pts.push(cb);
            pts.reverse();
            pts.pop();
        }
        pts
    };
    let ring = |corners: &[(usize, usize)]| {
        let mut pts = Vec::new();
        for w in 0..corners.len() {
            pts.extend(edge(corners[w], corners[(w + 1) % corners.len()]));
        }
        pts.push(pts[0]);
        MultiPolygon::new(vec![Polygon::new(LineString::new(pts), vec![])])
    };
    let mut cells = Vec::new();
    for j in 0..N {
        for i in 0..N {
            let village = ((j / BLOCK) * (N / BLOCK) + i / BLOCK + 1) as i64;
            let geom = ring(&[(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]);
            cells.push(Cell {
                key: (j * N + i + 1) as i64,
                village,
                geom,
            });
        }
    }
    let mut villages = Vec::new();
    for bj in 0..N / BLOCK {
        for bi in 0..N / BLOCK {
            let (x0, y0, x1, y1) = (bi * BLOCK, bj * BLOCK, (bi + 1) * BLOCK, (bj + 1) * BLOCK);
            let mut corners = Vec::new();
            corners.extend((x0..x1).map(|i| (i, y0)));
            corners.extend((y0..y1).map(|j| (x1, j)));
            corners.extend((x0 + 1..=x1).rev().map(|i| (i, y1)));
            corners.extend((y0 + 1..=y1).rev().map(|j| (x0, j)));
            villages.push(Village {
                key: (bj * (N / BLOCK) + bi + 1) as i64,
                geom: ring(&corners),
            });
        }
    }
    let vertices: usize = cells
        .iter()
        .map(|c| c.geom.0[0].exterior().0.len() - 1)
        .sum();
    println!(
        "{} cells, {} villages, {} vertices",
        cells.len(),
        villages.len(),
        vertices
    );

    let tol = Tolerances::default();
    for run in 0..3 {
        let start = Instant::now();
        let issues = validate(&cells, &villages, None, &tol);
        println!(
            "whole city, run {run}: {:.3} s, {} issues",
            start.elapsed().as_secs_f64(),
            issues.len()
        );
        for i in issues.iter().take(5) {
            println!("  {} {:?} {}", i.kind.code(), i.cells, i.detail);
        }
    }
    let focus = [(N / 2 * N + N / 2 + 1) as i64];
    let start = Instant::now();
    let issues = validate(&cells, &villages, Some(&focus), &tol);
    println!(
        "focus on one cell among all: {:.1} ms, {} issues",
        start.elapsed().as_secs_f64() * 1e3,
        issues.len()
    );
}
