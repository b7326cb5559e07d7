//! Reading Well-Known Binary (WKB) geometries into tile-space [`TileGeometry`].
//!
//! This reads what PostGIS returns for `ST_AsBinary(ST_AsMVTGeom(...))`: OGC/ISO WKB in
//! either byte order, with coordinates already in tile space. `ST_AsEWKB` output, which may
//! carry an SRID, is accepted too (the SRID is skipped), as are Z/M ordinates (ignored: tiles
//! are 2D). Coordinates are rounded to the nearest integer.
//!
//! Input is treated as untrusted: every count is checked against the bytes actually left
//! before anything is allocated, nesting depth is bounded, and truncated input, trailing
//! bytes and unknown types are errors, never panics.
//!
//! A `GeometryCollection` is flattened into the single kind an MVT feature can hold: its
//! polygonal parts if it has any, else its lines, else its points. Empty geometries (and
//! collections holding only empty parts) read as `Ok(None)`.
//!
//! ```
//! use wangge_tiles::{parse_wkb, TileGeometry};
//!
//! // POINT(25 17), little-endian.
//! let mut wkb = vec![1, 1, 0, 0, 0];
//! wkb.extend_from_slice(&25.0f64.to_le_bytes());
//! wkb.extend_from_slice(&16.6f64.to_le_bytes());
//! assert_eq!(parse_wkb(&wkb)?, Some(TileGeometry::Points(vec![[25, 17]])));
//!
//! assert!(parse_wkb(&wkb[..12]).is_err()); // truncated
//! # Ok::<(), wangge_tiles::WkbError>(())
//! ```

use crate::mvt::{Polygon, TileGeometry};

/// Collections nested deeper than this are rejected, so hostile input cannot exhaust the
/// stack. PostGIS never nests more than a couple of levels.
pub const MAX_WKB_DEPTH: usize = 32;

/// EWKB flag bits in the type word.
const EWKB_Z: u32 = 0x8000_0000;
const EWKB_M: u32 = 0x4000_0000;
const EWKB_SRID: u32 = 0x2000_0000;

/// Why WKB could not be read. `offset` is the byte position in the input where the problem
/// was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WkbError {
    /// The input ended before a value that was needed.
    #[error("WKB truncated at byte {offset}: needed {needed} more bytes, {available} left")]
    Truncated {
        /// Where the missing value starts.
        offset: usize,
        /// Bytes the value needs.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// The byte-order marker is neither 0 (big-endian) nor 1 (little-endian).
    #[error("invalid WKB byte order {value} at byte {offset}")]
    InvalidByteOrder {
        /// Where the marker is.
        offset: usize,
        /// The marker found.
        value: u8,
    },
    /// The geometry type is not one of Point … GeometryCollection (curves, surfaces,
    /// triangles and TINs are not supported).
    #[error("unsupported WKB geometry type {type_code:#x} at byte {offset}")]
    UnsupportedType {
        /// Where the type word is.
        offset: usize,
        /// The type word as read (with any flags).
        type_code: u32,
    },
    /// A multi-geometry holds a part of the wrong type (e.g. a line in a MultiPoint).
    #[error("WKB part at byte {offset} is a {found}, expected a {expected}")]
    WrongPartType {
        /// Where the part starts.
        offset: usize,
        /// The part type the container allows.
        expected: &'static str,
        /// The part type found.
        found: &'static str,
    },
    /// A count is larger than the remaining bytes could possibly hold.
    #[error(
        "WKB count {count} at byte {offset} needs at least {needed} bytes, only {available} left"
    )]
    CountTooLarge {
        /// Where the count is.
        offset: usize,
        /// The count as read.
        count: u32,
        /// Minimum bytes that many elements take.
        needed: u64,
        /// Bytes that were left.
        available: usize,
    },
    /// Collections are nested more than [`MAX_WKB_DEPTH`] deep.
    #[error("WKB collections nested more than {MAX_WKB_DEPTH} deep at byte {offset}")]
    TooDeep {
        /// Where the too-deep part starts.
        offset: usize,
    },
    /// A coordinate is NaN or infinite (only `POINT EMPTY` may be NaN).
    #[error("non-finite WKB coordinate {value} at byte {offset}")]
    NonFiniteCoordinate {
        /// Where the coordinate pair starts.
        offset: usize,
        /// The offending value.
        value: f64,
    },
    /// A coordinate rounds to a value outside the `i32` range of tile coordinates.
    #[error("WKB coordinate {value} at byte {offset} is outside the 32-bit tile range")]
    CoordinateOutOfRange {
        /// Where the coordinate pair starts.
        offset: usize,
        /// The offending value.
        value: f64,
    },
    /// Bytes remain after the geometry.
    #[error("{count} unexpected bytes after the WKB geometry")]
    TrailingBytes {
        /// How many bytes were left.
        count: usize,
    },
}

