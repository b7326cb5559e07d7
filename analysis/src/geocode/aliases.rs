//! The names people use for a unit, derived from its official name.

use super::types::Level;

/// How an alias relates to the official name; decides its small score penalty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AliasKind {
    /// The official name (`大营街街道`, `荷花社区居民委员会`).
    Full,
    /// A standard short or office form (`荷花社区`, `大营村委会`, `玉兴街道办事处`,
    /// `小石桥乡`, `峨山县`).
    Standard,
    /// Another or an older suffix (`澄江县` for 澄江市, `大营街镇` for 大营街街道, `大营街道`).
    Variant,
    /// A community written as the village it was before it became one (`羊街村委会`,
    /// `羊街村` for 羊街社区): common, but a real village of that name is likelier meant.
    FormerVillage,
    /// The bare name without any suffix (`红塔`, `玉兴`, `大营`, `荷花`).
    Core,
}

/// Ethnic group names that appear in autonomous county and ethnic township names, longest
/// first so that `蒙古族` is stripped before anything shorter could match.
const ETHNIC_GROUPS: [&str; 26] = [
    "蒙古族",
    "哈尼族",
    "拉祜族",
    "傈僳族",
    "纳西族",
    "景颇族",
    "布朗族",
    "阿昌族",
    "普米族",
    "德昂族",
    "独龙族",
    "基诺族",
    "布依族",
    "土家族",
    "彝族",
    "傣族",
    "苗族",
    "回族",
    "白族",
    "壮族",
    "瑶族",
    "佤族",
    "怒族",
    "藏族",
    "水族",
    "满族",
];

const CITY_SUFFIXES: [&str; 4] = ["自治州", "地区", "市", "州"];
const COUNTY_SUFFIXES: [&str; 6] = ["自治县", "自治旗", "县", "区", "市", "旗"];
const TOWNSHIP_SUFFIXES: [&str; 7] = ["街道办事处", "街道", "民族乡", "镇", "乡", "苏木", "办事处"];

/// Provinces whose names are recognised (and skipped) at the start of an address, by the
/// two-digit code prefix of the units in them. Only Yunnan is needed so far.
pub(crate) const PROVINCES: [(&str, &str); 1] = [("53", "云南省")];

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// `name` without the first of `suffixes` it ends with, keeping at least two characters.
fn strip_suffix<'a>(name: &'a str, suffixes: &[&'a str]) -> Option<(&'a str, &'a str)> {
    suffixes.iter().find_map(|&suffix| {
        name.strip_suffix(suffix)
            .filter(|stem| chars(stem) >= 2)
            .map(|stem| (stem, suffix))
    })
}

/// `stem` without trailing ethnic group names (`峨山彝族` → `峨山`, `高大傣族彝族` → `高大`),
/// and the groups removed, in their written order.
fn strip_ethnic(stem: &str) -> (&str, Vec<&'static str>) {
    let mut core = stem;
    let mut groups = Vec::new();
    while let Some((shorter, group)) = ETHNIC_GROUPS.iter().find_map(|&g| {
        core.strip_suffix(g)
            .filter(|s| chars(s) >= 2)
            .map(|s| (s, g))
    }) {
        core = shorter;
        groups.insert(0, group);
    }
    (core, groups)
}

