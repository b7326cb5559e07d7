//! Parsing tests on the real Yuxi division lists (NBS 2023) shipped in `data/`.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::*;

const TOWNSHIPS_CSV: &str = include_str!("../../../data/yuxi_townships_nbs2023.csv");
const VILLAGES_CSV: &str = include_str!("../../../data/yuxi_villages_nbs2023.csv");

const COUNTIES: [(&str, &str); 9] = [
    ("530402", "红塔区"),
    ("530403", "江川区"),
    ("530481", "澄江市"),
    ("530423", "通海县"),
    ("530424", "华宁县"),
    ("530425", "易门县"),
    ("530426", "峨山彝族自治县"),
    ("530427", "新平彝族傣族自治县"),
    ("530428", "元江哈尼族彝族傣族自治县"),
];

struct Yuxi {
    gazetteer: Gazetteer,
    units: Vec<Unit>,
    id_by_code: HashMap<String, i64>,
}

/// (code, name, parent code) of each row of a division list.
fn rows(csv: &str, parent_column: usize) -> Vec<(String, String, String)> {
    csv.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line
                .split(',')
                .map(|f| f.trim().trim_matches('"'))
                .collect();
            (
                fields[0].to_owned(),
                fields[1].to_owned(),
                fields[parent_column].to_owned(),
            )
        })
        .collect()
}

/// The city, its counties, townships and villages, ids in that order from 1.
fn yuxi() -> &'static Yuxi {
    static YUXI: OnceLock<Yuxi> = OnceLock::new();
    YUXI.get_or_init(|| {
        let mut units = vec![Unit {
            id: 1,
            level: Level::City,
            code: "530400".into(),
            name: "玉溪市".into(),
            parent_id: None,
        }];
        let mut id_by_code = HashMap::from([("530400".to_owned(), 1)]);
        let mut add = |level, code: String, name: String, parent: &str| {
            let id = units.len() as i64 + 1;
            let parent_id = Some(id_by_code[parent]);
            id_by_code.insert(code.clone(), id);
            units.push(Unit {
                id,
                level,
                code,
                name,
                parent_id,
            });
        };
        for (code, name) in COUNTIES {
            add(Level::County, code.into(), name.into(), "530400");
        }
        for (code, name, county) in rows(TOWNSHIPS_CSV, 2) {
            add(Level::Township, code, name, &county);
        }
        for (code, name, township) in rows(VILLAGES_CSV, 2) {
            add(Level::Village, code, name, &township);
        }
        Yuxi {
            gazetteer: Gazetteer::new(units.clone()),
            units,
            id_by_code,
        }
    })
}

fn id(code: &str) -> i64 {
    yuxi().id_by_code[code]
}

fn parse(address: &str) -> Parsed {
    yuxi().gazetteer.parse(address)
}

/// Asserts the best place is unit `code`, unambiguous, with the detail `detail`.
#[track_caller]
fn assert_best(address: &str, code: &str, detail: &str) -> PlaceMatch {
    let parsed = parse(address);
    let best = parsed
        .unambiguous()
        .unwrap_or_else(|| panic!("{address}: no unambiguous place in {parsed:#?}"));
    assert_eq!(best.unit_id, id(code), "{address}: {parsed:#?}");
    assert_eq!(parsed.detail, detail, "{address}: {parsed:#?}");
    best.clone()
}

const HONGTA: &str = "530402";
const HEHUA: &str = "530402001001"; // 红塔区 玉兴街道 荷花社区居民委员会
const YUXING: &str = "530402001"; // 玉兴街道
const DAYINGJIE: &str = "530402007001"; // 红塔区 大营街街道 大营街社区居民委员会
const ZHAOWEI: &str = "530402007003"; // 红塔区 大营街街道 赵桅社区居民委员会
const XIAOSHIQIAO: &str = "530402201"; // 红塔区 小石桥彝族乡
const XIANGSHUI: &str = "530402201202"; // 小石桥彝族乡 响水村民委员会