/// Reads one WKB or EWKB geometry whose coordinates are tile coordinates.
///
/// Returns `Ok(None)` for an empty geometry. See the [module docs](self) for what is
/// accepted.
///
/// # Errors
///
/// A [`WkbError`] for malformed, truncated or over-long input and for coordinates that are
/// not finite or do not fit in `i32` after rounding.
pub fn parse_wkb(bytes: &[u8]) -> Result<Option<TileGeometry>, WkbError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        little_endian: true,
    };
    let mut parts = Parts::default();
    reader.geometry(&mut parts, None, 0)?;
    if reader.pos != bytes.len() {
        return Err(WkbError::TrailingBytes {
            count: bytes.len() - reader.pos,
        });
    }
    Ok(parts.into_geometry())
}

/// What a geometry flattened to, by kind.
#[derive(Debug, Default)]
struct Parts {
    points: Vec<[i32; 2]>,
    lines: Vec<Vec<[i32; 2]>>,
    polygons: Vec<Polygon>,
}

impl Parts {
    fn into_geometry(self) -> Option<TileGeometry> {
        if !self.polygons.is_empty() {
            Some(TileGeometry::Polygons(self.polygons))
        } else if !self.lines.is_empty() {
            Some(TileGeometry::Lines(self.lines))
        } else if !self.points.is_empty() {
            Some(TileGeometry::Points(self.points))
        } else {
            None
        }
    }
}

/// The WKB base types this reader handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Point,
    LineString,
    Polygon,
    MultiPoint,
    MultiLineString,
    MultiPolygon,
    Collection,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Point => "Point",
            Kind::LineString => "LineString",
            Kind::Polygon => "Polygon",
            Kind::MultiPoint => "MultiPoint",
            Kind::MultiLineString => "MultiLineString",
            Kind::MultiPolygon => "MultiPolygon",
            Kind::Collection => "GeometryCollection",
        }
    }
}

/// Smallest encoding of any geometry: byte order, type word, and an empty count.
const MIN_GEOMETRY_BYTES: u64 = 9;

#[derive(Debug)]
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    little_endian: bool,
}