/// The aliases of a unit of `level` called `name`, unnormalised and possibly repeated.
pub(crate) fn aliases(level: Level, name: &str) -> Vec<(String, AliasKind)> {
    use AliasKind::*;
    let mut out = vec![(name.to_owned(), Full)];
    let mut add = |alias: String, kind: AliasKind| {
        if chars(&alias) >= 2 {
            out.push((alias, kind));
        }
    };
    match level {
        Level::City => {
            if let Some((core, _)) = strip_suffix(name, &CITY_SUFFIXES) {
                add(core.to_owned(), Core);
                add(format!("{core}市"), Variant);
            }
        }
        Level::County => {
            if let Some((stem, suffix)) = strip_suffix(name, &COUNTY_SUFFIXES) {
                let (core, groups) = strip_ethnic(stem);
                add(core.to_owned(), Core);
                for other in ["县", "区", "市"] {
                    let kind = if suffix == other || (suffix == "自治县" && other == "县") {
                        Standard
                    } else {
                        Variant
                    };
                    add(format!("{core}{other}"), kind);
                }
                if !groups.is_empty() {
                    add(format!("{core}{suffix}"), Standard);
                }
            }
        }
        Level::Township => {
            if let Some((stem, suffix)) = strip_suffix(name, &TOWNSHIP_SUFFIXES) {
                let (core, groups) = strip_ethnic(stem);
                let suffix = if suffix == "民族乡" { "乡" } else { suffix };
                add(core.to_owned(), Core);
                for other in ["街道", "镇", "乡"] {
                    add(
                        format!("{core}{other}"),
                        if other == suffix { Standard } else { Variant },
                    );
                }
                if suffix == "街道" || suffix == "街道办事处" || suffix == "办事处" {
                    for office in ["街道办事处", "街道办", "办事处"] {
                        add(format!("{core}{office}"), Standard);
                    }
                    // 大营街街道 is often written 大营街道.
                    if let Some(shorter) = core.strip_suffix('街').filter(|s| chars(s) >= 2) {
                        add(format!("{shorter}街道"), Variant);
                    }
                }
                for group in &groups {
                    add(format!("{core}{group}{suffix}"), Variant);
                }
            }
        }
        Level::Village => {
            let community = name
                .strip_suffix("社区居民委员会")
                .or_else(|| name.strip_suffix("居民委员会"))
                .or_else(|| name.strip_suffix("社区居委会"))
                .or_else(|| name.strip_suffix("社区"));
            let rural = name
                .strip_suffix("村民委员会")
                .or_else(|| name.strip_suffix("村委会"));
            if let Some(core) = community.filter(|c| chars(c) >= 2) {
                add(core.to_owned(), Core);
                for suffix in [
                    "社区",
                    "社区居委会",
                    "社区居委",
                    "社区居民委员会",
                    "居委会",
                    "居民委员会",
                ] {
                    add(format!("{core}{suffix}"), Standard);
                }
                for suffix in ["村", "村委会", "村民委员会"] {
                    add(format!("{core}{suffix}"), FormerVillage);
                }
            } else if let Some(core) = rural.filter(|c| chars(c) >= 2) {
                add(core.to_owned(), Core);
                for suffix in ["村", "村委会", "村委", "村民委员会"] {
                    add(format!("{core}{suffix}"), Standard);
                }
                add(format!("{core}村公所"), Variant);
                // 大村村委会 is naturally written 大村委会.
                if core.ends_with('村') {
                    add(format!("{core}委会"), Standard);
                    add(format!("{core}民委员会"), Standard);
                }
            } else if let Some(stem) = name.strip_suffix("委员会").filter(|c| chars(c) >= 2) {
                add(stem.to_owned(), Standard);
            }
        }
    }
    out
}

/// The aliases of a province called `name`: the full name and the bare one (`云南`).
pub(crate) fn province_aliases(name: &str) -> Vec<(String, AliasKind)> {
    let mut out = vec![(name.to_owned(), AliasKind::Full)];
    for suffix in ["省", "自治区", "市"] {
        if let Some(core) = name.strip_suffix(suffix).filter(|c| chars(c) >= 2) {
            out.push((core.to_owned(), AliasKind::Core));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(level: Level, name: &str) -> Vec<String> {
        aliases(level, name).into_iter().map(|(a, _)| a).collect()
    }

    #[test]
    fn county_aliases() {
        let a = names(Level::County, "峨山彝族自治县");
        for want in ["峨山彝族自治县", "峨山", "峨山县", "峨山自治县"] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        let a = names(Level::County, "元江哈尼族彝族傣族自治县");
        assert!(a.iter().any(|x| x == "元江") && a.iter().any(|x| x == "元江县"));
        let a = aliases(Level::County, "澄江市");
        assert!(a.contains(&("澄江县".to_owned(), AliasKind::Variant)));
        assert!(a.contains(&("澄江".to_owned(), AliasKind::Core)));
    }

    #[test]
    fn township_aliases() {
        let a = names(Level::Township, "大营街街道");
        for want in [
            "大营街",
            "大营街街道办事处",
            "大营街办事处",
            "大营街镇",
            "大营街道",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        let a = names(Level::Township, "小石桥彝族乡");
        assert!(a.iter().any(|x| x == "小石桥乡") && a.iter().any(|x| x == "小石桥"));
        let a = names(Level::Township, "高大傣族彝族乡");
        for want in ["高大乡", "高大", "高大傣族乡", "高大彝族乡"] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        let a = names(Level::Township, "兴蒙蒙古族乡");
        assert!(a.iter().any(|x| x == "兴蒙乡"), "{a:?}");
    }

    #[test]
    fn village_aliases() {
        let a = names(Level::Village, "荷花社区居民委员会");
        for want in ["荷花社区", "荷花社区居委会", "荷花居委会", "荷花"] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        let a = names(Level::Village, "丕且莫村委会");
        for want in ["丕且莫村", "丕且莫村民委员会", "丕且莫"] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        let a = names(Level::Village, "波村村委会");
        assert!(a.iter().any(|x| x == "波村村") && a.iter().any(|x| x == "波村"));
        assert_eq!(province_aliases("云南省")[1].0, "云南");
    }
}
