//! Reading an address: place names at the front, found as a chain province → city → county
//! → township → village (any of them may be missing), then the detail.
//!
//! The search is a small depth-first enumeration. At each position it looks up every alias
//! that starts there (exactly, or with one typo for names of three or more characters) for a
//! level finer than the last one matched, follows each, and records every prefix of every
//! chain as a candidate. Each candidate is scored by its finest level less penalties; the
//! best chain per finest unit is kept.

use super::aliases::AliasKind;
use super::fuzzy::near_prefix;
use super::gazetteer::{Gazetteer, NONE, pair};
use super::normalise::{normalise, normalise_detail};
use super::types::{Level, Parsed, PlaceMatch};

/// Score of a candidate whose finest unit has this rank (province, city … village).
const BASE: [f64; 5] = [0.0, 0.15, 0.45, 0.8, 1.0];
/// For each county or township level omitted above the finest unit.
const MISSING_LEVEL: f64 = 0.03;
/// For a name matched with one typo; for a province or city name, [`TYPO_HIGH_LEVEL`].
const TYPO: f64 = 0.12;
const TYPO_HIGH_LEVEL: f64 = 0.03;
/// For a bare village name (`大营` for 大营村): natural villages share such names.
const BARE_VILLAGE: f64 = 0.03;
/// For a bare village name followed by anything but a number or a road: the text after a
/// village should be the detail, so this is more likely part of some other name.
const BARE_VILLAGE_THEN_TEXT: f64 = 0.2;
/// For a bare county or township name (`红塔`, `玉兴`).
const BARE_OTHER: f64 = 0.01;
/// For another or former suffix (`澄江县`, `大营街镇`).
const VARIANT: f64 = 0.02;
/// For a community written as a village (`羊街村委会` for 羊街社区).
const FORMER_VILLAGE: f64 = 0.06;
/// For a unit inferred from a road named after it (`荷花东路`).
const ROAD: f64 = 0.1;
/// Taken off a village's penalties when the detail starts with a road named after it
/// (`荷化社区荷花东路`): the road confirms the name.
const ROAD_AGREES: f64 = 0.05;
/// For each level named before a unit that the unit is not in.
const CONFLICT: f64 = 0.2;
/// For skipping unrecognised text before a name: base and per character.
const SKIP: f64 = 0.05;
const SKIP_PER_CHAR: f64 = 0.02;
/// The most characters skipped to find the next name (only once per chain, never across a
/// digit, never past a name written exactly with its suffix, and only to such a name).
const MAX_SKIP: usize = 6;
/// Chains with more typos are not followed.
const MAX_TYPOS: u32 = 2;
/// Candidates returned, and how far below the best one they may score.
const MAX_PLACES: usize = 5;
const KEEP_WITHIN: f64 = 0.3;

/// Characters that, right after a bare name, show it is part of a longer name that is not
/// this unit's (`大营` in `大营村` is not 大营社区).
const NOT_AFTER_BARE: [char; 12] = [
    '村', '社', '镇', '乡', '区', '县', '市', '委', '居', '办', '州', '省',
];

/// Which alias occurrences [`Gazetteer::hits_at`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Exact, and with one typo for aliases of three or more characters.
    Fuzzy,
    /// Exact only.
    Exact,
    /// Exact only, and no bare county, township or village names: where a skip may lead.
    Suffixed,
}

/// One alias found at a position.
#[derive(Debug, Clone, Copy)]
struct Hit {
    node: u32,
    start: usize,
    end: usize,
    typos: u32,
    penalty: f64,
    /// False for a unit inferred from a road name: the name stays in the detail.
    consumed: bool,
    /// Exact, consumed and with a suffix: no reason to look past it for a better name.
    solid: bool,
}

/// A chain being followed.
#[derive(Debug, Clone, Copy)]
struct State {
    pos: usize,
    /// The coarsest rank the next name may have.
    next_rank: u8,
    /// The last node matched, province included.
    last: u32,
    /// The last unit matched (rank ≥ 1).
    finest: u32,
    penalty: f64,
    typos: u32,
    /// Ranks matched, as bits.
    mask: u8,
    skipped: bool,
    /// A typo or a road inference somewhere in the chain.
    weak: bool,
}

/// A recorded candidate.
#[derive(Debug, Clone, Copy)]
struct Terminal {
    finest: u32,
    score: f64,
    typos: u32,
    detail_start: usize,
    /// The detail starts right after the finest unit's name, which may be repeated there.
    after_finest: bool,
    weak: bool,
}