#[test]
fn builds_from_the_shipped_lists() {
    let y = yuxi();
    assert_eq!(y.gazetteer.len(), 1 + 9 + 76 + 718);
    let chain: Vec<&str> = y
        .gazetteer
        .chain(id(HEHUA))
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(
        chain,
        ["玉溪市", "红塔区", "玉兴街道", "荷花社区居民委员会"]
    );
    assert_eq!(y.gazetteer.unit(id(HEHUA)).unwrap().code, HEHUA);
    // Parents are also found by code when no parent id is given.
    let orphans: Vec<Unit> = y
        .units
        .iter()
        .map(|u| Unit {
            parent_id: None,
            ..u.clone()
        })
        .collect();
    let g = Gazetteer::new(orphans);
    assert_eq!(g.chain(id(HEHUA)).len(), 4);
    assert_eq!(
        g.parse("红塔区玉兴街道荷花社区荷花东路1号").places[0].score,
        parse("红塔区玉兴街道荷花社区荷花东路1号").places[0].score
    );
}

#[test]
fn register_form() {
    let best = assert_best(
        "云南省玉溪市红塔区大营街街道大营街社区大营街东路12号",
        DAYINGJIE,
        "大营街东路12号",
    );
    assert_eq!((best.level, best.typos), (Level::Village, 0));
    assert!(best.score > 0.99, "{best:?}");
    let best = assert_best(
        "云南省玉溪市红塔区小石桥彝族乡响水村3组45号",
        XIANGSHUI,
        "3组45号",
    );
    assert!(best.score > 0.99, "{best:?}");
    assert_best(
        "云南省玉溪市新平彝族傣族自治县扬武镇丕且莫村7组3号",
        "530427100200",
        "7组3号",
    );
}

#[test]
fn abbreviated_province_city_and_county() {
    assert_best(
        "云南玉溪红塔小石桥彝族乡响水村3组45号",
        XIANGSHUI,
        "3组45号",
    );
    assert_best("玉溪市红塔小石桥彝族乡响水村3组45号", XIANGSHUI, "3组45号");
    // 峨山县 / 峨山 for 峨山彝族自治县, 新平县, 元江县.
    assert_best("峨山县小街街道棚租村5组8号", "530426002208", "5组8号");
    assert_best("玉溪峨山小街街道棚租村5组8号", "530426002208", "5组8号");
    assert_best("新平县者竜乡者竜村委会2组", "530427204202", "2组");
    assert_best("元江县羊街乡戈垤村1组20号", "530428202201", "1组20号");
    // The former name 澄江县 for 澄江市.
    assert_best(
        "澄江县凤麓街道仪凤社区仪凤南路9号",
        "530481001001",
        "仪凤南路9号",
    );
    // 小街 is a township of both 峨山 and 易门: the county decides.
    assert_best("易门县小街乡小街村3组", "530425204201", "3组");
    assert_best(
        "峨山县小街街道小街社区小街北路3号",
        "530426002001",
        "小街北路3号",
    );
}

#[test]
fn township_forms() {
    for township in [
        "大营街街道",
        "大营街",
        "大营街道",
        "大营街镇",
        "大营街街道办事处",
        "大营街办事处",
    ] {
        let address = format!("红塔区{township}赵桅社区赵桅西路7号");
        let best = assert_best(&address, ZHAOWEI, "赵桅西路7号");
        assert!(best.score > 0.95, "{address}: {best:?}");
    }
    for township in ["玉兴街道办事处", "玉兴办事处", "玉兴街道办", "玉兴"] {
        assert_best(
            &format!("红塔{township}荷花社区荷花东路123号"),
            HEHUA,
            "荷花东路123号",
        );
    }
    for township in ["小石桥乡", "小石桥", "小石桥彝族乡"] {
        assert_best(
            &format!("红塔区{township}响水村3组45号"),
            XIANGSHUI,
            "3组45号",
        );
    }
    // Ethnic parts dropped, or only one of two kept.
    assert_best("通海县高大乡观音村2组", "530423202201", "2组");
    assert_best("通海县高大傣族乡观音村2组", "530423202201", "2组");
    assert_best("通海兴蒙乡下村村4组", "530423203202", "4组");
    assert_best("华宁县通红甸乡所梅早村6组11号", "530424201202", "6组11号");
}

