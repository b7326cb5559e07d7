//! Generating the Yuxi demo in memory: boundaries, grid cells, households, facilities,
//! workers and two years of incidents, all deterministic for a seed.
//!
//! Every boundary is a union of hexagons of one lattice ([`crate::hexgrid`]): counties are
//! grown from their real seats to about their real areas, then each is cut into its real
//! townships, each township into its real villages, and each village into grid cells, so
//! every level nests exactly, with no gaps or overlaps. Everything below a village (grid
//! cells, households, workers, incidents) comes from a random stream of that village alone,
//! so the one-county demo is exactly that county's part of the full one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use geo::MultiPolygon;

use crate::divisions::{
    self, CITY_CODE, CITY_NAME, COUNTIES, Division, chinese_number, is_community, is_street,
    short_village_name,
};
use crate::hexgrid::{self, Lattice};
use crate::noise::Noise;
use crate::partition::{self, NONE, Seed};
use crate::rng::Rng;
use wangge_domain::model::{AdminLevel, FacilityKind};

/// Yuxi's grid cells (网格单元), as the city counts them.
pub const GRID_CELLS: usize = 5162;
/// Yuxi's grid workers (网格员).
pub const GRID_WORKERS: usize = 7817;
/// Households in the full demo (about 2.3 million people).
pub const HOUSEHOLDS: usize = 750_000;
/// Disputes a year, city-wide.
pub const INCIDENTS_PER_YEAR: usize = 20_000;
/// Years of incident history.
pub const HISTORY_DAYS: i64 = 730;
/// The county of the small demo: 红塔区, the city centre.
pub const SMALL_COUNTY: &str = "530402";

/// Hexagon size (centre to corner), km: about 0.084 km² a hexagon, 180,000 over the city.
const HEX_SIZE_KM: f64 = 0.18;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The whole city.
    Full,
    /// One county (红塔区).
    Small,
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub id: i64,
    pub level: AdminLevel,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub geom: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
pub struct GridCell {
    pub id: i64,
    pub village_id: i64,
    pub code: String,
    pub name: String,
    pub geom: MultiPolygon<f64>,
}

#[derive(Debug, Clone)]
pub struct Household {
    pub id: i64,
    pub address: String,
    pub size: i16,
    pub village_id: i64,
    pub lonlat: (f64, f64),
    /// The code of the grid cell it was placed in.
    pub grid_cell_code: String,
    /// The head of household, as the register lists them.
    pub head: Person,
}

/// A resident's personal data (generated: no real person).
#[derive(Debug, Clone)]
pub struct Person {
    pub name: String,
    /// An 18-character mainland resident ID number with a valid check character.
    pub id_number: String,
    pub phone: String,
}

#[derive(Debug, Clone)]
pub struct Facility {
    pub id: i64,
    pub kind: FacilityKind,
    pub name: String,
    pub address: String,
    pub admin_unit_id: i64,
    pub lonlat: (f64, f64),
}

