//! Matching a name at the start of a text with one typo (edit distance 1).

/// Pushes to `ends` each length `n` for which `text[..n]` is exactly one edit away from
/// `alias`: one substituted character, one missing (not the last: a name cut short is
/// another alias's business), or one extra inside the name (an extra character before it
/// is unrecognised text, after it is the rest of the address). The edit must fall in the
/// first `editable` characters, the distinctive part of the name: `荷化社区` is 荷花社区 with a
/// typo, but `小石桥乡` is not 小石桥村 with one. Pushes nothing when `text` starts with
/// `alias` exactly.
pub(crate) fn near_prefix(alias: &[char], editable: usize, text: &[char], ends: &mut Vec<usize>) {
    let len = alias.len();
    let same = alias.iter().zip(text).take_while(|(a, t)| a == t).count();
    if same == len {
        return;
    }
    let i = same; // the first differing position in the alias
    if i >= editable {
        return;
    }
    // Substituted alias[i].
    if text.len() >= len && text[i + 1..len] == alias[i + 1..] {
        ends.push(len);
    }
    // Missing alias[i], not the last character.
    if i + 1 < len && text.len() >= len - 1 && text[i..len - 1] == alias[i + 1..] {
        ends.push(len - 1);
    }
    // An extra character before alias[i], not before the first.
    if i >= 1 && text.len() > len && text[i + 1..=len] == alias[i..] {
        ends.push(len + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(alias: &str, text: &str) -> Vec<usize> {
        editable_ends(alias, usize::MAX, text)
    }

    fn editable_ends(alias: &str, editable: usize, text: &str) -> Vec<usize> {
        let alias: Vec<char> = alias.chars().collect();
        let text: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        near_prefix(&alias, editable, &text, &mut out);
        out
    }

    #[test]
    fn one_edit() {
        assert_eq!(ends("大营街街道", "大营接街道3组"), vec![5]);
        assert_eq!(ends("荷花社区", "荷化社区"), vec![4]);
        assert_eq!(ends("荷花社区", "和花社区"), vec![4]);
        assert_eq!(ends("大营街街道", "大营街道大营"), vec![4]);
        assert_eq!(ends("大营街街道", "营街街道"), vec![4]);
        assert_eq!(ends("小石桥乡", "小石石桥乡5组"), vec![5]);
    }

    #[test]
    fn exact_and_far_are_not_typos() {
        assert!(ends("荷花社区", "荷花社区12").is_empty());
        assert!(ends("荷花社区", "荷化社会").is_empty());
        // Cut short at the end, or an extra character at either end: other rules' business.
        assert!(ends("大营村", "大营").is_empty());
        assert!(ends("大营村", "X大营村").is_empty());
        assert!(ends("玉兴", "玉").is_empty());
    }

    #[test]
    fn only_the_distinctive_part_may_be_wrong() {
        assert_eq!(editable_ends("荷花社区", 2, "荷化社区"), vec![4]);
        assert!(editable_ends("小石桥村", 3, "小石桥乡").is_empty());
        assert!(editable_ends("红塔社区", 2, "红塔区").is_empty());
        assert_eq!(editable_ends("大营街街道", 3, "大营接街道"), vec![5]);
    }
}