#[test]
fn village_forms() {
    for village in ["响水村委会", "响水村民委员会", "响水村", "响水村委", "响水"]
    {
        let address = format!("红塔区小石桥乡{village}3组45号");
        let best = assert_best(&address, XIANGSHUI, "3组45号");
        assert!(best.score > 0.9, "{address}: {best:?}");
    }
    for village in [
        "荷花社区居委会",
        "荷花居委会",
        "荷花社区居民委员会",
        "荷花社区",
    ] {
        assert_best(
            &format!("红塔区玉兴街道{village}荷花东路123号"),
            HEHUA,
            "荷花东路123号",
        );
    }
    assert_best("新平扬武镇丕且莫村委会3组", "530427100200", "3组");
    // The village repeated as the natural village is not part of the detail.
    assert_best(
        "红塔区小石桥乡响水村委会响水村3组45号",
        XIANGSHUI,
        "3组45号",
    );
}

#[test]
fn detail_forms() {
    for detail in [
        "3组45号",
        "３组４５号",
        "三组四十五号",
        "第三组45号",
        "3社45号",
        "第三村民小组45号",
        "3小组45号",
        "3组45",
        "3组 45号",
        "3组，45号",
        "3组-45号",
        "(3组)45号",
        "（三组）45#",
    ] {
        assert_best(
            &format!("红塔区小石桥乡响水村{detail}"),
            XIANGSHUI,
            "3组45号",
        );
    }
    assert_best(
        "红塔区小石桥乡响水村十二组一百零五号",
        XIANGSHUI,
        "12组105号",
    );
    assert_best("红塔区小石桥乡响水村二十组三十五号", XIANGSHUI, "20组35号");
    assert_best("红 塔 区，小石桥乡 - 响水村 十组", XIANGSHUI, "10组");
}

#[test]
fn typos_in_names() {
    // A wrong character in a township and in a village name.
    let best = assert_best(
        "红塔区大营接街道赵桅社区赵桅西路7号",
        ZHAOWEI,
        "赵桅西路7号",
    );
    assert_eq!(best.typos, 1);
    assert!(best.score < 0.95 && best.score > 0.8, "{best:?}");
    let best = assert_best(
        "红塔区玉兴街道荷化社区荷花东路123号",
        HEHUA,
        "荷花东路123号",
    );
    assert_eq!(best.typos, 1);
    // A homophone, a missing and an extra character.
    let best = assert_best("红塔区小石乔乡响水村3组45号", XIANGSHUI, "3组45号");
    assert_eq!(best.typos, 1);
    assert_best("红塔区小桥乡响水村3组45号", XIANGSHUI, "3组45号");
    assert_best("红塔区小石石桥乡响水村3组45号", XIANGSHUI, "3组45号");
    let best = assert_best("红塔区小石桥乡响氺村3组45号", XIANGSHUI, "3组45号");
    assert_eq!(best.typos, 1);
    // 者龙 for 者竜 is a variant character, not a typo.
    let best = assert_best("新平者龙乡者龙村2组", "530427204202", "2组");
    assert_eq!(best.typos, 0);
}