#[derive(Debug, Clone)]
pub struct Worker {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub status: &'static str,
    pub lonlat: (f64, f64),
    pub last_seen_at: DateTime<Utc>,
    pub grid_cell_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Incident {
    pub id: i64,
    pub category: &'static str,
    pub severity: &'static str,
    pub status: &'static str,
    pub tier: &'static str,
    pub resolved_tier: Option<&'static str>,
    pub title: String,
    pub description: String,
    pub lonlat: (f64, f64),
    pub grid_cell_id: i64,
    pub village_id: i64,
    pub township_id: i64,
    pub county_id: i64,
    pub reported_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The grid worker handling the case, once it has been assigned.
    pub assignee_id: Option<i64>,
    /// Who reported it (generated: no real person; sealed when loaded).
    pub reporter_name: String,
    pub reporter_phone: String,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub incident_id: i64,
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub status: &'static str,
    pub tier: &'static str,
    pub actor: String,
    pub note: String,
}

/// The whole demo, ready to load.
#[derive(Debug, Clone)]
pub struct DemoData {
    pub scale: Scale,
    pub seed: u64,
    /// The moment the demo's history ends (its "now").
    pub reference: DateTime<Utc>,
    /// City, counties, townships, villages, in that order (parents first).
    pub units: Vec<Unit>,
    pub grid_cells: Vec<GridCell>,
    pub households: Vec<Household>,
    pub facilities: Vec<Facility>,
    pub workers: Vec<Worker>,
    pub incidents: Vec<Incident>,
    pub events: Vec<Event>,
}

/// Incident categories with their share of cases (codes match `incident_category`).
pub const CATEGORIES: [(&str, &str, f64); 12] = [
    ("neighbour", "邻里纠纷", 22.0),
    ("family", "婚姻家庭纠纷", 15.0),
    ("land", "土地山林权属纠纷", 14.0),
    ("labour", "劳动争议", 8.0),
    ("medical", "医患纠纷", 3.0),
    ("property_mgmt", "物业纠纷", 7.0),
    ("traffic", "交通事故纠纷", 8.0),
    ("demolition", "征地拆迁纠纷", 5.0),
    ("debt", "合同债务纠纷", 9.0),
    ("environment", "环境污染纠纷", 3.0),
    ("public_security", "治安隐患", 3.0),
    ("public_service", "公共服务诉求", 3.0),
];
pub const SEVERITIES: [(&str, f64); 4] = [
    ("minor", 55.0),
    ("moderate", 30.0),
    ("major", 12.0),
    ("critical", 3.0),
];
/// Share of cases finally resolved at village, township, county, city tier, by severity
/// (the order of [`SEVERITIES`]). Over the severities' shares, about 86% are resolved at
/// township level or below, as in Yuxi ("over 80%").
pub const RESOLUTION_TIERS: [[f64; 4]; 4] = [
    [75.0, 20.0, 4.5, 0.5],
    [45.0, 40.0, 13.0, 2.0],
    [15.0, 45.0, 32.0, 8.0],
    [5.0, 30.0, 45.0, 20.0],
];
pub const TIERS: [&str; 4] = ["village", "township", "county", "city"];
/// Minutes, shortest and longest, from a case's last escalation (or its start) to its
/// resolution at its final tier, by tier.
pub const RESOLVE_MINUTES: [(i64, i64); 4] = [
    (60, 3 * 24 * 60),
    (24 * 60, 10 * 24 * 60),
    (5 * 24 * 60, 30 * 24 * 60),
    (20 * 24 * 60, 60 * 24 * 60),
];
/// Minutes, shortest and longest, a case is worked at a tier before it goes up one.
pub const ESCALATE_MINUTES: (i64, i64) = (6 * 60, 5 * 24 * 60);

/// The chance that a case of severity `severity` (an index into [`SEVERITIES`]) being worked
/// at tier `tier` (an index into [`TIERS`]) goes up a tier rather than being resolved there:
/// the history's final-tier shares, given that the case got this far. Going up tier by tier
/// with these chances ends at each tier with exactly the shares of [`RESOLUTION_TIERS`].
pub fn escalation_chance(severity: usize, tier: usize) -> f64 {
    let shares = &RESOLUTION_TIERS[severity.min(RESOLUTION_TIERS.len() - 1)];
    let here_or_above: f64 = shares.iter().skip(tier).sum();
    let above: f64 = shares.iter().skip(tier + 1).sum();
    if here_or_above > 0.0 {
        above / here_or_above
    } else {
        0.0
    }
}

const SURNAMES: &[&str] = &[
    "李", "王", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "普", "白", "施", "段", "鲁", "沐", "起", "龙", "孔", "字", "者", "陆", "范", "苏", "钱", "袁",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "文", "建", "国", "云", "红", "玉", "兰", "春",
    "丹", "凤", "斌", "波", "海", "燕", "琼", "荣", "德", "福", "顺", "林", "松", "梅", "宇", "浩",
];
const DIRECTIONS: [&str; 5] = ["东", "西", "南", "北", "中"];

/// Builds the demo. `reference` is the end of its history; pass a fixed time for
/// reproducible output.
pub fn generate(scale: Scale, seed: u64, reference: DateTime<Utc>) -> DemoData {
    let townships = divisions::townships();
    let villages = divisions::villages();
    let lattice = Lattice::new((102.4, 24.2), HEX_SIZE_KM, (101.0, 23.0), (103.7, 25.3))
        .with_jitter(seed, hexgrid::MAX_JITTER);
    let noise = Noise::new(seed, 9.0);

    // Counties: grown from their seats with quotas from their areas.
    let mut county_of = vec![NONE; lattice.len()];
    let county_seeds: Vec<Seed> = COUNTIES
        .iter()
        .map(|c| Seed {
            hex: lattice
                .hex_at_lonlat(c.seat.0, c.seat.1)
                .expect("seats lie on the lattice"),
            weight: (c.area_km2 / std::f64::consts::PI).sqrt(),
            quota: (c.area_km2 / lattice.hex_area_km2()).round() as usize,
        })
        .collect();
    partition::grow(
        &lattice,
        &county_seeds,
        |_| true,
        &noise,
        0.45,
        &mut county_of,
    );
    fill_enclosed_gaps(&lattice, &mut county_of);

    let mut units: Vec<Unit> = Vec::new();
    let mut next_unit_id = 1i64;
    let mut new_unit_id = || {
        let id = next_unit_id;
        next_unit_id += 1;
        id
    };
    let city_hexes: Vec<usize> = (0..lattice.len())
        .filter(|&h| county_of[h] != NONE)
        .collect();
    let city_id = new_unit_id();
    units.push(Unit {
        id: city_id,
        level: AdminLevel::City,
        code: CITY_CODE.into(),
        name: CITY_NAME.into(),
        parent_id: None,
        geom: lattice.dissolve(&city_hexes),
    });

    let hexes_of = |owner: &[u32], parts: usize| {
        let mut lists = vec![Vec::new(); parts];
        for (h, &o) in owner.iter().enumerate() {
            if o != NONE {
                lists[o as usize].push(h);
            }
        }
        lists
    };
    let county_hexes = hexes_of(&county_of, COUNTIES.len());

    // Townships within each county.
    let mut township_of = vec![NONE; lattice.len()];
    let mut township_seed_hex = vec![0usize; townships.len()];
    for (ci, county) in COUNTIES.iter().enumerate() {
        let members: Vec<usize> = (0..townships.len())
            .filter(|&t| townships[t].parent_code == county.code)
            .collect();
        let mut rng = Rng::derive(seed, &format!("townships-{}", county.code));
        let seat_hex = county_seeds[ci].hex;
        let seeds = place_seeds(
            &lattice,
            &county_hexes[ci],
            seat_hex,
            &members
                .iter()
                .map(|&t| is_street(&townships[t].name))
                .collect::<Vec<_>>(),
            6.0,
            &mut rng,
        );
        let parts: Vec<Seed> = members
            .iter()
            .zip(&seeds)
            .map(|(&t, &hex)| Seed {
                hex,
                weight: if is_street(&townships[t].name) {
                    0.45
                } else {
                    1.0
                },
                quota: usize::MAX,
            })
            .collect();
        let mut local = vec![NONE; lattice.len()];
        partition::grow(
            &lattice,
            &parts,
            |h| county_of[h] == ci as u32,
            &noise,
            0.35,
            &mut local,
        );
        for &h in &county_hexes[ci] {
            township_of[h] = members[local[h] as usize] as u32;
        }
        for (k, &t) in members.iter().enumerate() {
            township_seed_hex[t] = seeds[k];
        }
    }
    let township_hexes = hexes_of(&township_of, townships.len());

    // Villages within each township.
    let mut village_of = vec![NONE; lattice.len()];
    let mut village_seed_hex = vec![0usize; villages.len()];
    for (ti, township) in townships.iter().enumerate() {
        let members: Vec<usize> = (0..villages.len())
            .filter(|&v| villages[v].parent_code == township.code)
            .collect();
        let mut rng = Rng::derive(seed, &format!("villages-{}", township.code));
        let seeds = place_seeds(
            &lattice,
            &township_hexes[ti],
            township_seed_hex[ti],
            &members
                .iter()
                .map(|&v| is_community(&villages[v].name))
                .collect::<Vec<_>>(),
            1.5,
            &mut rng,
        );
        let parts: Vec<Seed> = members
            .iter()
            .zip(&seeds)
            .map(|(&v, &hex)| Seed {
                hex,
                weight: if is_community(&villages[v].name) {
                    0.6
                } else {
                    1.0
                },
                quota: usize::MAX,
            })
            .collect();
        let mut local = vec![NONE; lattice.len()];
        partition::grow(
            &lattice,
            &parts,
            |h| township_of[h] == ti as u32,
            &noise,
            0.3,
            &mut local,
        );
        for &h in &township_hexes[ti] {
            village_of[h] = members[local[h] as usize] as u32;
        }
        for (k, &v) in members.iter().enumerate() {
            village_seed_hex[v] = seeds[k];
        }
    }
    let village_hexes = hexes_of(&village_of, villages.len());

    // Households and grid cells per village, allocated over the whole city so the small demo
    // is the same county as in the full one.
    let household_counts = allocate_households(&villages, &townships, seed);
    let grid_counts = allocate_grid_cells(&household_counts, &village_hexes);

    let in_scale = |county_code: &str| scale == Scale::Full || county_code == SMALL_COUNTY;

    // Units: counties, townships, villages (ids in that order).
    let mut county_id = HashMap::new();
    for (ci, county) in COUNTIES.iter().enumerate() {
        if !in_scale(county.code) {
            continue;
        }
        let id = new_unit_id();
        county_id.insert(county.code, id);
        units.push(Unit {
            id,
            level: AdminLevel::County,
            code: county.code.into(),
            name: county.name.into(),
            parent_id: Some(city_id),
            geom: lattice.dissolve(&county_hexes[ci]),
        });
    }
    let mut township_id = vec![0i64; townships.len()];
    for (ti, t) in townships.iter().enumerate() {
        let Some(&parent) = county_id.get(t.parent_code.as_str()) else {
            continue;
        };
        township_id[ti] = new_unit_id();
        units.push(Unit {
            id: township_id[ti],
            level: AdminLevel::Township,
            code: t.code.clone(),
            name: t.name.clone(),
            parent_id: Some(parent),
            geom: lattice.dissolve(&township_hexes[ti]),
        });
    }
    let township_index: HashMap<&str, usize> = townships
        .iter()
        .enumerate()
        .map(|(i, t)| (t.code.as_str(), i))
        .collect();
    let mut village_id = vec![0i64; villages.len()];
    for (vi, v) in villages.iter().enumerate() {
        let ti = township_index[v.parent_code.as_str()];
        if township_id[ti] == 0 {
            continue;
        }
        village_id[vi] = new_unit_id();
        units.push(Unit {
            id: village_id[vi],
            level: AdminLevel::Village,
            code: v.code.clone(),
            name: v.name.clone(),
            parent_id: Some(township_id[ti]),
            geom: lattice.dissolve(&village_hexes[vi]),
        });
    }

    let mut data = DemoData {
        scale,
        seed,
        reference,
        units,
        grid_cells: Vec::new(),
        households: Vec::new(),
        facilities: Vec::new(),
        workers: Vec::new(),
        incidents: Vec::new(),
        events: Vec::new(),
    };

    // Grid cells, households, workers and incidents, village by village.
    let extra_workers = allocate_extra_workers(&household_counts, &grid_counts);
    let county_name: HashMap<&str, &str> = COUNTIES.iter().map(|c| (c.code, c.name)).collect();
    let mut scratch = vec![NONE; lattice.len()];
    for (vi, village) in villages.iter().enumerate() {
        if village_id[vi] == 0 {
            continue;
        }
        let ti = township_index[village.parent_code.as_str()];
        let township = &townships[ti];
        let county_code = township.parent_code.as_str();
        let context = VillageContext {
            lattice: &lattice,
            noise: &noise,
            village,
            village_id: village_id[vi],
            township,
            township_id: township_id[ti],
            county_id: county_id[county_code],
            county_name: county_name[county_code],
            hexes: &village_hexes[vi],
            seed_hex: village_seed_hex[vi],
            households: household_counts[vi],
            grid_cells: grid_counts[vi],
            extra_workers: extra_workers[vi],
        };
        let mut rng = Rng::derive(seed, &format!("village-{}", village.code));
        populate_village(&context, &mut rng, &mut scratch, &mut data);
    }

    // Facilities, township by township.
    for (ti, township) in townships.iter().enumerate() {
        if township_id[ti] == 0 {
            continue;
        }
        let members: Vec<usize> = (0..villages.len())
            .filter(|&v| villages[v].parent_code == township.code)
            .collect();
        let mut rng = Rng::derive(seed, &format!("facilities-{}", township.code));
        add_facilities(
            &lattice,
            township,
            township_id[ti],
            township_seed_hex[ti],
            &members
                .iter()
                .map(|&v| {
                    (
                        &villages[v],
                        village_id[v],
                        village_seed_hex[v],
                        &village_hexes[v][..],
                    )
                })
                .collect::<Vec<_>>(),
            county_name[township.parent_code.as_str()],
            &mut rng,
            &mut data,
        );
    }
    for (ci, county) in COUNTIES.iter().enumerate() {
        let Some(&id) = county_id.get(county.code) else {
            continue;
        };
        let mut rng = Rng::derive(seed, &format!("county-facilities-{}", county.code));
        add_county_facilities(
            &lattice,
            county.name,
            id,
            county_seeds[ci].hex,
            &county_hexes[ci],
            ci,
            &mut rng,
            &mut data,
        );
    }
    data
}

/// Seeds for `flags.len()` parts of a region: flagged (urban) parts close to `centre`, the
/// rest spread over the region. Distinct hexagons, in the order of `flags`.
fn place_seeds(
    lattice: &Lattice,
    region: &[usize],
    centre: usize,
    flags: &[bool],
    urban_radius_km: f64,
    rng: &mut Rng,
) -> Vec<usize> {
    let (cx, cy) = lattice.centre_km(centre);
    let near: Vec<usize> = region
        .iter()
        .copied()
        .filter(|&h| {
            let (x, y) = lattice.centre_km(h);
            (x - cx).powi(2) + (y - cy).powi(2) <= urban_radius_km.powi(2)
        })
        .collect();
    let urban = flags.iter().filter(|&&f| f).count();
    let rural = flags.len() - urban;
    let mut urban_seeds = if urban > 0 && !near.is_empty() {
        partition::spread_seeds(lattice, &near, centre, urban.min(near.len()), rng)
    } else {
        Vec::new()
    };
    let mut taken: std::collections::HashSet<usize> = urban_seeds.iter().copied().collect();
    // The rural seeds spread over the region, starting from the urban ones so they keep away.
    let mut rural_seeds: Vec<usize> = Vec::new();
    if rural > 0 || urban_seeds.len() < urban {
        let first = urban_seeds.first().copied().unwrap_or(centre);
        let needed = urban_seeds.len().max(1) + rural + (urban - urban_seeds.len());
        let spread = partition::spread_seeds(lattice, region, first, needed.min(region.len()), rng);
        for h in spread {
            if taken.insert(h) {
                rural_seeds.push(h);
            }
        }
        if urban_seeds.is_empty() && rural > 0 && !taken.contains(&centre) {
            // With no urban parts, the first rural part sits at the centre (the seat).
            rural_seeds.insert(0, centre);
            rural_seeds.pop();
        }
    }
    while urban_seeds.len() < urban {
        urban_seeds.push(
            rural_seeds
                .pop()
                .expect("regions hold more hexagons than parts"),
        );
    }
    let (mut u, mut r) = (urban_seeds.into_iter(), rural_seeds.into_iter());
    flags
        .iter()
        .map(|&f| if f { u.next() } else { r.next() }.expect("one seed per part"))
        .collect()
}

/// Unowned hexagons that cannot reach the lattice's rim through other unowned hexagons are
/// holes inside the city: give them to a neighbouring county.
fn fill_enclosed_gaps(lattice: &Lattice, owner: &mut [u32]) {
    let mut outside = vec![false; owner.len()];
    let mut stack: Vec<usize> = (0..owner.len())
        .filter(|&h| owner[h] == NONE && lattice.neighbours(h).count() < 6)
        .collect();
    while let Some(h) = stack.pop() {
        if outside[h] || owner[h] != NONE {
            continue;
        }
        outside[h] = true;
        stack.extend(
            lattice
                .neighbours(h)
                .filter(|&n| !outside[n] && owner[n] == NONE),
        );
    }
    partition::absorb_unowned(lattice, |h| !outside[h], owner);
}

/// Households per village: communities are dense, rural villages smaller; scaled so the city
/// holds [`HOUSEHOLDS`].
fn allocate_households(villages: &[Division], townships: &[Division], seed: u64) -> Vec<usize> {
    let street: HashMap<&str, bool> = townships
        .iter()
        .map(|t| (t.code.as_str(), is_street(&t.name)))
        .collect();
    let raw: Vec<f64> = villages
        .iter()
        .map(|v| {
            let mut rng = Rng::derive(seed, &format!("size-{}", v.code));
            let base = match (is_community(&v.name), street[v.parent_code.as_str()]) {
                (true, true) => 2600.0,
                (true, false) => 1400.0,
                (false, _) => 480.0,
            };
            base * (0.35 * rng.normal()).exp()
        })
        .collect();
    apportion(
        &raw,
        HOUSEHOLDS,
        &vec![1; raw.len()],
        &vec![usize::MAX; raw.len()],
    )
}

/// Grid cells per village in proportion to households: at least one each, at most one per
/// hexagon, [`GRID_CELLS`] in all.
fn allocate_grid_cells(households: &[usize], village_hexes: &[Vec<usize>]) -> Vec<usize> {
    let weights: Vec<f64> = households.iter().map(|&h| h as f64).collect();
    let caps: Vec<usize> = village_hexes.iter().map(|h| h.len().max(1)).collect();
    apportion(&weights, GRID_CELLS, &vec![1; weights.len()], &caps)
}

/// Workers beyond one per grid cell, per village, going where households per cell are most.
fn allocate_extra_workers(households: &[usize], grid_cells: &[usize]) -> Vec<usize> {
    let weights: Vec<f64> = households.iter().map(|&h| h as f64).collect();
    let caps = grid_cells.to_vec();
    apportion(
        &weights,
        GRID_WORKERS - GRID_CELLS,
        &vec![0; weights.len()],
        &caps,
    )
}

/// Splits `total` into integer shares proportional to `weights`, each within `[min, cap]`
/// (largest-remainder method, iterated until the bounds hold).
fn apportion(weights: &[f64], total: usize, min: &[usize], cap: &[usize]) -> Vec<usize> {
    let n = weights.len();
    let mut shares = min.to_vec();
    let mut remaining = total - shares.iter().sum::<usize>();
    while remaining > 0 {
        let open: Vec<usize> = (0..n).filter(|&i| shares[i] < cap[i]).collect();
        let weight: f64 = open.iter().map(|&i| weights[i]).sum();
        if open.is_empty() || weight <= 0.0 {
            break;
        }
        let mut given = 0;
        let mut remainders: Vec<(f64, usize)> = Vec::new();
        for &i in &open {
            let exact = remaining as f64 * weights[i] / weight;
            let whole = (exact.floor() as usize).min(cap[i] - shares[i]);
            shares[i] += whole;
            given += whole;
            remainders.push((exact - exact.floor(), i));
        }
        remaining -= given;
        if remaining > 0 && given == 0 {
            remainders.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, i) in remainders.iter() {
                if remaining == 0 {
                    break;
                }
                if shares[i] < cap[i] {
                    shares[i] += 1;
                    remaining -= 1;
                }
            }
        }
    }
    shares
}

