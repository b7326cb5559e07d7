//! Coherent value noise in [-1, 1]: smooth, so borders drawn with it wander rather than jitter.

/// Two octaves of value noise on a square lattice of `scale_km`.
#[derive(Debug, Clone)]
pub struct Noise {
    seed: u64,
    scale_km: f64,
}

impl Noise {
    pub fn new(seed: u64, scale_km: f64) -> Self {
        Self { seed, scale_km }
    }

    /// Noise at a projected point (km).
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let coarse = self.octave(x / self.scale_km, y / self.scale_km, 0);
        let fine = self.octave(x * 2.7 / self.scale_km, y * 2.7 / self.scale_km, 1);
        (0.7 * coarse + 0.3 * fine).clamp(-1.0, 1.0)
    }

    fn octave(&self, x: f64, y: f64, octave: u64) -> f64 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (smooth(x - x0), smooth(y - y0));
        let (ix, iy) = (x0 as i64, y0 as i64);
        let v = |dx: i64, dy: i64| self.lattice_value(ix + dx, iy + dy, octave);
        let top = v(0, 0) + (v(1, 0) - v(0, 0)) * fx;
        let bottom = v(0, 1) + (v(1, 1) - v(0, 1)) * fx;
        top + (bottom - top) * fy
    }

    fn lattice_value(&self, x: i64, y: i64, octave: u64) -> f64 {
        let mut h = self.seed ^ octave.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= (x as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h = h.rotate_left(31) ^ (y as u64).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 32;
        (h >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

fn smooth(t: f64) -> f64 {
    t * t * (3.0 - 2.0 * t)
}