impl Reader<'_> {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], WkbError> {
        let slice = self
            .bytes
            .get(self.pos..)
            .and_then(|rest| rest.get(..N))
            .ok_or(WkbError::Truncated {
                offset: self.pos,
                needed: N,
                available: self.remaining(),
            })?;
        self.pos += N;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, WkbError> {
        let b = self.take::<4>()?;
        Ok(if self.little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn f64(&mut self) -> Result<f64, WkbError> {
        let b = self.take::<8>()?;
        Ok(if self.little_endian {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }

    /// A count of elements each taking at least `min_size` bytes, checked against what is
    /// left so a hostile count cannot trigger a huge allocation.
    fn count(&mut self, min_size: u64) -> Result<usize, WkbError> {
        let offset = self.pos;
        let count = self.u32()?;
        let needed = u64::from(count) * min_size;
        if needed > self.remaining() as u64 {
            return Err(WkbError::CountTooLarge {
                offset,
                count,
                needed,
                available: self.remaining(),
            });
        }
        // `needed` fits in the remaining bytes, hence in `usize`.
        Ok(count as usize)
    }

    /// Reads `dims` ordinates and returns the rounded `[x, y]`, or `None` if both are NaN
    /// (allowed only where `allow_empty`, i.e. `POINT EMPTY`).
    fn coord(&mut self, dims: usize, allow_empty: bool) -> Result<Option<[i32; 2]>, WkbError> {
        let offset = self.pos;
        let x = self.f64()?;
        let y = self.f64()?;
        for _ in 2..dims {
            self.f64()?;
        }
        if allow_empty && x.is_nan() && y.is_nan() {
            return Ok(None);
        }
        let round = |value: f64| {
            if !value.is_finite() {
                return Err(WkbError::NonFiniteCoordinate { offset, value });
            }
            let r = value.round();
            if r < f64::from(i32::MIN) || r > f64::from(i32::MAX) {
                return Err(WkbError::CoordinateOutOfRange { offset, value });
            }
            Ok(r as i32)
        };
        Ok(Some([round(x)?, round(y)?]))
    }

    fn points(&mut self, dims: usize) -> Result<Vec<[i32; 2]>, WkbError> {
        let n = self.count(8 * dims as u64)?;
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            if let Some(p) = self.coord(dims, false)? {
                points.push(p);
            }
        }
        Ok(points)
    }

    /// Reads a byte-order marker and type word (and EWKB SRID); returns the kind and the
    /// number of ordinates per point.
    fn header(&mut self) -> Result<(Kind, usize), WkbError> {
        let offset = self.pos;
        let [order] = self.take::<1>()?;
        self.little_endian = match order {
            0 => false,
            1 => true,
            value => return Err(WkbError::InvalidByteOrder { offset, value }),
        };
        let type_offset = self.pos;
        let type_code = self.u32()?;
        let unsupported = WkbError::UnsupportedType {
            offset: type_offset,
            type_code,
        };
        let flags = type_code & (EWKB_Z | EWKB_M | EWKB_SRID);
        let iso = type_code & !flags;
        // ISO encodes Z/M as +1000/+2000/+3000; EWKB as flag bits. Never both.
        let (base, iso_z, iso_m) = match iso / 1000 {
            0 => (iso, false, false),
            1 => (iso % 1000, true, false),
            2 => (iso % 1000, false, true),
            3 => (iso % 1000, true, true),
            _ => return Err(unsupported),
        };
        let (ewkb_z, ewkb_m) = (flags & EWKB_Z != 0, flags & EWKB_M != 0);
        if (iso_z || iso_m) && (ewkb_z || ewkb_m) {
            return Err(unsupported);
        }
        let kind = match base {
            1 => Kind::Point,
            2 => Kind::LineString,
            3 => Kind::Polygon,
            4 => Kind::MultiPoint,
            5 => Kind::MultiLineString,
            6 => Kind::MultiPolygon,
            7 => Kind::Collection,
            _ => return Err(unsupported),
        };
        if flags & EWKB_SRID != 0 {
            self.u32()?;
        }
        let dims = 2 + usize::from(iso_z || ewkb_z) + usize::from(iso_m || ewkb_m);
        Ok((kind, dims))
    }

    /// Reads one geometry (with its header) into `parts`. `expected` is the part kind a
    /// multi-geometry allows; `depth` counts enclosing collections.
    fn geometry(
        &mut self,
        parts: &mut Parts,
        expected: Option<Kind>,
        depth: usize,
    ) -> Result<(), WkbError> {
        let offset = self.pos;
        if depth > MAX_WKB_DEPTH {
            return Err(WkbError::TooDeep { offset });
        }
        let (kind, dims) = self.header()?;
        if let Some(expected) = expected
            && expected != kind
        {
            return Err(WkbError::WrongPartType {
                offset,
                expected: expected.name(),
                found: kind.name(),
            });
        }
        match kind {
            Kind::Point => {
                if let Some(p) = self.coord(dims, true)? {
                    parts.points.push(p);
                }
            }
            Kind::LineString => {
                let line = self.points(dims)?;
                if !line.is_empty() {
                    parts.lines.push(line);
                }
            }
            Kind::Polygon => {
                let n = self.count(4)?;
                let mut rings = Vec::with_capacity(n);
                for _ in 0..n {
                    rings.push(self.points(dims)?);
                }
                let mut rings = rings.into_iter();
                if let Some(exterior) = rings.next()
                    && !exterior.is_empty()
                {
                    let holes = rings.filter(|r| !r.is_empty()).collect();
                    parts.polygons.push(Polygon::new(exterior, holes));
                }
            }
            Kind::MultiPoint | Kind::MultiLineString | Kind::MultiPolygon | Kind::Collection => {
                let part_kind = match kind {
                    Kind::MultiPoint => Some(Kind::Point),
                    Kind::MultiLineString => Some(Kind::LineString),
                    Kind::MultiPolygon => Some(Kind::Polygon),
                    _ => None,
                };
                let n = self.count(MIN_GEOMETRY_BYTES)?;
                for _ in 0..n {
                    self.geometry(parts, part_kind, depth + 1)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::SplitMix;

    /// Builds WKB in tests, in either byte order, optionally as EWKB with an SRID.
    struct W {
        out: Vec<u8>,
        le: bool,
    }

    impl W {
        fn new(le: bool) -> W {
            W {
                out: Vec::new(),
                le,
            }
        }

        fn header(&mut self, type_code: u32) -> &mut W {
            self.out.push(u8::from(self.le));
            self.u32(type_code)
        }

        fn u32(&mut self, v: u32) -> &mut W {
            let b = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.out.extend_from_slice(&b);
            self
        }

        fn f64(&mut self, v: f64) -> &mut W {
            let b = if self.le {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            self.out.extend_from_slice(&b);
            self
        }

        fn coords(&mut self, pts: &[[f64; 2]]) -> &mut W {
            self.u32(pts.len() as u32);
            for p in pts {
                self.f64(p[0]).f64(p[1]);
            }
            self
        }

        fn point(&mut self, p: [f64; 2]) -> &mut W {
            self.header(1).f64(p[0]).f64(p[1])
        }

        fn line(&mut self, pts: &[[f64; 2]]) -> &mut W {
            self.header(2).coords(pts)
        }

        fn polygon(&mut self, rings: &[&[[f64; 2]]]) -> &mut W {
            self.header(3).u32(rings.len() as u32);
            for r in rings {
                self.coords(r);
            }
            self
        }
    }

    const SQUARE: &[[f64; 2]] = &[
        [0.0, 0.0],
        [10.0, 0.0],
        [10.0, 10.0],
        [0.0, 10.0],
        [0.0, 0.0],
    ];
    const HOLE: &[[f64; 2]] = &[[2.0, 2.0], [2.0, 8.0], [8.0, 8.0], [8.0, 2.0], [2.0, 2.0]];

    fn square() -> Vec<[i32; 2]> {
        vec![[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]
    }

    fn hole() -> Vec<[i32; 2]> {
        vec![[2, 2], [2, 8], [8, 8], [8, 2], [2, 2]]
    }

    #[test]
    fn reads_each_type_in_both_byte_orders() {
        for le in [true, false] {
            let parse = |w: &W| parse_wkb(&w.out).unwrap();

            let mut w = W::new(le);
            w.point([25.4, -16.6]);
            assert_eq!(parse(&w), Some(TileGeometry::Points(vec![[25, -17]])));

            let mut w = W::new(le);
            w.line(&[[0.0, 0.0], [4095.5, 4096.49]]);
            assert_eq!(
                parse(&w),
                Some(TileGeometry::Lines(vec![vec![[0, 0], [4096, 4096]]]))
            );

            let mut w = W::new(le);
            w.polygon(&[SQUARE, HOLE]);
            assert_eq!(
                parse(&w),
                Some(TileGeometry::Polygons(vec![Polygon::new(
                    square(),
                    vec![hole()]
                )]))
            );

            let mut w = W::new(le);
            w.header(4).u32(2).point([1.0, 2.0]).point([3.0, 4.0]);
            assert_eq!(parse(&w), Some(TileGeometry::Points(vec![[1, 2], [3, 4]])));

            let mut w = W::new(le);
            w.header(5)
                .u32(2)
                .line(&[[0.0, 0.0], [1.0, 1.0]])
                .line(&[[5.0, 5.0], [6.0, 6.0]]);
            assert_eq!(
                parse(&w),
                Some(TileGeometry::Lines(vec![
                    vec![[0, 0], [1, 1]],
                    vec![[5, 5], [6, 6]]
                ]))
            );

            let mut w = W::new(le);
            w.header(6)
                .u32(2)
                .polygon(&[SQUARE])
                .polygon(&[SQUARE, HOLE]);
            assert_eq!(
                parse(&w),
                Some(TileGeometry::Polygons(vec![
                    Polygon::new(square(), vec![]),
                    Polygon::new(square(), vec![hole()]),
                ]))
            );
        }
    }

    #[test]
    fn parts_may_use_their_own_byte_order() {
        let mut outer = W::new(false);
        outer.header(4).u32(1);
        let mut part = W::new(true);
        part.point([7.0, 8.0]);
        outer.out.extend_from_slice(&part.out);
        assert_eq!(
            parse_wkb(&outer.out).unwrap(),
            Some(TileGeometry::Points(vec![[7, 8]]))
        );
    }

    #[test]
    fn collections_keep_the_highest_dimension() {
        let mut w = W::new(true);
        w.header(7)
            .u32(3)
            .point([1.0, 1.0])
            .line(&[[0.0, 0.0], [1.0, 1.0]])
            .polygon(&[SQUARE]);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Polygons(vec![Polygon::new(square(), vec![])]))
        );

        let mut w = W::new(true);
        w.header(7)
            .u32(3)
            .point([1.0, 1.0])
            .line(&[[0.0, 0.0], [1.0, 1.0]]);
        w.header(7)
            .u32(1)
            .header(5)
            .u32(1)
            .line(&[[2.0, 2.0], [3.0, 3.0]]);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Lines(vec![
                vec![[0, 0], [1, 1]],
                vec![[2, 2], [3, 3]]
            ]))
        );

        let mut w = W::new(false);
        w.header(7)
            .u32(2)
            .point([1.0, 1.0])
            .header(4)
            .u32(1)
            .point([2.0, 2.0]);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Points(vec![[1, 1], [2, 2]]))
        );
    }

    #[test]
    fn empty_geometries_are_none() {
        let cases: Vec<W> = vec![
            {
                let mut w = W::new(true);
                w.point([f64::NAN, f64::NAN]);
                w
            },
            {
                let mut w = W::new(true);
                w.line(&[]);
                w
            },
            {
                let mut w = W::new(false);
                w.polygon(&[]);
                w
            },
            {
                let mut w = W::new(true);
                w.polygon(&[&[], HOLE]); // empty exterior: the holes go too
                w
            },
            {
                let mut w = W::new(true);
                w.header(6).u32(0);
                w
            },
            {
                let mut w = W::new(true);
                w.header(7)
                    .u32(2)
                    .header(7)
                    .u32(0)
                    .point([f64::NAN, f64::NAN]);
                w
            },
        ];
        for w in cases {
            assert_eq!(parse_wkb(&w.out), Ok(None), "{:?}", w.out);
        }
    }

    #[test]
    fn ewkb_srid_and_extra_dimensions() {
        // EWKB: SRID flag + SRID, then the point.
        let mut w = W::new(true);
        w.header(EWKB_SRID | 1).u32(3857).f64(3.0).f64(4.0);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Points(vec![[3, 4]]))
        );
        // EWKB Z with SRID.
        let mut w = W::new(false);
        w.header(EWKB_SRID | EWKB_Z | 2)
            .u32(4326)
            .u32(2)
            .f64(1.0)
            .f64(2.0)
            .f64(99.0)
            .f64(3.0)
            .f64(4.0)
            .f64(99.0);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Lines(vec![vec![[1, 2], [3, 4]]]))
        );
        // ISO ZM point (type 3001).
        let mut w = W::new(true);
        w.header(3001).f64(5.0).f64(6.0).f64(7.0).f64(8.0);
        assert_eq!(
            parse_wkb(&w.out).unwrap(),
            Some(TileGeometry::Points(vec![[5, 6]]))
        );
        // ISO and EWKB dimension markers together are nonsense.
        let mut w = W::new(true);
        w.header(EWKB_Z | 1001).f64(0.0).f64(0.0).f64(0.0);
        assert!(matches!(
            parse_wkb(&w.out),
            Err(WkbError::UnsupportedType { offset: 1, .. })
        ));
    }

    #[test]
    fn malformed_input_is_rejected() {
        assert!(matches!(
            parse_wkb(&[]),
            Err(WkbError::Truncated { offset: 0, .. })
        ));
        assert_eq!(
            parse_wkb(&[2, 1, 0, 0, 0]),
            Err(WkbError::InvalidByteOrder {
                offset: 0,
                value: 2
            })
        );
        // CircularString (8) and TIN (16) are not supported.
        for t in [0, 8, 16, 17, 4001] {
            let mut w = W::new(true);
            w.header(t).u32(0);
            assert_eq!(
                parse_wkb(&w.out),
                Err(WkbError::UnsupportedType {
                    offset: 1,
                    type_code: t
                })
            );
        }
        // A line in a MultiPoint.
        let mut w = W::new(true);
        w.header(4).u32(1).line(&[[0.0, 0.0], [1.0, 1.0]]);
        assert_eq!(
            parse_wkb(&w.out),
            Err(WkbError::WrongPartType {
                offset: 9,
                expected: "Point",
                found: "LineString"
            })
        );
        // Trailing bytes.
        let mut w = W::new(true);
        w.point([1.0, 2.0]).out.push(0);
        assert_eq!(parse_wkb(&w.out), Err(WkbError::TrailingBytes { count: 1 }));
        // A huge count is refused before anything is allocated.
        let mut w = W::new(true);
        w.header(2).u32(u32::MAX);
        assert_eq!(
            parse_wkb(&w.out),
            Err(WkbError::CountTooLarge {
                offset: 5,
                count: u32::MAX,
                needed: u64::from(u32::MAX) * 16,
                available: 0
            })
        );
        // Non-finite and out-of-range coordinates.
        let mut w = W::new(true);
        w.line(&[[0.0, f64::INFINITY], [1.0, 1.0]]);
        assert!(matches!(
            parse_wkb(&w.out),
            Err(WkbError::NonFiniteCoordinate { offset: 9, .. })
        ));
        let mut w = W::new(true);
        w.line(&[[0.0, f64::NAN], [1.0, 1.0]]);
        assert!(matches!(
            parse_wkb(&w.out),
            Err(WkbError::NonFiniteCoordinate { .. })
        ));
        let mut w = W::new(true);
        w.point([3e9, 0.0]);
        assert_eq!(
            parse_wkb(&w.out),
            Err(WkbError::CoordinateOutOfRange {
                offset: 5,
                value: 3e9
            })
        );
        let mut w = W::new(true);
        w.point([f64::from(i32::MIN) - 0.4, 2_147_483_647.4]);
        assert_eq!(
            parse_wkb(&w.out),
            Ok(Some(TileGeometry::Points(vec![[i32::MIN, i32::MAX]])))
        );
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut w = W::new(true);
        for _ in 0..=MAX_WKB_DEPTH {
            w.header(7).u32(1);
        }
        w.point([1.0, 1.0]);
        assert!(matches!(parse_wkb(&w.out), Err(WkbError::TooDeep { .. })));

        let mut w = W::new(true);
        for _ in 0..MAX_WKB_DEPTH {
            w.header(7).u32(1);
        }
        w.point([1.0, 1.0]);
        assert_eq!(
            parse_wkb(&w.out),
            Ok(Some(TileGeometry::Points(vec![[1, 1]])))
        );

        // Far deeper than the limit (would overflow the stack without it).
        let mut w = W::new(true);
        for _ in 0..100_000 {
            w.header(7).u32(1);
        }
        assert!(matches!(parse_wkb(&w.out), Err(WkbError::TooDeep { .. })));
    }

    /// A spread of valid WKB to cut and corrupt.
    fn valid_samples() -> Vec<Vec<u8>> {
        let mut samples = Vec::new();
        for le in [true, false] {
            let mut w = W::new(le);
            w.point([1.0, 2.0]);
            samples.push(w.out);
            let mut w = W::new(le);
            w.line(&[[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]);
            samples.push(w.out);
            let mut w = W::new(le);
            w.polygon(&[SQUARE, HOLE]);
            samples.push(w.out);
            let mut w = W::new(le);
            w.header(6)
                .u32(2)
                .polygon(&[SQUARE])
                .polygon(&[SQUARE, HOLE]);
            samples.push(w.out);
            let mut w = W::new(le);
            w.header(7)
                .u32(3)
                .point([1.0, 1.0])
                .header(5)
                .u32(1)
                .line(&[[0.0, 0.0], [1.0, 1.0]])
                .polygon(&[SQUARE]);
            samples.push(w.out);
            let mut w = W::new(le);
            w.header(EWKB_SRID | EWKB_Z | 4)
                .u32(3857)
                .u32(1)
                .header(EWKB_Z | 1)
                .f64(1.0)
                .f64(2.0)
                .f64(3.0);
            samples.push(w.out);
        }
        samples
    }

    #[test]
    fn every_truncation_of_valid_wkb_is_an_error() {
        for sample in valid_samples() {
            assert!(parse_wkb(&sample).unwrap().is_some());
            for len in 0..sample.len() {
                assert!(
                    parse_wkb(&sample[..len]).is_err(),
                    "{sample:?} cut at {len}"
                );
            }
        }
    }

    #[test]
    fn random_and_corrupted_bytes_never_panic() {
        let mut rng = SplitMix(0x5eed);
        let samples = valid_samples();
        for _ in 0..20_000 {
            // Pure noise, sometimes starting with a valid header so parsing gets further.
            let len = rng.below(64) as usize;
            let mut noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 5 && rng.below(2) == 0 {
                noise[0] = rng.below(2) as u8;
                noise[1..5].copy_from_slice(&(1 + rng.below(7) as u32).to_le_bytes());
            }
            let _ = parse_wkb(&noise);

            // A valid sample with a few bytes flipped, then possibly cut.
            let mut bytes = samples[rng.below(samples.len() as u64) as usize].clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] = rng.next() as u8;
            }
            let cut = rng.below(bytes.len() as u64 + 1) as usize;
            let _ = parse_wkb(&bytes[..cut]);
            let _ = parse_wkb(&bytes);
        }
    }
}