#[test]
fn missing_levels() {
    let full = assert_best("红塔区小石桥乡响水村3组45号", XIANGSHUI, "3组45号").score;
    let no_township = assert_best("红塔区响水村3组45号", XIANGSHUI, "3组45号").score;
    let no_county = assert_best("小石桥乡响水村3组45号", XIANGSHUI, "3组45号").score;
    let village_only = assert_best("响水村3组45号", XIANGSHUI, "3组45号").score;
    assert!(
        full > no_township && no_township > village_only,
        "{full} {no_township} {village_only}"
    );
    assert!((no_township - no_county).abs() < 1e-9);
    assert!(village_only > 0.9, "{village_only}");

    // Without a village the township is returned; the server searches all its villages.
    let best = assert_best("红塔区小石桥乡3组45号", XIAOSHIQIAO, "3组45号");
    assert_eq!(best.level, Level::Township);
    assert!(best.score <= 0.8 && best.score > 0.7, "{best:?}");
    let best = assert_best("玉溪市红塔区3组45号", HONGTA, "3组45号");
    assert_eq!(best.level, Level::County);
    assert!(best.score < 0.5, "{best:?}");
    let best = assert_best("云南省玉溪市45号", "530400", "45号");
    assert_eq!(best.level, Level::City);

    let parsed = parse("3组45号");
    assert!(parsed.places.is_empty());
    assert_eq!(parsed.detail, "3组45号");
    assert_eq!(parse("云南省 幸福路1").detail, "幸福路1号");
    assert_eq!(parse(""), Parsed::default());
}

#[test]
fn ambiguous_short_names_give_several_candidates() {
    // Three 新村村民委员会: 华宁 盘溪镇, 峨山 双江街道, 澄江 阳宗镇.
    let parsed = parse("新村村委会3组");
    let ids: Vec<i64> = parsed.places.iter().map(|p| p.unit_id).collect();
    for code in ["530424102208", "530426001207", "530481103201"] {
        assert!(ids.contains(&id(code)), "{code} in {parsed:#?}");
    }
    assert_eq!(parsed.places[0].score, parsed.places[2].score);
    assert!(parsed.unambiguous().is_none());
    assert_eq!(parsed.detail, "3组");
    // A county settles it.
    assert_best("峨山县新村村委会3组", "530426001207", "3组");
    // 大营社区: 红塔 北城街道, 江川 宁海街道 and 九溪镇; 大营村: 通海 四街镇.
    let parsed = parse("江川区大营社区12号");
    assert!(parsed.unambiguous().is_none(), "{parsed:#?}");
    let ids: Vec<i64> = parsed.places.iter().take(2).map(|p| p.unit_id).collect();
    assert!(ids.contains(&id("530403002013")) && ids.contains(&id("530403103001")));
    assert_best("江川区九溪镇大营社区12号", "530403103001", "12号");
    assert_best("通海大营村3组", "530423103204", "3组");
}

#[test]
fn names_that_contradict_each_other() {
    // 响水村 is in 红塔区, not 江川区: still found, less sure.
    let parsed = parse("江川区小石桥乡响水村3组45号");
    let best = parsed.best().unwrap();
    assert_eq!(best.unit_id, id(XIANGSHUI));
    assert!(best.score < 0.9, "{parsed:#?}");
}

#[test]
fn roads_named_after_units() {
    // No village named: the community whose name the road carries, then its township.
    let parsed = parse("红塔区玉兴街道荷花东路123");
    assert_eq!(parsed.places[0].unit_id, id(HEHUA), "{parsed:#?}");
    assert_eq!(parsed.places[1].unit_id, id(YUXING), "{parsed:#?}");
    assert_eq!(parsed.detail, "荷花东路123号");
    assert_best("红塔区大营街东路5号", DAYINGJIE, "大营街东路5号");
    let best = assert_best("红塔区玉兴路12号", YUXING, "玉兴路12号");
    assert_eq!(best.level, Level::Township);
    assert_eq!(parse("玉溪市红塔大道25号").detail, "红塔大道25号");
}

#[test]
fn unrecognised_text_before_a_name() {
    assert_best("地址：红塔区小石桥乡响水村3组45号", XIANGSHUI, "3组45号");
    // Two typos in the township: skipped, the village still found.
    let best = assert_best(
        "红塔区大营接街到赵桅社区赵桅西路7号",
        ZHAOWEI,
        "赵桅西路7号",
    );
    assert!(best.score < 0.9, "{best:?}");
}

