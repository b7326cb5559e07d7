//! The gazetteer: units, their chains of ancestors and an index of their aliases.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

use super::aliases::{self, AliasKind, PROVINCES};
use super::normalise::normalise;
use super::types::{Level, Unit};

/// Two characters as one key for the alias indexes.
pub(crate) fn pair(a: char, b: char) -> u64 {
    (a as u64) << 32 | b as u64
}

/// A multiplicative hasher for [`pair`] keys: the default SipHash costs more than the
/// lookups it serves, and the keys are not attacker-chosen in a way that matters (the
/// table is built once from the gazetteer).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PairHasher(u64);

impl Hasher for PairHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type PairMap = HashMap<u64, Vec<u32>, BuildHasherDefault<PairHasher>>;

/// "No node" in [`Node::anc`].
pub(crate) const NONE: u32 = u32::MAX;

/// A unit, or a province (rank 0, not a [`Unit`]), with its ancestors.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// 0 province, 1 city, 2 county, 3 township, 4 village.
    pub rank: u8,
    /// The node's ancestor at each rank, itself at its own rank, [`NONE`] where unknown.
    pub anc: [u32; 5],
    /// Index into [`Gazetteer::units`]; `None` for a province.
    pub unit: Option<usize>,
    /// The bare name (`荷花` for 荷花社区居民委员会), normalised; empty if it has none.
    pub core: Box<[char]>,
}

/// One normalised alias of a node.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    pub chars: Box<[char]>,
    /// How many leading characters are the distinctive part, where a typo may be.
    pub editable: usize,
    pub node: u32,
    pub kind: AliasKind,
}

/// An immutable index of administrative units by every name people write them with.
///
/// Built once from all units (the city, its counties, townships and villages: ~800 for
/// Yuxi) with [`Gazetteer::new`]; then [`Gazetteer::parse`] reads free-text addresses and
/// [`Gazetteer::detail_of`] canonicalises register addresses. It is `Send + Sync`: share it
/// behind an `Arc`.
///
/// Each unit is known by its official name and the forms derived from it:
///
/// * city: `玉溪市`, `玉溪`;
/// * county: `峨山彝族自治县`, `峨山`, `峨山县`, `峨山自治县`; any county also with the other
///   county suffixes (`澄江县` for 澄江市, `江川县` for 江川区: former names);
/// * township: `小石桥彝族乡`, `小石桥`, `小石桥乡`; streets also as `玉兴街道办事处`,
///   `玉兴街道办`, `玉兴办事处`, and `大营街道` for 大营街街道; the other township suffixes as
///   former names (`大营街镇`); ethnic townships with one of their groups (`高大傣族乡`);
/// * village: `荷花社区居民委员会`, `荷花社区`, `荷花社区居委会`, `荷花居委会`, `荷花`;
///   `大营村民委员会`, `大营村委会`, `大营村委`, `大营村`, `大营村公所`, `大营`;
/// * the province of the units (by code prefix; Yunnan so far): `云南省`, `云南`.
///
/// More names (renamed units) can be added with [`Gazetteer::add_alias`].
pub struct Gazetteer {
    pub(crate) units: Vec<Unit>,
    pub(crate) by_id: HashMap<i64, u32>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) aliases: Vec<Alias>,
    /// Aliases by their first two characters.
    pub(crate) by_01: PairMap,
    /// Aliases of three or more characters by their first and third characters (to find
    /// a typo in the second), and by their second and third (a typo in the first).
    pub(crate) by_02: PairMap,
    pub(crate) by_12: PairMap,
}

impl fmt::Debug for Gazetteer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gazetteer")
            .field("units", &self.units.len())
            .field("aliases", &self.aliases.len())
            .finish_non_exhaustive()
    }
}

/// The leading digits of `code` that identify a unit of `level`, if the code is long enough.
fn code_key(code: &str, level: Level) -> Option<&str> {
    let len = level.code_len();
    (code.len() >= len && code.is_char_boundary(len)).then(|| &code[..len])
}

