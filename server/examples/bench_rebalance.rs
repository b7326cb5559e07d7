//! Grid rebalancing on the full demo city, generated in memory: (a) the township nearest
//! 20,000 households into 15 cells, (b) every township to its current cell count, (c) the
//! households a 5% load change moves, and the files (d) spopt reads to run its regionalisers
//! on the same township (`scripts/bench_rebalance_spopt.py`).
//!
//! Loads: a household is 1; an incident is 1, 2, 4 or 8 by severity (minor to critical),
//! all of the demo's two years of cases. Usage: `scripts/bench-rebalance.sh`, or
//! `bench_rebalance OUT_DIR [a|b]` after a release build (all parts unless one is named).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use geo::MultiPolygon;
use h3o::Resolution;
use wangge_analysis::rebalance::{
    self, Params, Plan, Point, Target, UnitGraph, UnitParams, build_units_adaptive, outlines,
};
use wangge_demo::generate::{DemoData, Scale, generate};
use wangge_domain::model::AdminLevel;

type Cells = Vec<(u32, u32, MultiPolygon<f64>)>;

/// One township's villages, current cells and weighted points.
struct Township {
    name: String,
    villages: Vec<(u32, MultiPolygon<f64>)>,
    cells: Cells,
    points: Vec<Point>,
    households: usize,
}

fn severity_load(severity: &str) -> f64 {
    match severity {
        "minor" => 1.0,
        "moderate" => 2.0,
        "major" => 4.0,
        _ => 8.0,
    }
}

fn townships(data: &DemoData) -> Vec<Township> {
    let mut by_id: HashMap<i64, Township> = HashMap::new();
    let mut village_township: HashMap<i64, i64> = HashMap::new();
    for u in &data.units {
        if u.level == AdminLevel::Township {
            by_id.insert(
                u.id,
                Township {
                    name: format!("{} {}", u.code, u.name),
                    villages: Vec::new(),
                    cells: Vec::new(),
                    points: Vec::new(),
                    households: 0,
                },
            );
        }
    }
    for u in &data.units {
        if u.level == AdminLevel::Village {
            let t = u.parent_id.expect("a village has a township");
            village_township.insert(u.id, t);
            by_id
                .get_mut(&t)
                .expect("its township")
                .villages
                .push((u.id as u32, u.geom.clone()));
        }
    }
    for c in &data.grid_cells {
        let t = village_township[&c.village_id];
        by_id.get_mut(&t).expect("its township").cells.push((
            c.id as u32,
            c.village_id as u32,
            c.geom.clone(),
        ));
    }
    for h in &data.households {
        let t = by_id
            .get_mut(&village_township[&h.village_id])
            .expect("its township");
        t.points.push(Point {
            lon: h.lonlat.0,
            lat: h.lonlat.1,
            households: 1,
            load: 1.0,
        });
        t.households += 1;
    }
    for i in &data.incidents {
        by_id
            .get_mut(&village_township[&i.village_id])
            .expect("its township")
            .points
            .push(Point {
                lon: i.lonlat.0,
                lat: i.lonlat.1,
                households: 0,
                load: severity_load(i.severity),
            });
    }
    let mut all: Vec<(i64, Township)> = by_id.into_iter().collect();
    all.sort_by_key(|(id, _)| *id);
    all.into_iter().map(|(_, t)| t).collect()
}

/// The township's units, each village as fine as its households need (`resolution`
/// asked, 9 to 12 given).
fn units(t: &Township, resolution: Resolution) -> (UnitGraph, f64) {
    let start = Instant::now();
    let graph = build_units_adaptive(
        &t.villages,
        &t.cells,
        &t.points,
        &UnitParams {
            resolution,
            threads: 0,
        },
    )
    .expect("units");
    (graph, start.elapsed().as_secs_f64())
}

/// How many units each resolution has, finest first: "27,407 at 11".
fn by_resolution(graph: &UnitGraph) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for u in &graph.units {
        *counts
            .entry(std::cmp::Reverse(u8::from(u.cell.resolution())))
            .or_insert(0usize) += 1;
    }
    counts
        .iter()
        .map(|(r, n)| format!("{n} at {}", r.0))
        .collect::<Vec<_>>()
        .join(", ")
}