#[test]
fn detail_of_register_addresses() {
    let g = &yuxi().gazetteer;
    assert_eq!(
        g.detail_of(id(HEHUA), "云南省玉溪市红塔区玉兴街道荷花社区荷花东路123号"),
        "荷花东路123号"
    );
    assert_eq!(g.detail_of(id(HEHUA), "荷花东路123号"), "荷花东路123号");
    assert_eq!(
        g.detail_of(id(HEHUA), "玉溪红塔玉兴街道办事处荷花居委会荷花东路１２３"),
        "荷花东路123号"
    );
    assert_eq!(
        g.detail_of(
            id(XIANGSHUI),
            "云南省玉溪市红塔区小石桥彝族乡响水村第三村民小组45号"
        ),
        "3组45号"
    );
    assert_eq!(g.detail_of(id(XIANGSHUI), "小石桥乡3社45"), "3组45号");
    assert_eq!(g.detail_of(-7, "红塔区3组"), "红塔区3组");
}

#[test]
fn added_aliases_and_sharing() {
    fn shared<T: Send + Sync>(_: &T) {}
    let mut g = Gazetteer::new(yuxi().units.clone());
    shared(&g);
    assert!(!g.add_alias(-1, "老城街道"));
    assert!(!g.add_alias(id(YUXING), "老"));
    assert!(g.add_alias(id(YUXING), "老城街道"));
    let parsed = g.parse("红塔区老城街道荷花社区荷花东路1号");
    assert_eq!(parsed.unambiguous().map(|p| p.unit_id), Some(id(HEHUA)));
    assert!(parsed.places[0].score > 0.99, "{parsed:#?}");
    let parsed = g.parse("红塔区老成街道荷花社区荷花东路1号");
    assert_eq!(parsed.places[0].typos, 1, "{parsed:#?}");
    assert_eq!(Level::Township.as_str(), "township");
    assert!(format!("{g:?}").contains("units: 804"));
}

/// Stands in for the demo generator: the short village name, and a register detail.
fn register(unit: &Unit, n: usize) -> (String, String) {
    let name = unit.name.as_str();
    if let Some(core) = name.strip_suffix("社区居民委员会") {
        let dirs = ["东", "西", "南", "北", "中"];
        (
            format!("{core}社区"),
            format!("{core}{}路{}号", dirs[n % 5], n % 399 + 1),
        )
    } else {
        let core = name
            .strip_suffix("村民委员会")
            .or_else(|| name.strip_suffix("村委会"))
            .unwrap_or(name);
        (
            format!("{core}村"),
            format!("{}组{}号", n % 12 + 1, n % 180 + 1),
        )
    }
}

