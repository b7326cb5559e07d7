//! The plain data the geocoder takes in ([`Unit`]) and gives back ([`Parsed`], [`PlaceMatch`]).

/// The level of an administrative unit, coarsest first (`City < County < Township < Village`).
///
/// The province is not a level: its names are recognised and skipped at the start of an
/// address, but never returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// A prefecture-level city (地级市), e.g. 玉溪市.
    City,
    /// A county-level unit (区/县/县级市/自治县), e.g. 红塔区, 峨山彝族自治县.
    County,
    /// A township-level unit (街道/镇/乡/民族乡), e.g. 玉兴街道, 小石桥彝族乡.
    Township,
    /// A village-level unit: a village committee (村民委员会) or community (社区居民委员会).
    Village,
}

impl Level {
    /// The level's name in lowercase English: `city`, `county`, `township` or `village`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
        }
    }

    /// Position in the chain: 0 is the province (not a [`Level`]), 1 the city … 4 the village.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Level::City => 1,
            Level::County => 2,
            Level::Township => 3,
            Level::Village => 4,
        }
    }

    /// How many leading digits of a statistical division code identify a unit of this level
    /// (`5304`, `530402`, `530402007`, `530402007001`).
    pub(crate) fn code_len(self) -> usize {
        match self {
            Level::City => 4,
            Level::County => 6,
            Level::Township => 9,
            Level::Village => 12,
        }
    }

    pub(crate) fn from_rank(rank: u8) -> Option<Level> {
        match rank {
            1 => Some(Level::City),
            2 => Some(Level::County),
            3 => Some(Level::Township),
            4 => Some(Level::Village),
            _ => None,
        }
    }
}

/// One administrative unit as the gazetteer is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// The caller's identifier, returned in [`PlaceMatch::unit_id`].
    pub id: i64,
    /// The unit's level.
    pub level: Level,
    /// The statistical division code (NBS 统计用区划代码): 6 digits for a county, 9 for a
    /// township, 12 for a village; codes padded with zeros to 12 digits work too. Used to find
    /// the parent when `parent_id` is `None`.
    pub code: String,
    /// The official name, e.g. `荷花社区居民委员会`, `小石桥彝族乡`, `峨山彝族自治县`.
    pub name: String,
    /// The id of the unit one level up, if known.
    pub parent_id: Option<i64>,
}

/// One candidate place for an address: a unit and how sure the parser is of it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaceMatch {
    /// The [`Unit::id`] of the finest unit matched: a village when the address named one,
    /// else a township, county or city.
    pub unit_id: i64,
    /// That unit's level.
    pub level: Level,
    /// How sure the place part is, in `0..=1`. The finest level sets the ceiling: a village
    /// 1.0, a township 0.8, a county 0.45, the city alone 0.15. From it are taken: 0.03 for
    /// each county or township level omitted above the unit; 0.12 for each typo (0.03 in a
    /// province or city name); 0.02 for a former or swapped suffix (`澄江县`, `大营街镇`);
    /// 0.03 for a bare village name (`响水` for 响水村), 0.01 for a bare county or township
    /// name, and 0.2 more if a bare village name is followed by text other than a number or
    /// a road; 0.1 for a unit inferred only from a road named after it (`荷花东路` →
    /// 荷花社区); 0.2 for each named level the unit is not in (a township outside the named
    /// county); 0.05 plus 0.02 a character for skipped unrecognised text. A village whose
    /// detail starts with a road named after it (`荷化社区荷花东路…`) gets 0.05 of its
    /// penalties back. So a full, consistent, exactly written chain to a village scores 1,
    /// and `响水村3组` alone 0.94. Candidates with equal scores mean the address is
    /// ambiguous (see [`Parsed::unambiguous`]).
    pub score: f64,
    /// How many names in this candidate's chain were matched with one wrong, missing or
    /// extra character.
    pub typos: u32,
    /// The rest of the address after this candidate's place names, in canonical form (see
    /// [`normalise_detail`](super::normalise_detail)); the same for all candidates unless
    /// their names covered different amounts of the text.
    pub detail: String,
}

/// The result of [`Gazetteer::parse`](super::Gazetteer::parse).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// Candidate places, best first (ties by unit id), at most five, none scoring more than
    /// 0.3 below the first. Each is the finest unit of a chain of names read from the front
    /// of the address; chains whose names contradict each other rank lower. A unit's
    /// ancestor is listed only when the unit's own evidence is weak (a typo or a road-name
    /// inference), as a wider fallback. Empty when no place name was recognised.
    pub places: Vec<PlaceMatch>,
    /// The canonical detail of the best candidate (`3组45号`, `荷花东路123号`), or, when no
    /// place was recognised, of the whole address after any province name.
    pub detail: String,
}

impl Parsed {
    /// How far the best score must lead the next for [`Parsed::unambiguous`].
    pub const AMBIGUITY_MARGIN: f64 = 0.05;

    /// The best candidate, if any.
    pub fn best(&self) -> Option<&PlaceMatch> {
        self.places.first()
    }

    /// The best candidate if it leads the second by at least [`Parsed::AMBIGUITY_MARGIN`]
    /// (or is the only one); `None` when two places fit the address about equally well.
    pub fn unambiguous(&self) -> Option<&PlaceMatch> {
        match self.places.as_slice() {
            [] => None,
            [only] => Some(only),
            [first, second, ..] => {
                (first.score - second.score >= Self::AMBIGUITY_MARGIN - 1e-9).then_some(first)
            }
        }
    }
}