fn run(graph: &UnitGraph, params: &Params) -> (Plan, f64) {
    let start = Instant::now();
    let plan = rebalance::rebalance(graph, params).expect("a plan");
    (plan, start.elapsed().as_secs_f64())
}

fn report(label: &str, plan: &Plan, build_s: f64, solve_s: f64) {
    println!(
        "{label}: {} parts; units {build_s:.2} s, rebalance {solve_s:.2} s (goal < 2 s); largest deviation from equal load {:+.2}% (goal ±5%), tolerance met: {}; contiguous {:.1}% of parts (goal 100%); mean Polsby-Popper {:.3}; households moved {} of {} ({:.1}%); {} moves",
        plan.parts.len(),
        100.0 * plan.max_deviation,
        plan.tolerance_met,
        100.0 * plan.contiguous_share(),
        plan.mean_polsby_popper,
        plan.households_moved,
        plan.households,
        100.0 * plan.households_moved as f64 / plan.households.max(1) as f64,
        plan.moves,
    );
    let outside = plan
        .parts
        .iter()
        .filter(|p| p.deviation.abs() > plan.tolerance + 1e-9)
        .count();
    let forced = plan
        .shortfalls
        .iter()
        .filter_map(|s| match s {
            rebalance::Shortfall::VillageShare { mean_deviation, .. } => Some(mean_deviation.abs()),
            _ => None,
        })
        .fold(0.0f64, f64::max);
    println!(
        "    parts outside ±{:.0}%: {outside} of {}; the largest deviation the villages' shares of cells force: {:.2}%",
        100.0 * plan.tolerance,
        plan.parts.len(),
        100.0 * forced
    );
    if !plan.shortfalls.is_empty() {
        let heavy = plan
            .shortfalls
            .iter()
            .filter(|s| matches!(s, rebalance::Shortfall::HeavyUnit { .. }))
            .count();
        let share = plan
            .shortfalls
            .iter()
            .filter(|s| matches!(s, rebalance::Shortfall::VillageShare { .. }))
            .count();
        let stalled = plan
            .shortfalls
            .iter()
            .filter(|s| matches!(s, rebalance::Shortfall::Stalled { .. }))
            .count();
        let coarse = plan
            .shortfalls
            .iter()
            .filter(|s| matches!(s, rebalance::Shortfall::CoarseUnits { .. }))
            .count();
        println!(
            "    shortfalls: {heavy} units heavier than the band, {share} villages whose share of cells forces a deviation, {coarse} groups whose units are too coarse for the band, {stalled} groups where the search stalled"
        );
    }
}

/// Units, adjacency and loads for spopt, at one resolution.
fn write_for_spopt(dir: &std::path::Path, graph: &UnitGraph, res: u8, ours_s: f64, plan: &Plan) {
    let mut units = String::from("id,lon,lat,load,households,village\n");
    for (i, u) in graph.units.iter().enumerate() {
        writeln!(
            units,
            "{i},{},{},{},{},{}",
            u.centre.lon(),
            u.centre.lat(),
            u.load,
            u.households,
            u.village
        )
        .expect("string");
    }
    std::fs::write(dir.join(format!("units-r{res}.csv")), units).expect("write units");
    let mut edges = String::from("a,b\n");
    for e in &graph.edges {
        writeln!(edges, "{},{}", e.a, e.b).expect("string");
    }
    std::fs::write(dir.join(format!("edges-r{res}.csv")), edges).expect("write edges");
    std::fs::write(
        dir.join(format!("ours-r{res}.txt")),
        format!(
            "{ours_s} {} {} {}\n",
            plan.max_deviation,
            plan.contiguous_share(),
            plan.parts.len()
        ),
    )
    .expect("write ours");
}