struct Search<'a> {
    g: &'a Gazetteer,
    text: &'a [char],
    /// Only these nodes may match (a known village's chain), if set.
    only: Option<[u32; 5]>,
    found: Vec<Terminal>,
    /// States already walked from. Where a chain goes on from a state does not depend on how
    /// it got there, so a state no better than one already walked is not walked again.
    seen: Vec<State>,
}

impl Gazetteer {
    /// Parses a free-text address into ranked candidate units and the canonical detail.
    ///
    /// The text is [`normalise`]d; then province, city, county, township and village names
    /// are read from the front in that order, each optional, in any of their alias forms
    /// (see [`Gazetteer`]), with one typo allowed in names of three or more characters. A
    /// name that does not lie inside the one before it costs score rather than being refused;
    /// unrecognised text of up to six characters may be skipped once to reach a name written
    /// with its suffix. A bare village, township or county name followed by a road
    /// (`荷花东路`, `玉兴路`, `红塔大道`) places the address in that unit but stays in the detail.
    ///
    /// ```
    /// use wangge_analysis::geocode::{Gazetteer, Level, Unit};
    ///
    /// let unit = |id, level, code: &str, name: &str, parent_id| Unit {
    ///     id, level, code: code.into(), name: name.into(), parent_id,
    /// };
    /// let gazetteer = Gazetteer::new(vec![
    ///     unit(1, Level::City, "530400", "玉溪市", None),
    ///     unit(2, Level::County, "530402", "红塔区", Some(1)),
    ///     unit(3, Level::Township, "530402001", "玉兴街道", Some(2)),
    ///     unit(4, Level::Village, "530402001001", "荷花社区居民委员会", Some(3)),
    ///     unit(5, Level::Township, "530402201", "小石桥彝族乡", Some(2)),
    ///     unit(6, Level::Village, "530402201201", "小石桥村民委员会", Some(5)),
    /// ]);
    ///
    /// let parsed = gazetteer.parse("玉溪红塔 小石桥乡小石桥村委会 第三村民小组４５");
    /// let best = parsed.best().unwrap();
    /// assert_eq!((best.unit_id, best.level, best.typos), (6, Level::Village, 0));
    /// assert!(best.score > 0.9);
    /// assert_eq!(parsed.detail, "3组45号");
    ///
    /// // A typo, no township, and a road named after the community.
    /// let parsed = gazetteer.parse("红塔区荷化社区荷花东路123");
    /// assert_eq!(parsed.best().unwrap().unit_id, 4);
    /// assert_eq!(parsed.best().unwrap().typos, 1);
    /// assert_eq!(parsed.detail, "荷花东路123号");
    /// ```
    pub fn parse(&self, address: &str) -> Parsed {
        let normalised = normalise(address);
        let text: Vec<char> = normalised.chars().collect();
        let found = Search::run(self, &text, None);

        // The best terminal per finest unit.
        let mut best: Vec<Terminal> = Vec::new();
        let mut bare_detail_start = 0;
        for t in found {
            if t.finest == NONE {
                bare_detail_start = bare_detail_start.max(t.detail_start);
                continue;
            }
            match best.iter_mut().find(|b| b.finest == t.finest) {
                Some(b) if !better(&t, b) => {}
                Some(b) => *b = t,
                None => best.push(t),
            }
        }
        best.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.detail_start.cmp(&a.detail_start))
                .then(self.unit_id(a.finest).cmp(&self.unit_id(b.finest)))
        });
        // A unit's ancestor adds nothing when the unit itself was matched firmly.
        let keep: Vec<bool> = best
            .iter()
            .map(|t| {
                let rank = self.nodes[t.finest as usize].rank as usize;
                !best.iter().any(|d| {
                    d.finest != t.finest
                        && !d.weak
                        && d.score > t.score
                        && self.nodes[d.finest as usize].anc[rank] == t.finest
                })
            })
            .collect();
        let top = best.first().map_or(0.0, |t| t.score);
        let places: Vec<PlaceMatch> = best
            .iter()
            .zip(keep)
            .filter(|(t, keep)| *keep && t.score > 0.0 && t.score >= top - KEEP_WITHIN)
            .take(MAX_PLACES)
            .map(|(t, _)| {
                let node = &self.nodes[t.finest as usize];
                PlaceMatch {
                    unit_id: self.unit_id(t.finest),
                    level: Level::from_rank(node.rank).unwrap_or(Level::Village),
                    score: t.score,
                    typos: t.typos,
                    detail: self.detail_after(&text, t),
                }
            })
            .collect();
        let detail = match places.first() {
            Some(p) => p.detail.clone(),
            None => normalise_detail(&text[bare_detail_start..].iter().collect::<String>()),
        };
        Parsed { places, detail }
    }

    /// The canonical detail of a register address whose village is known: the address less
    /// the names of the village and its ancestors in any alias form (typos included), in the
    /// same form as [`PlaceMatch::detail`] and [`Parsed::detail`] give for queries, so the
    /// two can be compared directly. A township or county id works too (its chain's names
    /// are stripped); for an unknown id the whole address is only normalised.
    ///
    /// `detail_of(荷花社区, "云南省玉溪市红塔区玉兴街道荷花社区荷花东路123号")` and
    /// `detail_of(荷花社区, "荷花居委会荷花东路１２３")` are both `荷花东路123号`, as is the
    /// detail `parse` gives for `玉兴街道荷花东路123`.
    pub fn detail_of(&self, village_id: i64, address: &str) -> String {
        let text: Vec<char> = normalise(address).chars().collect();
        let Some(&node) = self.by_id.get(&village_id) else {
            return normalise_detail(&text.iter().collect::<String>());
        };
        let found = Search::run(self, &text, Some(self.nodes[node as usize].anc));
        let best = found
            .into_iter()
            .reduce(|a, b| if better(&b, &a) { b } else { a });
        match best {
            Some(t) if t.finest != NONE => self.detail_after(&text, &t),
            Some(t) => normalise_detail(&text[t.detail_start..].iter().collect::<String>()),
            None => normalise_detail(&text.iter().collect::<String>()),
        }
    }

    /// The detail of a terminal; a village name repeated right after itself
    /// (`大营村委会大营村3组`) is dropped too.
    fn detail_after(&self, text: &[char], t: &Terminal) -> String {
        let mut start = t.detail_start;
        if t.after_finest && self.nodes[t.finest as usize].rank == 4 {
            let mut hits = Vec::new();
            let only = Some(self.nodes[t.finest as usize].anc);
            self.hits_at(text, start, 4, only, Mode::Exact, &mut hits);
            if let Some(h) = hits
                .iter()
                .filter(|h| h.node == t.finest && h.consumed)
                .max_by_key(|h| h.end)
            {
                start = h.end;
            }
        }
        normalise_detail(&text[start..].iter().collect::<String>())
    }

    /// Pushes to `out` the aliases of nodes of rank ≥ `min_rank` (within `only`, if set) that
    /// start at `pos`, as `mode` allows. Bare names are checked against what follows them.
    /// At most two hits per node are kept: the best, and the longest if that is another.
    fn hits_at(
        &self,
        text: &[char],
        pos: usize,
        min_rank: u8,
        only: Option<[u32; 5]>,
        mode: Mode,
        out: &mut Vec<Hit>,
    ) {
        let rest = &text[pos.min(text.len())..];
        let (Some(&t0), Some(&t1)) = (rest.first(), rest.get(1)) else {
            return; // every alias has two characters or more
        };
        if t0.is_ascii_digit() {
            return;
        }
        let t2 = rest.get(2).copied();
        let first_out = out.len();
        let allowed = |node: u32| {
            self.nodes[node as usize].rank >= min_rank
                && only.is_none_or(|chain| chain.contains(&node))
        };
        let exact = self.by_01.get(&pair(t0, t1));
        for &a in exact.into_iter().flatten() {
            let alias = &self.aliases[a as usize];
            if allowed(alias.node) && rest.starts_with(&alias.chars) {
                self.push_hit(text, pos, a, pos + alias.chars.len(), 0, mode, out);
            }
        }
        if mode == Mode::Fuzzy {
            // Aliases one edit away share two of their first three characters with the text:
            // an edit after the second character keeps the first two; one at the second
            // keeps the first and third (found at the text's third or, if the character is
            // missing, second place, or the second, if one is extra); one at the first keeps
            // the second and third (at the text's second and third, or first and second).
            let lists = [
                exact,
                t2.and_then(|t2| self.by_02.get(&pair(t0, t2))),
                self.by_02.get(&pair(t0, t1)),
                t2.and_then(|t2| self.by_01.get(&pair(t0, t2))),
                t2.and_then(|t2| self.by_12.get(&pair(t1, t2))),
                self.by_12.get(&pair(t0, t1)),
            ];
            // An alias in two lists gives the same hits twice; the pruning below drops them.
            let mut ends = Vec::new();
            for &a in lists.into_iter().flatten().flatten() {
                let alias = &self.aliases[a as usize];
                if alias.chars.len() < 3 || !allowed(alias.node) {
                    continue;
                }
                ends.clear();
                near_prefix(&alias.chars, alias.editable, rest, &mut ends);
                for &end in &ends {
                    // A digit is never part of a name: 大营3 is not 大营街 with a typo.
                    if !rest[..end].iter().any(char::is_ascii_digit) {
                        self.push_hit(text, pos, a, pos + end, 1, mode, out);
                    }
                }
            }
        }
        // Keep per node the best hit, and the longest one if it is another.
        let hits = &mut out[first_out..];
        hits.sort_by(|a, b| {
            a.node
                .cmp(&b.node)
                .then(a.penalty.total_cmp(&b.penalty))
                .then(b.end.cmp(&a.end))
        });
        let mut kept = first_out;
        let mut i = first_out;
        while i < out.len() {
            let node = out[i].node;
            let group_end = (i..out.len())
                .find(|&j| out[j].node != node)
                .unwrap_or(out.len());
            let best = out[i];
            // The first of the longest: sorted by penalty, so the best of them.
            let longest = out[i..group_end]
                .iter()
                .copied()
                .filter(|h| h.consumed)
                .reduce(|a, b| if b.end > a.end { b } else { a });
            out[kept] = best;
            kept += 1;
            if let Some(longest) = longest.filter(|l| l.end > best.end || !best.consumed) {
                out[kept] = longest;
                kept += 1;
            }
            i = group_end;
        }
        out.truncate(kept);
    }

    /// Checks and scores one alias occurrence.
    #[allow(clippy::too_many_arguments)]
    fn push_hit(
        &self,
        text: &[char],
        start: usize,
        alias: u32,
        end: usize,
        typos: u32,
        mode: Mode,
        out: &mut Vec<Hit>,
    ) {
        let alias = &self.aliases[alias as usize];
        let rank = self.nodes[alias.node as usize].rank;
        let mut penalty = typos as f64 * if rank <= 1 { TYPO_HIGH_LEVEL } else { TYPO };
        let mut consumed = true;
        match alias.kind {
            AliasKind::Full | AliasKind::Standard => {}
            AliasKind::Variant => penalty += VARIANT,
            AliasKind::FormerVillage => penalty += FORMER_VILLAGE,
            AliasKind::Core => {
                if mode == Mode::Suffixed && rank >= 2 {
                    return;
                }
                if rank >= 1 && is_road(&text[end..]) {
                    consumed = false;
                    penalty += ROAD;
                } else if text.get(end).is_some_and(|c| NOT_AFTER_BARE.contains(c))
                    || text[end..].starts_with(&['街', '道'])
                {
                    return;
                } else if rank == 4 && text.get(end).is_some_and(|c| !c.is_ascii_alphanumeric()) {
                    penalty += BARE_VILLAGE_THEN_TEXT;
                }
                penalty += match rank {
                    4 => BARE_VILLAGE,
                    2 | 3 => BARE_OTHER,
                    _ => 0.0,
                };
            }
        }
        out.push(Hit {
            node: alias.node,
            start,
            end,
            typos,
            penalty,
            consumed,
            solid: typos == 0 && consumed && alias.kind != AliasKind::Core,
        });
    }
}

