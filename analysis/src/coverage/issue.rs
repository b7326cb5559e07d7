//! What validation answers: one [`Issue`] per problem, with its kind, the cells and village
//! it concerns, where it is and how big, and a message in Chinese or English.

use std::cmp::Ordering;

use geo::{Geometry, Point};

/// The rule an issue breaks. The order here is the order issues are sorted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueKind {
    /// Not a valid OGC polygon: self-intersection, too few points, a hole outside its shell,
    /// non-finite or out-of-range coordinates… `detail` names the reason. A cell with invalid
    /// geometry takes part in no other rule. `measure`: how many places show the reason.
    InvalidGeometry,
    /// The cell's village key names no village given, or most of the cell lies in another
    /// village. `measure`: m² of the cell outside its own village.
    WrongVillage,
    /// Part of the cell lies outside its village. `measure`: that part's area, m².
    OutsideVillage,
    /// Two cells' interiors overlap. `measure`: the overlap's area, m².
    Overlap,
    /// A hole in the union of a village's cells: enclosed by cells, covered by none.
    /// `measure`: its area, m².
    Gap,
    /// Village area reaching the village's outline that no cell covers. `measure`: m².
    Uncovered,
    /// A thin or very uncompact cell (or polygon part of one). `measure`: the width of the
    /// rectangle with its area and perimeter, m.
    Sliver,
    /// Two cells' boundaries near each other do not share their vertices and segments
    /// exactly. `measure`: total length of the offending segments, m.
    UnmatchedEdge,
    /// A cell made of more than one polygon. `measure`: the area of every part but the
    /// largest, m².
    Disconnected,
}

impl IssueKind {
    /// The stable snake_case code clients and logs key on.
    pub fn code(&self) -> &'static str {
        match self {
            IssueKind::InvalidGeometry => "invalid_geometry",
            IssueKind::WrongVillage => "wrong_village",
            IssueKind::OutsideVillage => "outside_village",
            IssueKind::Overlap => "overlap",
            IssueKind::Gap => "gap",
            IssueKind::Uncovered => "uncovered",
            IssueKind::Sliver => "sliver",
            IssueKind::UnmatchedEdge => "unmatched_edge",
            IssueKind::Disconnected => "disconnected",
        }
    }

    /// Every kind, in sort order.
    pub const ALL: [IssueKind; 9] = [
        IssueKind::InvalidGeometry,
        IssueKind::WrongVillage,
        IssueKind::OutsideVillage,
        IssueKind::Overlap,
        IssueKind::Gap,
        IssueKind::Uncovered,
        IssueKind::Sliver,
        IssueKind::UnmatchedEdge,
        IssueKind::Disconnected,
    ];
}

/// One problem in a grid plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub kind: IssueKind,
    /// The cells concerned, by the keys passed in, ascending (empty for a village's own
    /// problem, such as an invalid village outline or area no cell covers near no cell).
    pub cells: Vec<i64>,
    /// The village concerned: the cells' village, or the village whose outline is at fault.
    pub village: Option<i64>,
    /// A representative point of the problem, longitude/latitude.
    pub location: Point<f64>,
    /// Exactly where, lon/lat: the overlap, gap or outside polygon, the offending segments
    /// (a `MultiLineString`), the invalid places (a `MultiPoint`), the sliver or stray parts.
    pub geometry: Option<Geometry<f64>>,
    /// The size of the problem, in the unit [`IssueKind`] gives for the kind (m or m²).
    pub measure: f64,
    /// Machine-readable detail: reason codes (`self_intersection`, `near_miss,unnoded`…) or
    /// `name=value` pairs separated by `;`.
    pub detail: String,
}

/// Whose name a message needs: callers map keys to display codes or names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    Cell(i64),
    Village(i64),
}

/// Names by key, as given: `12`, not a display code.
pub fn key_name(n: Named) -> String {
    match n {
        Named::Cell(k) | Named::Village(k) => k.to_string(),
    }
}