/// Top-1 accuracy over all 718 villages for addresses written in several ways. Prints the
/// rates (`cargo test -p wangge-analysis -- --nocapture accuracy`).
#[test]
fn accuracy_over_all_villages() {
    let y = yuxi();
    let g = &y.gazetteer;
    let chinese = [
        "一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二",
    ];
    let mut styles: Vec<(&str, usize, usize, f64)> = vec![
        // Floors a little under the measured rates, to catch regressions. The misses are
        // real ambiguity: two villages of one township equal but for the mistyped
        // character, or a short name shared across the county or the city.
        ("register form", 0, 0, 1.0),
        ("abbreviated, Chinese numerals", 0, 0, 0.99),
        ("office forms, 社, full width", 0, 0, 0.99),
        ("typo in the township", 0, 0, 0.98),
        ("typo in the village", 0, 0, 0.98),
        ("no township", 0, 0, 0.98),
        ("village and detail only", 0, 0, 0.94),
    ];
    let mut failures: Vec<String> = Vec::new();
    for (n, village) in y
        .units
        .iter()
        .filter(|u| u.level == Level::Village)
        .enumerate()
    {
        let chain = g.chain(village.id);
        let (county, township) = (&chain[1].name, &chain[2].name);
        let (short, detail) = register(village, n);
        let detail = normalise_detail(&detail); // 曼竜西路 → 曼龙西路
        let full = format!("云南省玉溪市{county}{township}{short}{detail}");
        assert_eq!(g.detail_of(village.id, &full), detail, "{full}");

        let county_core = county.chars().take(2).collect::<String>();
        let mut township_core = township
            .trim_end_matches("街道")
            .trim_end_matches(['镇', '乡'])
            .to_owned();
        while let Some(shorter) = ["彝族", "傣族", "苗族", "蒙古族"]
            .iter()
            .find_map(|g| township_core.strip_suffix(g))
        {
            township_core = shorter.to_owned();
        }
        let county_short = if county.ends_with("自治县") {
            format!("{county_core}县")
        } else {
            county.clone()
        };
        let township_office = if township.ends_with("街道") {
            format!("{township}办事处")
        } else {
            township.clone()
        };
        let core = short
            .strip_suffix("社区")
            .or_else(|| short.strip_suffix('村'))
            .unwrap();
        let office = if short.ends_with("社区") {
            format!("{core}居委会")
        } else {
            format!("{core}村委会")
        };
        let digits: Vec<&str> = detail
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .collect();
        let chinese_detail = if short.ends_with("社区") {
            detail.clone()
        } else {
            format!("第{}组{}", chinese[n % 12], digits[1])
        };
        let full_width_detail: String = detail
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    char::from_u32(c as u32 + 0xFEE0).unwrap()
                } else {
                    c
                }
            })
            .collect();
        let typo = |name: &str, core: &str| {
            // One character of the distinctive part replaced by a rare one.
            let mut chars: Vec<char> = name.chars().collect();
            chars[core.chars().count() / 2] = '囗';
            chars.into_iter().collect::<String>()
        };
        let village_office = if short.ends_with("社区") {
            short.clone()
        } else {
            format!("{core}村委会")
        };
        let queries = [
            full.clone(),
            format!("玉溪{county_core}{township_core}{short}{chinese_detail}"),
            format!("{county_short} {township_office}，{office} {full_width_detail}"),
            format!("{county}{}{short}{detail}", typo(township, &township_core)),
            format!("{county}{township}{}{detail}", typo(&village_office, core)),
            format!("{county}{short}{detail}"),
            format!("{short}{detail}"),
        ];
        for (k, query) in queries.iter().enumerate() {
            let parsed = g.parse(query);
            let right =
                parsed.best().is_some_and(|b| b.unit_id == village.id) && parsed.detail == detail;
            let unique = parsed
                .unambiguous()
                .is_some_and(|b| b.unit_id == village.id);
            if right {
                styles[k].1 += 1;
            }
            if unique {
                styles[k].2 += 1;
            }
            if !right && failures.len() < 30 {
                failures.push(format!(
                    "{query} → {:?} {:?}",
                    parsed.places.first(),
                    parsed.detail
                ));
            }
        }
    }
    let villages = y.units.iter().filter(|u| u.level == Level::Village).count();
    for (style, right, unique, floor) in &styles {
        let rate = *right as f64 / villages as f64;
        println!(
            "{style:32} top-1 {:5.1}%  unambiguous and right {:5.1}%",
            100.0 * rate,
            100.0 * *unique as f64 / villages as f64
        );
        assert!(
            rate >= *floor,
            "{style}: {rate}; first failures:\n{}",
            failures.join("\n")
        );
    }
}

/// Prints the parse time (`cargo test -p wangge-analysis -- --nocapture parse_time`).
#[test]
fn parse_time() {
    let g = &yuxi().gazetteer;
    let samples = [
        "云南省玉溪市红塔区大营街街道大营街社区大营街东路12号",
        "玉溪红塔小石桥乡响水村第三村民小组45",
        "红塔区大营接街道赵桅社区赵桅西路7号",
        "新村村委会3组",
        "峨山县小街街道棚租村５组８号",
        "地址：红塔区小石桥乡响水村3组45号",
    ];
    let rounds = 500;
    let mut places = 0;
    // The best of five batches: the machine may be busy with other work.
    let per_parse = (0..5)
        .map(|_| {
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                for s in samples {
                    places += g.parse(s).places.len();
                }
            }
            start.elapsed() / (rounds * samples.len()) as u32
        })
        .min()
        .unwrap();
    assert!(places > 0);
    println!(
        "parse: {per_parse:?} per address (average over {} samples)",
        samples.len()
    );
}
