//! Chinese numerals (小写 一二三, 大写 壹贰叁, with 十/百/千) as Arabic digits.

/// The value of a Chinese digit character, `两` included.
fn digit_value(c: char) -> Option<u64> {
    Some(match c {
        '零' | '〇' => 0,
        '一' | '壹' => 1,
        '二' | '贰' | '两' => 2,
        '三' | '叁' => 3,
        '四' | '肆' => 4,
        '五' | '伍' => 5,
        '六' | '陆' => 6,
        '七' | '柒' => 7,
        '八' | '捌' => 8,
        '九' | '玖' => 9,
        _ => return None,
    })
}

/// The value of a Chinese multiplier character.
fn unit_value(c: char) -> Option<u64> {
    Some(match c {
        '十' | '拾' => 10,
        '百' | '佰' => 100,
        '千' | '仟' => 1000,
        _ => return None,
    })
}

/// True for a character that can be part of a Chinese numeral.
pub(crate) fn is_numeral(c: char) -> bool {
    digit_value(c).is_some() || unit_value(c).is_some()
}

/// The Arabic digits for a run of Chinese numeral characters, or `None` if it is not a
/// well-formed number.
///
/// With multipliers the run is read positionally: `十`→10, `十二`→12, `二十`→20,
/// `三十五`→35, `一百零五`→105, and the colloquial `一百一`→110. Without them it is read digit
/// by digit, as house numbers are spoken: `二〇五`→205, `三五`→35.
pub(crate) fn to_arabic(run: &[char]) -> Option<String> {
    if run.is_empty() || run.len() > 12 {
        return None;
    }
    if !run.iter().any(|&c| unit_value(c).is_some()) {
        return run
            .iter()
            .map(|&c| digit_value(c).and_then(|d| char::from_digit(d as u32, 10)))
            .collect();
    }
    let mut total = 0u64;
    let mut pending: Option<u64> = None;
    let mut last_unit = u64::MAX;
    let mut zero_since_unit = false;
    for &c in run {
        if let Some(d) = digit_value(c) {
            if d == 0 {
                zero_since_unit = true;
            } else if pending.is_some() {
                return None; // two digits in a row next to a multiplier: 三五十
            } else {
                pending = Some(d);
            }
        } else {
            let u = unit_value(c)?;
            if u >= last_unit {
                return None; // 十百, 百百: not a number
            }
            total += pending.take().unwrap_or(1) * u;
            last_unit = u;
            zero_since_unit = false;
        }
    }
    if let Some(d) = pending {
        // 一百一 is 110 in speech, 一百零一 is 101.
        total += if last_unit >= 100 && !zero_since_unit {
            d * last_unit / 10
        } else {
            d
        };
    }
    Some(total.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Option<String> {
        to_arabic(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn positional_numbers() {
        assert_eq!(n("十").as_deref(), Some("10"));
        assert_eq!(n("十二").as_deref(), Some("12"));
        assert_eq!(n("二十").as_deref(), Some("20"));
        assert_eq!(n("三十五").as_deref(), Some("35"));
        assert_eq!(n("一百零五").as_deref(), Some("105"));
        assert_eq!(n("一百一十").as_deref(), Some("110"));
        assert_eq!(n("一百一").as_deref(), Some("110"));
        assert_eq!(n("一千零一").as_deref(), Some("1001"));
        assert_eq!(n("两百").as_deref(), Some("200"));
        assert_eq!(n("叁拾伍").as_deref(), Some("35"));
    }

    #[test]
    fn digit_by_digit_numbers() {
        assert_eq!(n("三").as_deref(), Some("3"));
        assert_eq!(n("二〇五").as_deref(), Some("205"));
        assert_eq!(n("三五").as_deref(), Some("35"));
        assert_eq!(n("零").as_deref(), Some("0"));
    }

    #[test]
    fn malformed_runs_are_refused() {
        assert_eq!(n(""), None);
        assert_eq!(n("十百"), None);
        assert_eq!(n("三五十"), None);
        assert!(is_numeral('十') && is_numeral('〇') && !is_numeral('组'));
    }
}