fn main() {
    let out = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/bench-rebalance".into()),
    );
    std::fs::create_dir_all(&out).expect("output folder");
    let start = Instant::now();
    let reference = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let data = generate(Scale::Full, wangge_demo::DEFAULT_SEED, reference);
    let towns = townships(&data);
    println!(
        "==> the full demo: {} townships, {} villages, {} cells, {} households, {} incidents (generated in {:.1} s)",
        towns.len(),
        towns.iter().map(|t| t.villages.len()).sum::<usize>(),
        data.grid_cells.len(),
        data.households.len(),
        data.incidents.len(),
        start.elapsed().as_secs_f64()
    );
    drop(data);
    let res = rebalance::DEFAULT_RESOLUTION;

    // The second argument picks parts: "a" for (a), (c) and the files for (d), "b" for (b).
    let only = std::env::args().nth(2).unwrap_or_else(|| "ab".into());
    if only.contains('a') {
        // (a)
        let t = towns
            .iter()
            .min_by_key(|t| t.households.abs_diff(20_000))
            .expect("a township");
        println!(
            "\n(a) township {}: {} households, {} villages, {} current cells; H3 resolution {} asked (each village 9 to 12 as its households need)",
            t.name,
            t.households,
            t.villages.len(),
            t.cells.len(),
            u8::from(res)
        );
        let (graph, build_s) = units(t, res);
        println!(
            "    {} units ({}), {} edges; built in {build_s:.2} s",
            graph.units.len(),
            by_resolution(&graph),
            graph.edges.len()
        );
        let mut fifteen = Params::new(Target::Cells(15));
        match rebalance::rebalance(&graph, &fifteen) {
            Ok(_) => {
                let (plan, s) = run(&graph, &fifteen);
                report("    15 cells, nested", &plan, build_s, s);
            }
            Err(e) => println!("    15 cells nested: {e}"),
        }
        // Nested, 15 cells leave most villages one cell whatever their load; without nesting
        // is the comparison that balance can win, and the one spopt runs.
        fifteen.nest_in_villages = false;
        let (plan15, s15) = run(&graph, &fifteen);
        report("    15 cells, NOT nested", &plan15, build_s, s15);
        let current = Params::new(Target::Cells(t.cells.len()));
        let (balanced, s) = run(&graph, &current);
        report(
            &format!("    {} cells (current count), nested", t.cells.len()),
            &balanced,
            build_s,
            s,
        );
        let start_outlines = Instant::now();
        let shapes = outlines(&graph, &balanced, &t.villages);
        println!(
            "    outlines of the {} cells drawn in {:.2} s",
            shapes.len(),
            start_outlines.elapsed().as_secs_f64()
        );

        // (c) 5% load changes from the balanced plan.
        println!(
            "\n(c) a 5% change in load, rebalanced from the balanced plan ({} cells, nested)",
            t.cells.len()
        );
        let mut kept = graph.clone();
        kept.adopt(&balanced);
        // A local surge: the households nearest one place (the township's 1/3 point by unit
        // order) get twice their load, 5% of the township's households in all.
        let mut local = kept.clone();
        let centre = local.units[local.units.len() / 3].centre;
        let mut order: Vec<usize> = (0..local.units.len()).collect();
        let d = |u: &rebalance::Unit| {
            let (dx, dy) = (u.centre.lon() - centre.lon(), u.centre.lat() - centre.lat());
            dx * dx + dy * dy
        };
        order.sort_by(|&a, &b| d(&local.units[a]).total_cmp(&d(&local.units[b])));
        let mut doubled = 0u64;
        let goal = local
            .units
            .iter()
            .map(|u| u64::from(u.households))
            .sum::<u64>()
            / 20;
        for u in order {
            if doubled >= goal {
                break;
            }
            let unit = &mut local.units[u];
            unit.load += f64::from(unit.households);
            doubled += u64::from(unit.households);
        }
        let (after, s) = run(&local, &current);
        report(
            &format!("    local surge ({doubled} households' load doubled, nearest one place)"),
            &after,
            0.0,
            s,
        );
        // A smooth field: every load scaled by 1 + 5% sin·cos over a few kilometres.
        let mut smooth = kept.clone();
        for u in &mut smooth.units {
            let f = 1.0 + 0.05 * (u.centre.lon() * 300.0).sin() * (u.centre.lat() * 300.0).cos();
            u.load *= f;
        }
        let (after, s) = run(&smooth, &current);
        report(
            "    smooth ±5% field (load × (1 + 0.05·sin(300·lon)·cos(300·lat)))",
            &after,
            0.0,
            s,
        );

        // (d) files for spopt: the same township, the same contiguity, at 11, 10 and 9.
        write_for_spopt(&out, &graph, u8::from(res), s15, &plan15);
        for r in [Resolution::Ten, Resolution::Nine] {
            let (g, _) = units(t, r);
            let (p, s) = run(&g, &fifteen);
            write_for_spopt(&out, &g, u8::from(r), s, &p);
        }
        std::fs::write(
            out.join("params.txt"),
            format!(
                "15 {}\n",
                if fifteen.nest_in_villages {
                    "nested"
                } else {
                    "not-nested"
                }
            ),
        )
        .expect("params");
    }
    if !only.contains('b') {
        return;
    }

    // (b)
    println!(
        "\n(b) every township to its current cell count, nested, resolution {} asked (each village 9 to 12)",
        u8::from(res)
    );
    let start = Instant::now();
    let (mut build_total, mut solve_total) = (0.0, 0.0);
    let (mut worst, mut parts, mut contiguous, mut pp_sum) = (0.0f64, 0usize, 0usize, 0.0);
    let (mut units_total, mut met) = (0usize, 0usize);
    // Parts outside the tolerance in villages whose share of cells does not force it.
    let (mut unforced, mut unforced_worst) = (0usize, 0.0f64);
    let mut resolutions = [0usize; 16];
    for t in &towns {
        let (g, b) = units(t, res);
        for u in &g.units {
            resolutions[usize::from(u8::from(u.cell.resolution()))] += 1;
        }
        let (p, s) = run(&g, &Params::new(Target::Cells(t.cells.len())));
        if b + s > 2.0 {
            println!(
                "    slow: {} ({} units, {} cells): units {b:.1} s, rebalance {s:.1} s",
                t.name,
                g.units.len(),
                t.cells.len()
            );
        }
        build_total += b;
        solve_total += s;
        worst = worst.max(p.max_deviation);
        parts += p.parts.len();
        contiguous += p.parts.iter().filter(|x| x.contiguous).count();
        pp_sum += p.parts.iter().map(|x| x.polsby_popper).sum::<f64>();
        units_total += g.units.len();
        met += usize::from(p.tolerance_met);
        let forced: std::collections::HashSet<u32> = p
            .shortfalls
            .iter()
            .filter_map(|s| match s {
                rebalance::Shortfall::VillageShare { village, .. } => Some(*village),
                _ => None,
            })
            .collect();
        for part in &p.parts {
            let free = part.village.is_some_and(|v| !forced.contains(&v));
            if free && part.deviation.abs() > p.tolerance + 1e-9 {
                unforced += 1;
                unforced_worst = unforced_worst.max(part.deviation.abs());
            }
        }
    }
    println!(
        "    {} townships, {units_total} units, {parts} cells: total {:.1} s (goal < 30 s; units {build_total:.1} s, rebalance {solve_total:.1} s); worst deviation {:+.2}%; tolerance met in {met} of {} townships; contiguous {:.2}% of cells; mean Polsby-Popper {:.3}",
        towns.len(),
        start.elapsed().as_secs_f64(),
        100.0 * worst,
        towns.len(),
        100.0 * contiguous as f64 / parts.max(1) as f64,
        pp_sum / parts.max(1) as f64,
    );
    println!(
        "    outside ±5% where the villages' shares of cells allow it: {unforced} of {parts} cells (largest deviation there {:.2}%)",
        100.0 * unforced_worst
    );
    println!(
        "    units by resolution: {}",
        (0..16)
            .rev()
            .filter(|&r| resolutions[r] > 0)
            .map(|r| format!("{} at {r}", resolutions[r]))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