impl Gazetteer {
    /// Builds the gazetteer. A unit's parent is its `parent_id`, or else the unit one level up
    /// whose code is a prefix of its code; units whose ancestors cannot be found still match
    /// by name, but chains through them count as inconsistent.
    pub fn new(units: Vec<Unit>) -> Gazetteer {
        let by_id: HashMap<i64, u32> = units
            .iter()
            .enumerate()
            .map(|(i, u)| (u.id, i as u32))
            .collect();
        let by_code: HashMap<(u8, &str), u32> = units
            .iter()
            .enumerate()
            .filter_map(|(i, u)| Some(((u.level.rank(), code_key(&u.code, u.level)?), i as u32)))
            .collect();
        let parent_of = |i: usize| -> Option<u32> {
            let unit = &units[i];
            if let Some(parent) = unit.parent_id.and_then(|p| by_id.get(&p)) {
                return Some(*parent);
            }
            let up = Level::from_rank(unit.level.rank() - 1)?;
            let key = code_key(&unit.code, up)?;
            by_code.get(&(up.rank(), key)).copied()
        };
        let mut nodes: Vec<Node> = (0..units.len())
            .map(|i| {
                let mut anc = [NONE; 5];
                let mut at = i as u32;
                anc[units[i].level.rank() as usize] = at;
                while let Some(parent) = parent_of(at as usize) {
                    let rank = units[parent as usize].level.rank();
                    if rank >= units[at as usize].level.rank() || anc[rank as usize] != NONE {
                        break; // a cycle or a parent at the wrong level
                    }
                    anc[rank as usize] = parent;
                    at = parent;
                }
                Node {
                    rank: units[i].level.rank(),
                    anc,
                    unit: Some(i),
                    core: Box::default(),
                }
            })
            .collect();

        let mut names: Vec<(u32, Vec<(String, AliasKind)>)> = Vec::new();
        for (prefix, name) in PROVINCES {
            let members: Vec<usize> = (0..units.len())
                .filter(|&i| units[i].code.starts_with(prefix))
                .collect();
            if members.is_empty() {
                continue;
            }
            let province = nodes.len() as u32;
            for i in members {
                nodes[i].anc[0] = province;
            }
            let mut anc = [NONE; 5];
            anc[0] = province;
            nodes.push(Node {
                rank: 0,
                anc,
                unit: None,
                core: Box::default(),
            });
            names.push((province, aliases::province_aliases(name)));
        }
        for (i, unit) in units.iter().enumerate() {
            names.push((i as u32, aliases::aliases(unit.level, &unit.name)));
        }

        let mut gazetteer = Gazetteer {
            units,
            by_id,
            nodes,
            aliases: Vec::new(),
            by_01: PairMap::default(),
            by_02: PairMap::default(),
            by_12: PairMap::default(),
        };
        for (node, list) in names {
            // The same string can come out of two rules: keep its best kind.
            let mut list: Vec<(String, AliasKind)> = list
                .into_iter()
                .map(|(alias, kind)| (normalise(&alias), kind))
                .collect();
            list.sort();
            list.dedup_by(|later, first| later.0 == first.0);
            // The distinctive part: what the alias shares with the bare name.
            let core: Vec<char> = list
                .iter()
                .find(|(_, kind)| *kind == AliasKind::Core)
                .map_or_else(Vec::new, |(core, _)| core.chars().collect());
            gazetteer.nodes[node as usize].core = core.iter().copied().collect();
            for (alias, kind) in list {
                let shared = alias
                    .chars()
                    .zip(&core)
                    .take_while(|(a, c)| a == *c)
                    .count();
                let editable = if core.is_empty() { usize::MAX } else { shared };
                gazetteer.push_alias(node, &alias, kind, editable);
            }
        }
        gazetteer
    }

    /// Adds another name for a unit, such as the name a town had before it was renamed on
    /// becoming a 街道 (former suffixes alone, like `大营街镇`, are already known). Call it
    /// before sharing the gazetteer. The name matches like a standard alias, a typo anywhere
    /// in it included. Returns `false` if there is no unit `unit_id` or the name normalises
    /// to fewer than two characters.
    pub fn add_alias(&mut self, unit_id: i64, alias: &str) -> bool {
        let Some(&node) = self.by_id.get(&unit_id) else {
            return false;
        };
        let alias = normalise(alias);
        if alias.chars().count() < 2 {
            return false;
        }
        self.push_alias(node, &alias, AliasKind::Standard, usize::MAX);
        true
    }

    fn push_alias(&mut self, node: u32, alias: &str, kind: AliasKind, editable: usize) {
        let chars: Box<[char]> = alias.chars().collect();
        if chars.len() < 2 {
            return;
        }
        let id = self.aliases.len() as u32;
        self.by_01
            .entry(pair(chars[0], chars[1]))
            .or_default()
            .push(id);
        if chars.len() >= 3 {
            self.by_02
                .entry(pair(chars[0], chars[2]))
                .or_default()
                .push(id);
            self.by_12
                .entry(pair(chars[1], chars[2]))
                .or_default()
                .push(id);
        }
        self.aliases.push(Alias {
            chars,
            editable,
            node,
            kind,
        });
    }

    /// The unit with this id.
    pub fn unit(&self, id: i64) -> Option<&Unit> {
        self.by_id.get(&id).map(|&i| &self.units[i as usize])
    }

    /// The unit `id` and its known ancestors, coarsest first (city, county, township, village).
    pub fn chain(&self, id: i64) -> Vec<&Unit> {
        let Some(&i) = self.by_id.get(&id) else {
            return Vec::new();
        };
        self.nodes[i as usize].anc[1..]
            .iter()
            .filter(|&&n| n != NONE)
            .filter_map(|&n| self.nodes[n as usize].unit.map(|u| &self.units[u]))
            .collect()
    }

    /// How many units the gazetteer holds.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    /// True if the gazetteer holds no units.
    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// The unit id of a node (which must not be a province).
    pub(crate) fn unit_id(&self, node: u32) -> i64 {
        self.nodes[node as usize]
            .unit
            .map_or(-1, |u| self.units[u].id)
    }
}
