//! Rectangular ranges of tiles at one zoom level.

use std::iter::FusedIterator;
use std::ops::RangeInclusive;

use crate::coord::TileCoord;

/// A non-empty rectangle of tiles at one zoom level, iterated column by column.
///
/// Built by [`tiles_covering`](crate::tiles_covering). As an iterator it yields every tile
/// with `x` in [`x_range`](TileRange::x_range) and `y` in [`y_range`](TileRange::y_range),
/// in ascending [`TileCoord`] order (by `x`, then `y`). The accessors describe the whole
/// rectangle, however far iteration has gone.
///
/// ```
/// use wangge_tiles::{tiles_covering, Bounds, TileCoord};
///
/// // At zoom 3 columns are 45° wide and row 2 spans latitudes 40.98°..66.51°, so this box
/// // touches columns 1 and 2 of row 2.
/// let range = tiles_covering(&Bounds::new(-100.0, 45.0, -80.0, 60.0)?, 3)?;
/// assert_eq!(range.x_range(), 1..=2);
/// assert_eq!(range.y_range(), 2..=2);
/// assert_eq!(range.tile_count(), 2);
/// let tiles: Vec<TileCoord> = range.collect();
/// assert_eq!(tiles, [TileCoord::new(3, 1, 2)?, TileCoord::new(3, 2, 2)?]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileRange {
    z: u8,
    min_x: u32,
    max_x: u32,
    min_y: u32,
    max_y: u32,
    /// The next tile to yield, or `None` once exhausted.
    next: Option<(u32, u32)>,
}

impl TileRange {
    /// Caller guarantees `z <= MAX_ZOOM`, `min <= max < 2^z` on both axes.
    pub(crate) fn new(z: u8, min_x: u32, max_x: u32, min_y: u32, max_y: u32) -> TileRange {
        debug_assert!(min_x <= max_x && min_y <= max_y);
        debug_assert!(TileCoord::new(z, max_x, max_y).is_ok());
        TileRange {
            z,
            min_x,
            max_x,
            min_y,
            max_y,
            next: Some((min_x, min_y)),
        }
    }

    /// Zoom level of every tile in the range.
    pub fn zoom(&self) -> u8 {
        self.z
    }

    /// Columns covered, inclusive.
    pub fn x_range(&self) -> RangeInclusive<u32> {
        self.min_x..=self.max_x
    }

    /// Rows covered, inclusive (row 0 is the northernmost).
    pub fn y_range(&self) -> RangeInclusive<u32> {
        self.min_y..=self.max_y
    }

    /// Number of tiles in the whole rectangle (at least 1; up to `4^22` at zoom 22, hence
    /// `u64`). Check it before iterating a range built from a large box at a high zoom.
    pub fn tile_count(&self) -> u64 {
        let width = u64::from(self.max_x - self.min_x) + 1;
        let height = u64::from(self.max_y - self.min_y) + 1;
        width * height
    }

    /// Whether `tile` lies in the rectangle (same zoom, column and row in range).
    pub fn contains(&self, tile: &TileCoord) -> bool {
        tile.z() == self.z
            && self.x_range().contains(&tile.x())
            && self.y_range().contains(&tile.y())
    }

    /// Tiles not yet yielded.
    fn remaining(&self) -> u64 {
        match self.next {
            None => 0,
            Some((x, y)) => {
                let height = u64::from(self.max_y - self.min_y) + 1;
                let full_columns_left = u64::from(self.max_x - x);
                full_columns_left * height + u64::from(self.max_y - y) + 1
            }
        }
    }
}

impl Iterator for TileRange {
    type Item = TileCoord;

    fn next(&mut self) -> Option<TileCoord> {
        let (x, y) = self.next?;
        self.next = if y < self.max_y {
            Some((x, y + 1))
        } else if x < self.max_x {
            Some((x + 1, self.min_y))
        } else {
            None
        };
        let tile = TileCoord::new(self.z, x, y);
        debug_assert!(tile.is_ok(), "TileRange built out of range");
        tile.ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.remaining();
        match usize::try_from(remaining) {
            Ok(n) => (n, Some(n)),
            Err(_) => (usize::MAX, None),
        }
    }
}

impl FusedIterator for TileRange {}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(z: u8, x: u32, y: u32) -> TileCoord {
        TileCoord::new(z, x, y).unwrap()
    }

    #[test]
    fn yields_every_tile_once_in_ascending_order() {
        let range = TileRange::new(4, 3, 5, 7, 8);
        assert_eq!(range.tile_count(), 6);
        let tiles: Vec<_> = range.clone().collect();
        assert_eq!(
            tiles,
            [
                tile(4, 3, 7),
                tile(4, 3, 8),
                tile(4, 4, 7),
                tile(4, 4, 8),
                tile(4, 5, 7),
                tile(4, 5, 8),
            ]
        );
        assert!(tiles.iter().all(|t| range.contains(t)));
    }

    #[test]
    fn size_hint_is_exact_while_iterating() {
        let mut range = TileRange::new(3, 0, 2, 1, 4);
        let mut expected = 12;
        loop {
            assert_eq!(range.size_hint(), (expected, Some(expected)));
            if range.next().is_none() {
                break;
            }
            expected -= 1;
        }
        assert_eq!(expected, 0);
        assert_eq!(range.next(), None);
        // The accessors still describe the whole rectangle.
        assert_eq!(range.tile_count(), 12);
        assert_eq!(range.x_range(), 0..=2);
    }

    #[test]
    fn single_tile_range() {
        let range = TileRange::new(22, 4_194_303, 4_194_303, 0, 0);
        assert_eq!(range.collect::<Vec<_>>(), [tile(22, 4_194_303, 0)]);
    }

    #[test]
    fn whole_world_at_max_zoom_counts_without_overflow() {
        let last = (1 << 22) - 1;
        let range = TileRange::new(22, 0, last, 0, last);
        assert_eq!(range.tile_count(), 1 << 44);
    }

    #[test]
    fn contains_checks_zoom_and_both_axes() {
        let range = TileRange::new(5, 10, 12, 3, 4);
        assert!(range.contains(&tile(5, 10, 3)));
        assert!(range.contains(&tile(5, 12, 4)));
        assert!(!range.contains(&tile(5, 9, 3)));
        assert!(!range.contains(&tile(5, 13, 3)));
        assert!(!range.contains(&tile(5, 10, 2)));
        assert!(!range.contains(&tile(5, 10, 5)));
        assert!(!range.contains(&tile(6, 10, 3)));
    }
}
