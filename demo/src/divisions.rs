//! Yuxi's real administrative divisions: the statistics bureau's 2023 township and village
//! lists (shipped in `data/`), and the county-level units with their seats and areas.

/// The city: 玉溪市.
pub const CITY_CODE: &str = "530400";
pub const CITY_NAME: &str = "玉溪市";

/// A county-level unit with the facts the generator shapes it by.
#[derive(Debug, Clone, Copy)]
pub struct County {
    pub code: &'static str,
    pub name: &'static str,
    /// The seat (county government), lon/lat.
    pub seat: (f64, f64),
    /// Land area, km².
    pub area_km2: f64,
}

/// The 9 county-level units, with their seats and approximate official land areas.
pub const COUNTIES: [County; 9] = [
    County {
        code: "530402",
        name: "红塔区",
        seat: (102.5437, 24.3520),
        area_km2: 1004.0,
    },
    County {
        code: "530403",
        name: "江川区",
        seat: (102.7536, 24.2876),
        area_km2: 850.0,
    },
    County {
        code: "530423",
        name: "通海县",
        seat: (102.7597, 24.1113),
        area_km2: 721.0,
    },
    County {
        code: "530424",
        name: "华宁县",
        seat: (102.9282, 24.1927),
        area_km2: 1248.0,
    },
    County {
        code: "530425",
        name: "易门县",
        seat: (102.1626, 24.6712),
        area_km2: 1571.0,
    },
    County {
        code: "530426",
        name: "峨山彝族自治县",
        seat: (102.4058, 24.1690),
        area_km2: 1972.0,
    },
    County {
        code: "530427",
        name: "新平彝族傣族自治县",
        seat: (101.9903, 24.0703),
        area_km2: 4223.0,
    },
    County {
        code: "530428",
        name: "元江哈尼族彝族傣族自治县",
        seat: (101.9985, 23.5963),
        area_km2: 2858.0,
    },
    County {
        code: "530481",
        name: "澄江市",
        seat: (102.9080, 24.6738),
        area_km2: 755.0,
    },
];

/// One row of the township or village list.
#[derive(Debug, Clone)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub parent_code: String,
}

const TOWNSHIPS_CSV: &str = include_str!("../../data/yuxi_townships_nbs2023.csv");
const VILLAGES_CSV: &str = include_str!("../../data/yuxi_villages_nbs2023.csv");

/// The 76 townships/streets, in code order.
pub fn townships() -> Vec<Division> {
    parse(TOWNSHIPS_CSV)
}

/// The 718 villages/communities, in code order.
pub fn villages() -> Vec<Division> {
    parse(VILLAGES_CSV)
}

fn parse(text: &str) -> Vec<Division> {
    // Columns: code, name, parent code, then wider codes we do not need.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut rows: Vec<Division> = reader
        .records()
        .map(|r| {
            let r = r.expect("the shipped division list is well-formed CSV");
            Division {
                code: r[0].to_owned(),
                name: r[1].to_owned(),
                parent_code: r[2].to_owned(),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.code.cmp(&b.code));
    rows
}

/// A village's everyday name: `荷花社区居民委员会` → `荷花社区`, `大营村民委员会` → `大营村`.
pub fn short_village_name(name: &str) -> String {
    if let Some(stem) = name.strip_suffix("居民委员会") {
        stem.to_owned()
    } else if let Some(stem) = name
        .strip_suffix("村民委员会")
        .or_else(|| name.strip_suffix("村委会"))
    {
        format!("{stem}村")
    } else if let Some(stem) = name.strip_suffix("委员会") {
        stem.to_owned()
    } else {
        name.to_owned()
    }
}

/// True for an urban community (社区) rather than a rural village (村).
pub fn is_community(name: &str) -> bool {
    name.contains("社区")
}

/// True for a street (街道), the urban kind of township.
pub fn is_street(name: &str) -> bool {
    name.ends_with("街道")
}

/// Chinese numerals for 1..=99, as grid names use them (第十二网格).
pub fn chinese_number(n: usize) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n].to_owned(),
        10 => "十".to_owned(),
        11..=19 => format!("十{}", DIGITS[n % 10]),
        _ if n.is_multiple_of(10) => format!("{}十", DIGITS[(n / 10) % 10]),
        _ => format!("{}十{}", DIGITS[(n / 10) % 10], DIGITS[n % 10]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lists_hold_yuxi() {
        let townships = townships();
        let villages = villages();
        assert_eq!(townships.len(), 76);
        assert_eq!(villages.len(), 718);
        for t in &townships {
            assert!(
                COUNTIES.iter().any(|c| c.code == t.parent_code),
                "{} has a county",
                t.code
            );
        }
        for v in &villages {
            assert!(
                townships.iter().any(|t| t.code == v.parent_code),
                "{} has a township",
                v.code
            );
        }
    }

    #[test]
    fn names_and_numerals() {
        assert_eq!(short_village_name("荷花社区居民委员会"), "荷花社区");
        assert_eq!(short_village_name("大营村民委员会"), "大营村");
        assert_eq!(short_village_name("丕且莫村委会"), "丕且莫村");
        assert_eq!(chinese_number(1), "一");
        assert_eq!(chinese_number(10), "十");
        assert_eq!(chinese_number(12), "十二");
        assert_eq!(chinese_number(20), "二十");
        assert_eq!(chinese_number(35), "三十五");
    }
}