impl Issue {
    /// The issue in Chinese, e.g. "网格 12 与网格 15 重叠 83 平方米"; `name` turns keys into
    /// what the reader knows them by ([`key_name`] keeps the keys).
    pub fn message_zh(&self, name: impl Fn(Named) -> String) -> String {
        let cells = |sep: &str| {
            self.cells
                .iter()
                .map(|&k| name(Named::Cell(k)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let village = self
            .village
            .map(|v| name(Named::Village(v)))
            .unwrap_or_default();
        let m = number(self.measure);
        match self.kind {
            IssueKind::InvalidGeometry => {
                let what = if self.cells.is_empty() {
                    format!("村 {village} 的边界")
                } else {
                    format!("网格 {}", cells("、"))
                };
                format!("{what}几何图形无效：{}", reason_zh(&self.detail))
            }
            IssueKind::WrongVillage => match detail_value(&self.detail, "lies_in_village") {
                Some(other) => {
                    let other = other
                        .parse()
                        .map(|k| name(Named::Village(k)))
                        .unwrap_or_else(|_| other.to_string());
                    format!(
                        "网格 {} 大部分位于村 {other}，而非所属的村 {village}",
                        cells("、")
                    )
                }
                None => format!("网格 {} 所属的村 {village} 不存在", cells("、")),
            },
            IssueKind::OutsideVillage => {
                format!(
                    "网格 {} 超出所属村 {village} 的边界 {m} 平方米",
                    cells("、")
                )
            }
            IssueKind::Overlap => format!("网格 {} 重叠 {m} 平方米", cells(" 与网格 ")),
            IssueKind::Gap => {
                format!(
                    "村 {village} 内网格 {} 之间有 {m} 平方米的空隙",
                    cells("、")
                )
            }
            IssueKind::Uncovered if self.cells.is_empty() => {
                format!("村 {village} 有 {m} 平方米未被任何网格覆盖")
            }
            IssueKind::Uncovered => format!(
                "村 {village} 在网格 {} 旁有 {m} 平方米未被任何网格覆盖",
                cells("、")
            ),
            IssueKind::Sliver => format!(
                "网格 {} 过于狭长：宽约 {m} 米，紧凑度 {}",
                cells("、"),
                detail_value(&self.detail, "polsby_popper").unwrap_or("?")
            ),
            IssueKind::UnmatchedEdge => format!(
                "网格 {} 的共用边不一致（{}），共 {m} 米",
                cells(" 与网格 "),
                self.detail
                    .split(',')
                    .map(reason_zh)
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            IssueKind::Disconnected => format!(
                "网格 {} 由 {} 个互不相连的部分组成（较小部分共 {m} 平方米）",
                cells("、"),
                detail_value(&self.detail, "parts").unwrap_or("?")
            ),
        }
    }

    /// The issue in English, e.g. "cells 12 and 15 overlap by 83 m²".
    pub fn message_en(&self, name: impl Fn(Named) -> String) -> String {
        let cells = |sep: &str| {
            self.cells
                .iter()
                .map(|&k| name(Named::Cell(k)))
                .collect::<Vec<_>>()
                .join(sep)
        };
        let village = self
            .village
            .map(|v| name(Named::Village(v)))
            .unwrap_or_default();
        let m = number(self.measure);
        match self.kind {
            IssueKind::InvalidGeometry => {
                let what = if self.cells.is_empty() {
                    format!("the outline of village {village}")
                } else {
                    format!("cell {}", cells(", "))
                };
                format!("{what} is not a valid polygon: {}", reason_en(&self.detail))
            }
            IssueKind::WrongVillage => match detail_value(&self.detail, "lies_in_village") {
                Some(other) => {
                    let other = other
                        .parse()
                        .map(|k| name(Named::Village(k)))
                        .unwrap_or_else(|_| other.to_string());
                    format!(
                        "cell {} lies mostly in village {other}, not in its village {village}",
                        cells(", ")
                    )
                }
                None => format!("cell {}: village {village} does not exist", cells(", ")),
            },
            IssueKind::OutsideVillage => format!(
                "cell {} extends {m} m² outside its village {village}",
                cells(", ")
            ),
            IssueKind::Overlap => format!("cells {} overlap by {m} m²", cells(" and ")),
            IssueKind::Gap => format!(
                "a gap of {m} m² between cells {} in village {village}",
                cells(", ")
            ),
            IssueKind::Uncovered if self.cells.is_empty() => {
                format!("{m} m² of village {village} is covered by no cell")
            }
            IssueKind::Uncovered => format!(
                "{m} m² of village {village} next to cells {} is covered by no cell",
                cells(", ")
            ),
            IssueKind::Sliver => format!(
                "cell {} is a sliver: about {m} m wide, compactness {}",
                cells(", "),
                detail_value(&self.detail, "polsby_popper").unwrap_or("?")
            ),
            IssueKind::UnmatchedEdge => format!(
                "cells {} do not share their common boundary exactly ({}), {m} m in all",
                cells(" and "),
                self.detail
                    .split(',')
                    .map(reason_en)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            IssueKind::Disconnected => format!(
                "cell {} is made of {} separate parts (the smaller ones {m} m² in all)",
                cells(", "),
                detail_value(&self.detail, "parts").unwrap_or("?")
            ),
        }
    }
}

/// The order validation answers in: kind, cells, village, detail, then place and size, so
/// equal inputs give equal lists.
pub(crate) fn issue_order(a: &Issue, b: &Issue) -> Ordering {
    a.kind
        .cmp(&b.kind)
        .then_with(|| a.cells.cmp(&b.cells))
        .then_with(|| a.village.cmp(&b.village))
        .then_with(|| a.detail.cmp(&b.detail))
        .then_with(|| a.location.x().total_cmp(&b.location.x()))
        .then_with(|| a.location.y().total_cmp(&b.location.y()))
        .then_with(|| a.measure.total_cmp(&b.measure))
}

/// The value of `name=value` in a `;`-separated detail.
fn detail_value<'a>(detail: &'a str, name: &str) -> Option<&'a str> {
    detail
        .split(';')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

/// Whole numbers from 10 up, one decimal below.
fn number(x: f64) -> String {
    if x.abs() >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn reason_zh(code: &str) -> String {
    match code {
        "empty" => "没有任何多边形".into(),
        "non_finite_coordinate" => "坐标不是有限数".into(),
        "coordinate_out_of_range" => "坐标超出经纬度范围".into(),
        "too_few_points" => "环的不同顶点少于 3 个".into(),
        "self_intersection" => "边界自相交".into(),
        "rings_cross" => "内外环相交".into(),
        "rings_touch_on_line" => "内外环沿线段接触".into(),
        "hole_outside_shell" => "洞不在外环之内".into(),
        "nested_holes" => "洞嵌套在另一个洞中".into(),
        "parts_overlap" => "各部分相互重叠".into(),
        "parts_touch_on_line" => "各部分沿线段接触".into(),
        "near_miss" => "边界相近但不重合".into(),
        "misaligned" => "共线但顶点不一致".into(),
        "unnoded" => "顶点落在对方边上而非对方顶点".into(),
        "crosses" => "边界穿入对方内部".into(),
        "interior" => "边界位于对方内部".into(),
        other => other.into(),
    }
}

fn reason_en(code: &str) -> String {
    match code {
        "empty" => "no polygon".into(),
        "non_finite_coordinate" => "a coordinate is not a finite number".into(),
        "coordinate_out_of_range" => "a coordinate is outside longitude/latitude range".into(),
        "too_few_points" => "a ring has fewer than 3 distinct points".into(),
        "self_intersection" => "a ring intersects itself".into(),
        "rings_cross" => "rings cross".into(),
        "rings_touch_on_line" => "rings touch along a line".into(),
        "hole_outside_shell" => "a hole lies outside its shell".into(),
        "nested_holes" => "a hole lies inside another hole".into(),
        "parts_overlap" => "parts overlap".into(),
        "parts_touch_on_line" => "parts touch along a line".into(),
        "near_miss" => "boundaries close but not coincident".into(),
        "misaligned" => "collinear with different vertices".into(),
        "unnoded" => "a vertex lies on the other's edge but is not its vertex".into(),
        "crosses" => "a boundary crosses into the other cell".into(),
        "interior" => "a boundary lies inside the other cell".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(kind: IssueKind, cells: Vec<i64>, measure: f64, detail: &str) -> Issue {
        Issue {
            kind,
            cells,
            village: Some(3),
            location: Point::new(102.5, 24.35),
            geometry: None,
            measure,
            detail: detail.into(),
        }
    }

    #[test]
    fn coverage_codes_are_unique_snake_case() {
        let codes: std::collections::BTreeSet<_> =
            IssueKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), IssueKind::ALL.len());
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'))
        );
    }

    #[test]
    fn coverage_messages() {
        let overlap = issue(IssueKind::Overlap, vec![12, 15], 83.2, "");
        assert_eq!(
            overlap.message_zh(key_name),
            "网格 12 与网格 15 重叠 83 平方米"
        );
        assert_eq!(
            overlap.message_en(key_name),
            "cells 12 and 15 overlap by 83 m²"
        );
        let codes = |n: Named| match n {
            Named::Cell(k) => format!("G{k:03}"),
            Named::Village(k) => format!("V{k}"),
        };
        let outside = issue(IssueKind::OutsideVillage, vec![7], 25.0, "");
        assert_eq!(
            outside.message_zh(codes),
            "网格 G007 超出所属村 V3 的边界 25 平方米"
        );
        let wrong = issue(IssueKind::WrongVillage, vec![7], 900.0, "lies_in_village=5");
        assert_eq!(
            wrong.message_en(codes),
            "cell G007 lies mostly in village V5, not in its village V3"
        );
        let edge = issue(
            IssueKind::UnmatchedEdge,
            vec![1, 2],
            4.25,
            "near_miss,unnoded",
        );
        assert_eq!(
            edge.message_zh(key_name),
            "网格 1 与网格 2 的共用边不一致（边界相近但不重合、顶点落在对方边上而非对方顶点），共 4.2 米"
        );
        let sliver = issue(
            IssueKind::Sliver,
            vec![4],
            3.2,
            "polsby_popper=0.031;width_m=3.2",
        );
        assert_eq!(
            sliver.message_zh(key_name),
            "网格 4 过于狭长：宽约 3.2 米，紧凑度 0.031"
        );
    }

    #[test]
    fn coverage_order_is_kind_then_keys() {
        let mut v = [
            issue(IssueKind::Sliver, vec![1], 1.0, ""),
            issue(IssueKind::Overlap, vec![2, 3], 1.0, ""),
            issue(IssueKind::Overlap, vec![1, 9], 1.0, ""),
        ];
        v.sort_by(issue_order);
        let keys: Vec<_> = v.iter().map(|i| (i.kind, i.cells.clone())).collect();
        assert_eq!(
            keys,
            vec![
                (IssueKind::Overlap, vec![1, 9]),
                (IssueKind::Overlap, vec![2, 3]),
                (IssueKind::Sliver, vec![1]),
            ]
        );
    }
}