struct VillageContext<'a> {
    lattice: &'a Lattice,
    noise: &'a Noise,
    village: &'a Division,
    village_id: i64,
    township: &'a Division,
    township_id: i64,
    county_id: i64,
    county_name: &'a str,
    hexes: &'a [usize],
    seed_hex: usize,
    households: usize,
    grid_cells: usize,
    extra_workers: usize,
}

/// Cuts a village into grid cells and fills it with households, workers and incidents.
/// `scratch` is a lattice-sized array of [`NONE`], left as it was found.
fn populate_village(
    c: &VillageContext<'_>,
    rng: &mut Rng,
    scratch: &mut [u32],
    data: &mut DemoData,
) {
    let lattice = c.lattice;
    let short = short_village_name(&c.village.name);
    let community = is_community(&c.village.name);
    let address_prefix = format!(
        "云南省{CITY_NAME}{}{}{short}",
        c.county_name, c.township.name
    );

    // Grid cells: the village cut into `grid_cells` connected parts.
    let seeds: Vec<Seed> = partition::spread_seeds(lattice, c.hexes, c.seed_hex, c.grid_cells, rng)
        .into_iter()
        .map(|hex| Seed {
            hex,
            weight: 1.0,
            quota: usize::MAX,
        })
        .collect();
    let member: std::collections::HashSet<usize> = c.hexes.iter().copied().collect();
    let mut owner: HashMap<usize, u32> = HashMap::with_capacity(c.hexes.len());
    partition::grow(
        lattice,
        &seeds,
        |h| member.contains(&h),
        c.noise,
        0.25,
        scratch,
    );
    for &h in c.hexes {
        owner.insert(h, scratch[h]);
        scratch[h] = NONE;
    }
    let mut cell_hexes = vec![Vec::new(); seeds.len()];
    for &h in c.hexes {
        cell_hexes[owner[&h] as usize].push(h);
    }
    let first_cell_id = data.grid_cells.len() as i64 + 1;
    for (k, hexes) in cell_hexes.iter().enumerate() {
        data.grid_cells.push(GridCell {
            id: first_cell_id + k as i64,
            village_id: c.village_id,
            code: format!("{}-{:02}", c.village.code, k + 1),
            name: format!("{short}第{}网格", chinese_number(k + 1)),
            geom: lattice.dissolve(hexes),
        });
    }

    // Households: split among the cells, clustered in hamlets (rural) or spread (urban).
    let cell_weights: Vec<f64> = (0..seeds.len()).map(|_| rng.range_f64(0.7, 1.3)).collect();
    let per_cell = apportion(
        &cell_weights,
        c.households,
        &vec![1; seeds.len()],
        &vec![usize::MAX; seeds.len()],
    );
    let mut cell_households: Vec<Vec<(f64, f64)>> = vec![Vec::new(); seeds.len()];
    for (k, hexes) in cell_hexes.iter().enumerate() {
        let hamlets: Vec<usize> = (0..rng.between(1, 3)).map(|_| *rng.pick(hexes)).collect();
        for n in 0..per_cell[k] {
            let (x, y) = if community {
                random_point_in_hex(lattice, *rng.pick(hexes), rng)
            } else {
                let hamlet = hamlets[n % hamlets.len()];
                let (hx, hy) = lattice.centre_km(hamlet);
                let mut point = None;
                for _ in 0..12 {
                    let (px, py) = (hx + 0.22 * rng.normal(), hy + 0.22 * rng.normal());
                    if let Some(h) = lattice
                        .hex_at_km(px, py)
                        .filter(|h| owner.get(h) == Some(&(k as u32)))
                    {
                        point = Some(lattice.into_core(h, (px, py)));
                        break;
                    }
                }
                point.unwrap_or_else(|| random_point_in_hex(lattice, hamlet, rng))
            };
            let lonlat = lattice.to_lonlat(x, y);
            cell_households[k].push(lonlat);
            let detail = if community {
                format!(
                    "{}{}路{}号",
                    short.trim_end_matches("社区"),
                    rng.pick(&DIRECTIONS),
                    rng.between(1, 399)
                )
            } else {
                format!(
                    "{}组{}号",
                    n % hamlets.len() + 1 + 3 * (k % 4),
                    rng.between(1, 180)
                )
            };
            let head = Person {
                name: person_name(rng),
                id_number: id_number(&c.village.code[..6], rng),
                phone: phone_number(rng),
            };
            data.households.push(Household {
                id: data.households.len() as i64 + 1,
                address: format!("{address_prefix}{detail}"),
                size: household_size(rng),
                village_id: c.village_id,
                lonlat,
                grid_cell_code: data.grid_cells[first_cell_id as usize - 1 + k].code.clone(),
                head,
            });
        }
    }

    // Workers: one per cell, extra ones in the busiest cells.
    let mut workers_of_cell: Vec<Vec<i64>> = vec![Vec::new(); seeds.len()];
    let mut busiest: Vec<usize> = (0..seeds.len()).collect();
    busiest.sort_by(|&a, &b| per_cell[b].cmp(&per_cell[a]).then(a.cmp(&b)));
    let assignments = (0..seeds.len()).chain(busiest.into_iter().take(c.extra_workers));
    for k in assignments {
        let id = data.workers.len() as i64 + 1;
        let (status, seen_minutes) = match rng.weighted(&[60.0, 25.0, 15.0]) {
            0 => ("available", rng.between(0, 30)),
            1 => ("busy", rng.between(0, 30)),
            _ => ("off_duty", rng.between(8 * 60, 20 * 60)),
        };
        let (x, y) = random_point_in_hex(lattice, *rng.pick(&cell_hexes[k]), rng);
        data.workers.push(Worker {
            id,
            name: person_name(rng),
            phone: phone_number(rng),
            status,
            lonlat: lattice.to_lonlat(x, y),
            last_seen_at: data.reference - Duration::minutes(seen_minutes),
            grid_cell_ids: vec![first_cell_id + k as i64],
        });
        workers_of_cell[k].push(id);
    }

    // Incidents: about INCIDENTS_PER_YEAR city-wide over HISTORY_DAYS, where people live.
    let expected =
        (INCIDENTS_PER_YEAR as f64) * (HISTORY_DAYS as f64 / 365.0) * c.households as f64
            / HOUSEHOLDS as f64;
    let count = expected.floor() as usize + usize::from(rng.chance(expected.fract()));
    for _ in 0..count {
        let k = rng.weighted(&per_cell.iter().map(|&n| n as f64).collect::<Vec<_>>());
        let place = *rng.pick(&cell_households[k]);
        let worker = *rng.pick(&workers_of_cell[k]);
        add_incident(
            c,
            &short,
            first_cell_id + k as i64,
            place,
            worker,
            rng,
            data,
        );
    }
}

