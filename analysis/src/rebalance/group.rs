//! A group of units partitioned on its own: one village when cells nest in villages, or
//! every unit when they do not. Units of a group are a contiguous range of the graph (the
//! graph is sorted by village), its adjacency the edges that may carry contiguity.

use super::units::{EdgeKind, UnitGraph};

/// Units `start..end` of a graph and their adjacency, in local indices `0..len`.
#[derive(Debug, Clone)]
pub(crate) struct Group<'g> {
    pub(crate) graph: &'g UnitGraph,
    pub(crate) start: usize,
    offsets: Vec<usize>,
    neighbours: Vec<(u32, f64)>,
}

impl<'g> Group<'g> {
    /// Units `start..end`, joined by village edges and bridges, and with `cross` by the
    /// edges between villages too.
    pub(crate) fn new(graph: &'g UnitGraph, start: usize, end: usize, cross: bool) -> Self {
        let n = end - start;
        let first = graph.edges.partition_point(|e| (e.a as usize) < start);
        let last = graph.edges.partition_point(|e| (e.a as usize) < end);
        let edges: Vec<(u32, u32, f64)> = graph.edges[first..last]
            .iter()
            .filter(|e| (e.b as usize) < end && (cross || e.kind != EdgeKind::CrossVillage))
            .map(|e| {
                (
                    (e.a as usize - start) as u32,
                    (e.b as usize - start) as u32,
                    e.length_m,
                )
            })
            .collect();
        let mut degree = vec![0usize; n + 1];
        for &(a, b, _) in &edges {
            degree[a as usize + 1] += 1;
            degree[b as usize + 1] += 1;
        }
        for i in 0..n {
            degree[i + 1] += degree[i];
        }
        let offsets = degree;
        let mut fill = offsets.clone();
        let mut neighbours = vec![(0u32, 0.0f64); edges.len() * 2];
        for &(a, b, l) in &edges {
            neighbours[fill[a as usize]] = (b, l);
            fill[a as usize] += 1;
            neighbours[fill[b as usize]] = (a, l);
            fill[b as usize] += 1;
        }
        for i in 0..n {
            neighbours[offsets[i]..offsets[i + 1]].sort_by_key(|x| x.0);
        }
        Group {
            graph,
            start,
            offsets,
            neighbours,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Local unit `u`'s neighbours and shared boundary (m), in index order.
    pub(crate) fn neighbours(&self, u: usize) -> &[(u32, f64)] {
        &self.neighbours[self.offsets[u]..self.offsets[u + 1]]
    }

    pub(crate) fn unit(&self, u: usize) -> &'g super::units::Unit {
        &self.graph.units[self.start + u]
    }
}

/// Matches parts to current cells one to one, greedily by the households they share (most
/// first; ties to the lower part, then the lower cell). `overlap` lists (part, cell,
/// households); the answer holds each part's cell, `None` for a part left without one.
pub(crate) fn match_cells(mut overlap: Vec<(u32, u32, u64)>, parts: usize) -> Vec<Option<u32>> {
    overlap.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let mut cell_of = vec![None; parts];
    let mut taken = std::collections::HashSet::new();
    for (part, cell, households) in overlap {
        if households > 0 && cell_of[part as usize].is_none() && !taken.contains(&cell) {
            cell_of[part as usize] = Some(cell);
            taken.insert(cell);
        }
    }
    cell_of
}

/// The households each (part, current cell) pair shares, given the part of each local
/// unit.
pub(crate) fn overlap(group: &Group<'_>, part: &[u32]) -> Vec<(u32, u32, u64)> {
    let mut m: std::collections::HashMap<(u32, u32), u64> = Default::default();
    for (u, &p) in part.iter().enumerate() {
        for &(cell, households) in &group.unit(u).households_by_cell {
            *m.entry((p, cell)).or_default() += u64::from(households);
        }
    }
    m.into_iter().map(|((p, c), h)| (p, c, h)).collect()
}