/// True if `rest` starts like the end of a road name: an optional direction, then 路, 大道,
/// 大街, 街, 巷 or 小区 (`东路`, `大道`, `北街`), not itself followed by more of a road name
/// (`大营` + `街东路` is not a road named after 大营 but 大营街东路).
fn is_road(rest: &[char]) -> bool {
    let rest = match rest.first() {
        Some('东' | '西' | '南' | '北' | '中') => &rest[1..],
        _ => rest,
    };
    let after = match rest {
        ['路' | '街' | '巷', after @ ..] => after,
        ['大', '道' | '街', after @ ..] | ['小', '区', after @ ..] => after,
        _ => return false,
    };
    !matches!(
        after.first(),
        Some('东' | '西' | '南' | '北' | '中' | '路' | '街' | '巷' | '道')
    )
}

/// True if `a` should replace `b` as the best terminal for the same unit.
fn better(a: &Terminal, b: &Terminal) -> bool {
    if (a.score - b.score).abs() > 1e-12 {
        return a.score > b.score;
    }
    (a.detail_start, std::cmp::Reverse(a.typos)) > (b.detail_start, std::cmp::Reverse(b.typos))
}

impl<'a> Search<'a> {
    fn run(g: &'a Gazetteer, text: &'a [char], only: Option<[u32; 5]>) -> Vec<Terminal> {
        let mut search = Search {
            g,
            text,
            only,
            found: Vec::new(),
            seen: Vec::new(),
        };
        search.walk(State {
            pos: 0,
            next_rank: 0,
            last: NONE,
            finest: NONE,
            penalty: 0.0,
            typos: 0,
            mask: 0,
            skipped: false,
            weak: false,
        });
        search.found
    }