fn add_incident(
    c: &VillageContext<'_>,
    place_name: &str,
    grid_cell_id: i64,
    lonlat: (f64, f64),
    worker: i64,
    rng: &mut Rng,
    data: &mut DemoData,
) {
    let id = data.incidents.len() as i64 + 1;
    let (category, category_name, _) = CATEGORIES[rng.weighted(&CATEGORIES.map(|c| c.2))];
    let severity_index = rng.weighted(&SEVERITIES.map(|s| s.1));
    let severity = SEVERITIES[severity_index].0;
    let reported_at = data.reference - Duration::minutes(rng.between(10, HISTORY_DAYS * 24 * 60));
    let worker_actor = format!("grid_worker:{worker}");

    let event = |at, kind, status, tier, actor: &str, note: &str| Event {
        incident_id: id,
        at,
        kind,
        status,
        tier,
        actor: actor.to_owned(),
        note: note.to_owned(),
    };
    let mut timeline = vec![event(
        reported_at,
        "reported",
        "reported",
        "village",
        &worker_actor,
        "",
    )];
    let mut at = reported_at;
    let mut step = |minutes_lo: i64, minutes_hi: i64, rng: &mut Rng| {
        at += Duration::minutes(rng.between(minutes_lo, minutes_hi));
        at
    };
    let mut resolved_tier = None;
    if rng.chance(0.03) {
        let (kind, status) = if rng.chance(0.5) {
            ("rejected", "rejected")
        } else {
            ("marked_duplicate", "duplicate")
        };
        timeline.push(event(
            step(10, 240, rng),
            kind,
            status,
            "village",
            "dispatcher",
            "",
        ));
    } else {
        timeline.push(event(
            step(5, 120, rng),
            "assigned",
            "assigned",
            "village",
            "dispatcher",
            "",
        ));
        timeline.push(event(
            step(5, 60, rng),
            "accepted",
            "accepted",
            "village",
            &worker_actor,
            "",
        ));
        timeline.push(event(
            step(10, 240, rng),
            "started",
            "in_progress",
            "village",
            &worker_actor,
            "",
        ));
        let final_tier = rng.weighted(&RESOLUTION_TIERS[severity_index]);
        for tier in TIERS.iter().take(final_tier + 1).skip(1) {
            let note = format!("升级至{}处理", tier_name(tier));
            timeline.push(event(
                step(ESCALATE_MINUTES.0, ESCALATE_MINUTES.1, rng),
                "escalated",
                "in_progress",
                tier,
                "system",
                &note,
            ));
        }
        let tier = TIERS[final_tier];
        let resolve_minutes = RESOLVE_MINUTES[final_tier];
        let resolved = step(resolve_minutes.0, resolve_minutes.1, rng);
        timeline.push(event(
            resolved,
            "resolved",
            "resolved",
            tier,
            &worker_actor,
            "调解成功",
        ));
        timeline.push(event(
            step(24 * 60, 3 * 24 * 60, rng),
            "closed",
            "closed",
            tier,
            "dispatcher",
            "",
        ));
        resolved_tier = Some(tier);
    }
    // Only what has happened by the reference time is history.
    timeline.retain(|e| e.at <= data.reference);
    let last = timeline.last().expect("the report itself is in the past");
    let resolved_at = timeline.iter().find(|e| e.kind == "resolved").map(|e| e.at);
    let closed_at = timeline.iter().find(|e| e.kind == "closed").map(|e| e.at);
    let (status, tier, updated_at) = (last.status, last.tier, last.at);
    let assigned = timeline.iter().any(|e| e.kind == "assigned");
    let reporter_name = person_name(rng);
    let reporter_phone = phone_number(rng);
    data.incidents.push(Incident {
        id,
        category,
        severity,
        status,
        tier,
        resolved_tier: resolved_at.and(resolved_tier),
        title: format!("{place_name}{category_name}"),
        description: format!(
            "{}{place_name}群众反映{category_name},请网格员核实处理。",
            c.township.name
        ),
        lonlat,
        grid_cell_id,
        village_id: c.village_id,
        township_id: c.township_id,
        county_id: c.county_id,
        reported_at,
        updated_at,
        resolved_at,
        closed_at,
        assignee_id: assigned.then_some(worker),
        reporter_name,
        reporter_phone,
    });
    data.events.extend(timeline);
}

