//! Pure spatial algorithms for wangge.
//!
//! Hotspot analysis (issue 18): [`weights`] builds sparse spatial weights (polygon
//! contiguity, k nearest and distance-band neighbours on the sphere, H3 grid rings) and
//! parses their text form ([`weights::WeightsSpec`]); [`gi_star`] computes Getis-Ord Gi*
//! with analytic and conditional-permutation p-values, matching PySAL esda's z-scores;
//! [`fdr`] is the Benjamini–Hochberg procedure and [`confidence_bins`] ArcGIS's `Gi_Bin`
//! classes; [`feature_gistar`] runs Gi* over a GeoJSON feature collection and writes the
//! results back as properties or CSV. [`local_moran`] is Anselin's local Moran's I with
//! quadrants; [`mann_kendall`] the trend test; [`emerging`] ArcGIS's emerging hot spot
//! categories over a space-time cube (space-time Gi*, per-step bins, the Mann-Kendall trend
//! of each location's z-scores). [`normal`] holds the normal tail probabilities they share.
//! [`hexbin`] counts points in H3 hexagons, the heat map's aggregate.
//!
//! Dispatch ranking: [`dispatch`] answers which grid worker should take an incident, from an
//! in-memory index kept in step with committed positions. [`geocode`] reads Chinese
//! addresses as people write them into candidate administrative units and a canonical
//! house-number detail: the first half of the address geocoder. [`coverage`] validates a grid
//! plan's cells against each other and their villages (validity, overlaps, gaps, slivers,
//! shared edges that match exactly, as JTS's `CoverageValidator`). [`rebalance`] redraws grid
//! cells when workload shifts: H3 units clipped to villages, partitioned into contiguous,
//! balanced cells nested in villages that move as few households as they can.
//!
//! Like `wangge-tiles`, the crate does no I/O: callers hand it plain data and get plain data
//! back, which keeps every algorithm testable and benchmarkable on its own. Distances are in
//! metres on the sphere unless a function says otherwise; coordinates are WGS-84
//! longitude/latitude.

pub mod conditional_permutation;
pub mod confidence_bins;
pub mod coverage;
pub mod dispatch;
pub mod emerging;
pub mod fdr;
pub mod feature_gistar;
pub mod geocode;
pub mod gi_star;
pub mod hexbin;
pub mod local_moran;
pub mod mann_kendall;
pub mod normal;
pub mod rebalance;
mod rng;
pub mod sphere;
pub mod weights;

pub use conditional_permutation::MAX_PERMUTATIONS;