    fn walk(&mut self, st: State) {
        let dominated = |seen: &State| {
            (seen.pos, seen.last, seen.mask, seen.skipped) == (st.pos, st.last, st.mask, st.skipped)
                && seen.penalty <= st.penalty + 1e-12
                && seen.typos <= st.typos
                && (!seen.weak || st.weak)
        };
        if self.seen.iter().any(dominated) {
            return;
        }
        self.seen.push(st);
        self.record(&st, st.pos, true);
        if st.next_rank > 4 || st.pos >= self.text.len() {
            return;
        }
        let mut hits = Vec::new();
        self.g.hits_at(
            self.text,
            st.pos,
            st.next_rank,
            self.only,
            Mode::Fuzzy,
            &mut hits,
        );
        for &hit in &hits {
            self.follow(&st, hit);
        }
        if st.skipped || hits.iter().any(|h| h.solid) {
            return;
        }
        for skip in 1..=MAX_SKIP {
            let pos = st.pos + skip;
            if pos >= self.text.len() || self.text[pos - 1].is_ascii_digit() {
                break;
            }
            hits.clear();
            self.g.hits_at(
                self.text,
                pos,
                st.next_rank,
                self.only,
                Mode::Suffixed,
                &mut hits,
            );
            let skipped = State {
                skipped: true,
                penalty: st.penalty + SKIP + SKIP_PER_CHAR * skip as f64,
                ..st
            };
            for &hit in &hits {
                self.follow(&skipped, hit);
            }
        }
    }