fn tier_name(tier: &str) -> &'static str {
    match tier {
        "village" => "村(社区)",
        "township" => "乡镇(街道)",
        "county" => "县(区)",
        _ => "市",
    }
}

#[allow(clippy::too_many_arguments)]
fn add_facilities(
    lattice: &Lattice,
    township: &Division,
    township_id: i64,
    seat_hex: usize,
    villages: &[(&Division, i64, usize, &[usize])],
    county_name: &str,
    rng: &mut Rng,
    data: &mut DemoData,
) {
    let address = format!("云南省{CITY_NAME}{county_name}{}", township.name);
    let mut add = |kind: FacilityKind, name: String, unit: i64, hex: usize, rng: &mut Rng| {
        let (x, y) = random_point_in_hex(lattice, hex, rng);
        data.facilities.push(Facility {
            id: data.facilities.len() as i64 + 1,
            kind,
            name,
            address: address.clone(),
            admin_unit_id: unit,
            lonlat: lattice.to_lonlat(x, y),
        });
    };
    let t = &township.name;
    add(
        FacilityKind::GovernanceCentre,
        format!("{t}综治维稳信访中心"),
        township_id,
        seat_hex,
        rng,
    );
    add(
        FacilityKind::ServiceStation,
        format!("{t}为民服务站"),
        township_id,
        seat_hex,
        rng,
    );
    add(
        FacilityKind::MediationOrganisation,
        format!("{t}人民调解委员会"),
        township_id,
        seat_hex,
        rng,
    );
    add(
        FacilityKind::PoliceStation,
        format!("{t}派出所"),
        township_id,
        seat_hex,
        rng,
    );
    add(
        FacilityKind::Hospital,
        format!("{t}卫生院"),
        township_id,
        seat_hex,
        rng,
    );
    add(
        FacilityKind::School,
        format!("{t}中学"),
        township_id,
        seat_hex,
        rng,
    );
    // Migrant service stations: one per township, a second where towns are large.
    add(
        FacilityKind::MigrantServiceStation,
        format!("{t}流动人口综合服务站"),
        township_id,
        seat_hex,
        rng,
    );
    if villages.len() >= 12 {
        add(
            FacilityKind::MigrantServiceStation,
            format!("{t}流动人口综合服务站第二站"),
            township_id,
            seat_hex,
            rng,
        );
    }
    for &(village, village_id, village_seed, hexes) in villages {
        let short = short_village_name(&village.name);
        add(
            FacilityKind::MediationOrganisation,
            format!("{short}人民调解委员会"),
            village_id,
            village_seed,
            rng,
        );
        if rng.chance(0.7) {
            let hex = *rng.pick(hexes);
            add(
                FacilityKind::School,
                format!("{short}小学"),
                village_id,
                hex,
                rng,
            );
        }
        if rng.chance(0.2) {
            let hex = *rng.pick(hexes);
            add(
                FacilityKind::MediationOrganisation,
                format!("{short}网格调解室"),
                village_id,
                hex,
                rng,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_county_facilities(
    lattice: &Lattice,
    county_name: &str,
    county_id: i64,
    seat_hex: usize,
    hexes: &[usize],
    county_index: usize,
    rng: &mut Rng,
    data: &mut DemoData,
) {
    let address = format!("云南省{CITY_NAME}{county_name}");
    let mut add = |kind: FacilityKind, name: String, hex: usize, rng: &mut Rng| {
        let (x, y) = random_point_in_hex(lattice, hex, rng);
        data.facilities.push(Facility {
            id: data.facilities.len() as i64 + 1,
            kind,
            name,
            address: address.clone(),
            admin_unit_id: county_id,
            lonlat: lattice.to_lonlat(x, y),
        });
    };
    add(
        FacilityKind::Hospital,
        format!("{county_name}人民医院"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::Hospital,
        format!("{county_name}中医医院"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::PoliceStation,
        format!("{county_name}公安局"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::MediationOrganisation,
        format!("{county_name}医疗纠纷人民调解委员会"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::MediationOrganisation,
        format!("{county_name}交通事故纠纷人民调解委员会"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::MigrantServiceStation,
        format!("{county_name}流动人口服务管理中心"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::School,
        format!("{county_name}第一中学"),
        seat_hex,
        rng,
    );
    add(
        FacilityKind::School,
        format!("{county_name}职业高级中学"),
        seat_hex,
        rng,
    );
    // Seven resettlement and community-correction work bases city-wide (the source document).
    if county_index < 7 {
        let hex = *rng.pick(hexes);
        add(
            FacilityKind::ResettlementBase,
            format!("{county_name}过渡性安置基地"),
            hex,
            rng,
        );
    }
}

/// A uniformly random point in a hexagon's core (inside its outline whatever the jitter), km.
fn random_point_in_hex(lattice: &Lattice, hex: usize, rng: &mut Rng) -> (f64, f64) {
    let (cx, cy) = lattice.centre_km(hex);
    let r = lattice.size_km() * hexgrid::CORE_RADIUS * rng.f64().sqrt();
    let angle = rng.range_f64(0.0, std::f64::consts::TAU);
    (cx + r * angle.cos(), cy + r * angle.sin())
}

fn household_size(rng: &mut Rng) -> i16 {
    // About 3.1 people a household, 1 to 8.
    [1, 2, 3, 4, 5, 6, 7, 8][rng.weighted(&[10.0, 24.0, 28.0, 20.0, 10.0, 5.0, 2.0, 1.0])]
}

/// A mobile number: 1, then 3, 5, 8 or 9, then nine digits.
pub fn phone_number(rng: &mut Rng) -> String {
    format!(
        "1{}{:09}",
        rng.pick(&["3", "5", "8", "9"]),
        rng.below(1_000_000_000)
    )
}

/// A resident ID number registered in `county_code`, born 1940–2005.
fn id_number(county_code: &str, rng: &mut Rng) -> String {
    let first17 = format!(
        "{county_code}{}{:02}{:02}{:03}",
        rng.between(1940, 2005),
        rng.between(1, 12),
        rng.between(1, 28),
        rng.between(1, 999)
    );
    let check = wangge_domain::personal::id_check_digit(&first17);
    format!("{first17}{check}")
}

pub fn person_name(rng: &mut Rng) -> String {
    let surname = rng.pick(SURNAMES);
    if rng.chance(0.6) {
        format!("{surname}{}{}", rng.pick(GIVEN), rng.pick(GIVEN))
    } else {
        format!("{surname}{}", rng.pick(GIVEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_hits_the_total_within_bounds() {
        let shares = apportion(
            &[1.0, 2.0, 3.0, 0.5],
            100,
            &[1, 1, 1, 1],
            &[usize::MAX, 30, usize::MAX, usize::MAX],
        );
        assert_eq!(shares.iter().sum::<usize>(), 100);
        assert!(shares[1] <= 30);
        assert!(shares.iter().all(|&s| s >= 1));
    }
}

#[cfg(test)]
mod escalation_tests {
    use super::*;

    #[test]
    fn going_up_tier_by_tier_ends_at_the_historys_final_tiers() {
        for (severity, shares) in RESOLUTION_TIERS.iter().enumerate() {
            let total: f64 = shares.iter().sum();
            let mut reached = 1.0;
            for (tier, share) in shares.iter().enumerate() {
                let up = escalation_chance(severity, tier);
                assert!((reached * (1.0 - up) - share / total).abs() < 1e-9);
                reached *= up;
            }
            assert_eq!(escalation_chance(severity, TIERS.len() - 1), 0.0);
        }
        let low: f64 = SEVERITIES
            .iter()
            .zip(RESOLUTION_TIERS)
            .map(|((_, weight), shares)| weight / 100.0 * (shares[0] + shares[1]) / 100.0)
            .sum();
        assert!(low > 0.85 && low < 0.87, "{low}");
    }
}
