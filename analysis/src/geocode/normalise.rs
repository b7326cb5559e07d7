//! Text normalisation shared by names, queries and register addresses.
//!
//! [`normalise`] makes two spellings of the same address equal character for character; it
//! is applied to whole addresses before place names are looked up, and to every alias when
//! the gazetteer is built, so both sides always agree. [`normalise_detail`] adds the few
//! rules that only make sense for the part after the place names.

use super::numerals;

/// Words that, right after a number, mean a villagers' group (村民小组), longest first.
/// `社` means it too, unless it starts `社区`.
const GROUP_WORDS: [&str; 6] = ["村民小组", "村小组", "村民组", "生产队", "小组", "队"];

/// Words that mark the numeral run before them as a number (三组, 十二号, 五单元).
const NUMBER_CONTEXT: [&str; 22] = [
    "村民小组",
    "村小组",
    "村民组",
    "生产队",
    "小组",
    "单元",
    "网格",
    "组",
    "号",
    "栋",
    "幢",
    "座",
    "楼",
    "层",
    "室",
    "巷",
    "弄",
    "队",
    "排",
    "户",
    "期",
    "社",
];

/// Normalises an address or a name so that the usual ways of writing it become one string:
///
/// * full-width letters and digits become ASCII (`３组` → `3组`), ASCII letters upper case,
///   the variant `竜` becomes `龙`;
/// * whitespace and punctuation (both widths: `，。、（）【】“”·` …) are dropped, except a
///   dash or slash between two digits (`123-1号`, `3/45`, kept as `-`) and `#` after a
///   number (`45#` → `45号`);
/// * Chinese numerals become Arabic where they are numbers: after `第`, and before
///   组/号/栋/幢/座/单元/楼/层/室/巷/弄/社/队/排/户/期/网格 and the group words (`三十五号` →
///   `35号`, `第十二组` → `12组`, `一百零五号` → `105号`); elsewhere they are left alone, so
///   names such as `十街`, `六一社区` or `五一路` keep their characters;
/// * `第` before a number is dropped;
/// * after a number, `村民小组`, `村小组`, `村民组`, `小组`, `生产队`, `队` and `社` (not `社区`)
///   all become `组`; after a number or letter `幢` becomes `栋`.
///
/// The result is idempotent: `normalise(&normalise(s)) == normalise(s)`.
pub fn normalise(text: &str) -> String {
    let mut chars = fold(text);
    // Each pass can only turn Chinese numerals into digits or drop characters, so this
    // settles; usually the second pass changes nothing.
    for _ in 0..4 {
        let next = unify(&numbers(&chars));
        if next == chars {
            break;
        }
        chars = next;
    }
    chars.into_iter().collect()
}

/// The canonical form of an address detail (the part after the place names), the same for
/// register entries and queries: [`normalise`], then leading zeros dropped from numbers
/// (`045号` → `45号`), and `号` added when the detail ends in a number (`3组45` → `3组45号`,
/// `荷花东路123` → `荷花东路123号`). Idempotent.
pub fn normalise_detail(detail: &str) -> String {
    let mut out = strip_leading_zeros(&normalise(detail));
    if out.chars().last().is_some_and(|c| c.is_ascii_digit()) {
        out.push('号');
    }
    out
}

/// Drops leading zeros of every digit run (a lone `0` stays).
fn strip_leading_zeros(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run = &chars[start..i];
            let first_nonzero = run.iter().position(|&c| c != '0').unwrap_or(run.len() - 1);
            out.extend(&run[first_nonzero..]);
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Character folding: widths, case, variants; drops whitespace and punctuation other than
/// dashes and `#`, which [`unify`] judges in context.
fn fold(text: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(text.len() / 2);
    for c in text.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '竜' => '龙',
            '峩' => '峨',
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' | '~' | '﹣' | '/' => '-',
            _ => c,
        };
        let c = c.to_ascii_uppercase();
        if c == '-' || c == '#' || c.is_alphanumeric() {
            out.push(c);
        }
    }
    out
}

fn starts_with(chars: &[char], word: &str) -> bool {
    let mut rest = chars.iter();
    word.chars().all(|w| rest.next() == Some(&w))
}

/// Chinese numeral runs that are numbers by context become Arabic digits.
fn numbers(chars: &[char]) -> Vec<char> {
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if !numerals::is_numeral(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && numerals::is_numeral(chars[i]) {
            i += 1;
        }
        let run = &chars[start..i];
        let rest = &chars[i..];
        let after_di = start > 0 && chars[start - 1] == '第';
        let before_marker = NUMBER_CONTEXT
            .iter()
            .any(|w| starts_with(rest, w) && !(*w == "社" && rest.get(1) == Some(&'区')));
        match (after_di || before_marker)
            .then(|| numerals::to_arabic(run))
            .flatten()
        {
            Some(digits) => out.extend(digits.chars()),
            None => out.extend_from_slice(run),
        }
    }
    out
}