    fn follow(&mut self, st: &State, hit: Hit) {
        let typos = st.typos + hit.typos;
        if typos > MAX_TYPOS {
            return;
        }
        let node = &self.g.nodes[hit.node as usize];
        let mut penalty = st.penalty + hit.penalty;
        if st.last != NONE {
            // Once for each level named so far that the new unit is not in.
            let implied = &self.g.nodes[st.last as usize].anc;
            let conflicts = (0..node.rank as usize)
                .filter(|&r| st.mask & (1 << r) != 0 && node.anc[r] != implied[r])
                .count();
            penalty += CONFLICT * conflicts as f64;
        }
        let next = State {
            pos: hit.end,
            next_rank: node.rank + 1,
            last: hit.node,
            finest: if node.rank >= 1 { hit.node } else { st.finest },
            penalty,
            typos,
            mask: st.mask | 1 << node.rank,
            skipped: st.skipped,
            weak: st.weak || hit.typos > 0 || !hit.consumed,
        };
        if hit.consumed {
            self.walk(next);
        } else {
            self.record(&next, hit.start, false);
        }
    }

    fn record(&mut self, st: &State, detail_start: usize, consumed: bool) {
        let score = if st.finest == NONE {
            0.0
        } else {
            let rank = self.g.nodes[st.finest as usize].rank;
            let missing = (2..rank).filter(|r| st.mask & (1 << r) == 0).count();
            let core = &self.g.nodes[st.finest as usize].core;
            let rest = &self.text[detail_start..];
            let agrees = rank == 4
                && consumed
                && !core.is_empty()
                && rest.starts_with(core)
                && is_road(&rest[core.len()..]);
            let penalty = if agrees {
                (st.penalty - ROAD_AGREES).max(0.0)
            } else {
                st.penalty
            };
            (BASE[rank as usize] - MISSING_LEVEL * missing as f64 - penalty).clamp(0.0, 1.0)
        };
        self.found.push(Terminal {
            finest: st.finest,
            score,
            typos: st.typos,
            detail_start,
            after_finest: consumed && st.last == st.finest,
            weak: st.weak,
        });
    }
}