/// Rules around numbers: `第`, group words, `幢`, `#`, dashes.
fn unify(chars: &[char]) -> Vec<char> {
    let mut out: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let after_digit = out.last().is_some_and(char::is_ascii_digit);
        let rest = &chars[i..];
        if c == '第' && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
            i += 1;
            continue;
        }
        if c == '-' {
            if after_digit && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
                out.push('-');
            }
            i += 1;
            continue;
        }
        if c == '#' {
            if after_digit {
                out.push('号');
            }
            i += 1;
            continue;
        }
        if after_digit {
            if let Some(w) = GROUP_WORDS.iter().find(|w| starts_with(rest, w)) {
                out.push('组');
                i += w.chars().count();
                continue;
            }
            if c == '社' && chars.get(i + 1) != Some(&'区') {
                out.push('组');
                i += 1;
                continue;
            }
        }
        if c == '幢' && out.last().is_some_and(char::is_ascii_alphanumeric) {
            out.push('栋');
            i += 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_case_and_punctuation() {
        assert_eq!(normalise("３组４５号"), "3组45号");
        assert_eq!(normalise(" 大营村， 3组（45号）"), "大营村3组45号");
        assert_eq!(normalise("荷花东路【123】号。"), "荷花东路123号");
        assert_eq!(normalise("a栋\t２单元"), "A栋2单元");
        assert_eq!(normalise("“玉兴街道”·荷花社区、"), "玉兴街道荷花社区");
        assert_eq!(normalise("者竜乡"), "者龙乡");
    }

    #[test]
    fn dashes_and_hashes() {
        assert_eq!(normalise("荷花东路123－1号"), "荷花东路123-1号");
        assert_eq!(normalise("123 - 1号"), "123-1号");
        assert_eq!(normalise("3组-45号"), "3组45号");
        assert_eq!(normalise("大营村—3组"), "大营村3组");
        assert_eq!(normalise("3组45#"), "3组45号");
        assert_eq!(normalise("#3组"), "3组");
        assert_eq!(normalise("3/45"), "3-45");
    }

    #[test]
    fn chinese_numerals_in_number_contexts() {
        assert_eq!(normalise("三组"), "3组");
        assert_eq!(normalise("十组"), "10组");
        assert_eq!(normalise("十二组"), "12组");
        assert_eq!(normalise("二十组"), "20组");
        assert_eq!(normalise("三十五号"), "35号");
        assert_eq!(normalise("一百零五号"), "105号");
        assert_eq!(normalise("五栋二单元三〇一室"), "5栋2单元301室");
        assert_eq!(normalise("第三组"), "3组");
        assert_eq!(normalise("第十二"), "12");
        assert_eq!(normalise("三 组 四十五 号"), "3组45号");
    }

    #[test]
    fn numerals_in_names_are_kept() {
        assert_eq!(normalise("十街彝族乡"), "十街彝族乡");
        assert_eq!(normalise("六一社区"), "六一社区");
        assert_eq!(normalise("五一路"), "五一路");
        assert_eq!(normalise("九村镇"), "九村镇");
        assert_eq!(normalise("老五斗村委会"), "老五斗村委会");
    }

    #[test]
    fn group_words_become_zu() {
        assert_eq!(normalise("3社"), "3组");
        assert_eq!(normalise("三社45号"), "3组45号");
        assert_eq!(normalise("第三村民小组"), "3组");
        assert_eq!(normalise("3村小组"), "3组");
        assert_eq!(normalise("五小组"), "5组");
        assert_eq!(normalise("3队"), "3组");
        assert_eq!(normalise("二生产队"), "2组");
        assert_eq!(normalise("3幢"), "3栋");
        assert_eq!(normalise("a幢"), "A栋");
        // 社区 after a number is not a group.
        assert_eq!(normalise("3社区"), "3社区");
    }

    #[test]
    fn detail_canonical_form() {
        assert_eq!(normalise_detail("3组45"), "3组45号");
        assert_eq!(normalise_detail("3组45号"), "3组45号");
        assert_eq!(normalise_detail("第三组四十五号"), "3组45号");
        assert_eq!(normalise_detail("３社０４５"), "3组45号");
        assert_eq!(normalise_detail("荷花东路123"), "荷花东路123号");
        assert_eq!(normalise_detail("3组"), "3组");
        assert_eq!(normalise_detail("0"), "0号");
        assert_eq!(normalise_detail("100号"), "100号");
        assert_eq!(normalise_detail("3组0045号"), "3组45号");
        assert_eq!(normalise_detail(""), "");
    }

    #[test]
    fn idempotent() {
        let samples = [
            "３组４５号",
            "第三村民小组 四十五",
            "三-组",
            "三 - 五号",
            "荷花东路１２３－０１",
            "大营村，第十二社，一百零五#",
            "3组-0-45",
            "五栋二单元三〇一室",
            "--1--2--",
            "第第三组",
            "十二",
            "a-b#c",
            "0",
            "00",
        ];
        for s in samples {
            let once = normalise(s);
            assert_eq!(normalise(&once), once, "normalise({s:?})");
            let detail = normalise_detail(s);
            assert_eq!(normalise_detail(&detail), detail, "normalise_detail({s:?})");
            assert_eq!(
                normalise(&detail),
                detail,
                "normalise of the detail of {s:?}"
            );
        }
    }
}
