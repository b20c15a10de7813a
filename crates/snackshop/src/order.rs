//! Understanding what a customer typed: a purchase ("西瓜", "2 西瓜", "西瓜 ×3", "两个西瓜",
//! "2x watermelon", "3") or a command (帮助/help, 菜单/menu, 余额/balance, 名字/name, 拜拜/bye).
//!
//! The input comes straight from the network, so [`parse`] accepts any `&str`, never panics and
//! only slices at character boundaries. Goods are looked up by Chinese name, English name
//! (case-insensitive, a plural "s" is forgiven) or menu number through a [`GoodsIndex`].

use std::collections::HashMap;

use thiserror::Error;

use crate::replies::Lang;

/// The most a customer can buy in one line.
pub const MAX_QTY: u32 = 999;

/// The longest customer name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// What a customer asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Buy `qty` of the good at menu position `good` (0-based).
    Buy {
        /// Index into the menu.
        good: usize,
        /// How many, 1..=[`MAX_QTY`].
        qty: u32,
    },
    /// Show the goods again.
    Menu,
    /// Explain how to shop.
    Help,
    /// Show the balance.
    Balance,
    /// Leave the shop.
    Bye,
    /// Shop under this name from now on.
    Name(String),
    /// Speak this language from now on.
    Lang(Lang),
    /// An empty (or all-whitespace) line.
    Empty,
}

/// Why a line is not a request the shop can carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum OrderError {
    /// No good by that name or number.
    #[error("we don't sell that")]
    UnknownGoods,
    /// A quantity of zero.
    #[error("quantity must be at least 1")]
    ZeroQuantity,
    /// A quantity above [`MAX_QTY`].
    #[error("at most {MAX_QTY} at a time")]
    TooMany,
    /// A good is named, but the quantity with it is not a count we can read
    /// (`-1`, `1.5`, `半个`, `一百个`).
    #[error("quantity not understood")]
    BadQuantity,
    /// An empty, overlong or control-character name.
    #[error("names are 1 to {MAX_NAME_CHARS} characters without control characters")]
    BadName,
}

/// Single words (after [`normalize`]) that are commands rather than goods.
const COMMANDS: &[(&str, Command)] = &[
    ("help", Command::Help),
    ("h", Command::Help),
    ("?", Command::Help),
    ("帮助", Command::Help),
    ("怎么买", Command::Help),
    ("menu", Command::Menu),
    ("list", Command::Menu),
    ("goods", Command::Menu),
    ("菜单", Command::Menu),
    ("商品", Command::Menu),
    ("有什么", Command::Menu),
    ("balance", Command::Balance),
    ("money", Command::Balance),
    ("wallet", Command::Balance),
    ("余额", Command::Balance),
    ("钱包", Command::Balance),
    ("查余额", Command::Balance),
    ("bye", Command::Bye),
    ("bye bye", Command::Bye),
    ("goodbye", Command::Bye),
    ("quit", Command::Bye),
    ("exit", Command::Bye),
    ("拜拜", Command::Bye),
    ("再见", Command::Bye),
    ("退出", Command::Bye),
    ("english", Command::English),
    ("en", Command::English),
    ("lang en", Command::English),
    ("中文", Command::Chinese),
    ("chinese", Command::Chinese),
    ("zh", Command::Chinese),
    ("lang zh", Command::Chinese),
];

/// Prefixes that introduce a name: "名字 张三", "我叫张三", "name alice".
const NAME_PREFIXES: &[&str] = &["name ", "名字", "我叫"];

/// Polite words around an order that do not change it: "我要两个西瓜", "buy 2 watermelons".
const ORDER_PREFIXES: &[&str] = &[
    "我要买",
    "我想买",
    "我想要",
    "我要",
    "给我",
    "来",
    "买",
    "要",
    "i want ",
    "i'd like ",
    "i would like ",
    "give me ",
    "buy ",
    "please ",
];
const ORDER_SUFFIXES: &[&str] = &["吧", "谢谢", " please", " thanks", " thank you"];

/// Counting words between a quantity and a good: "两个西瓜", "3 瓶 矿泉水".
const UNITS: &[char] = &[
    '个', '瓶', '袋', '包', '份', '斤', '件', '盒', '只', '颗', '听', '罐', '杯', '块',
];

/// Separators between a quantity and a good: "2x watermelon", "西瓜 ×3", "西瓜*3".
const TIMES: &[char] = &['x', '×', '*'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Help,
    Menu,
    Balance,
    Bye,
    English,
    Chinese,
}

/// Looks goods up by either name or by menu number.
#[derive(Debug, Clone, Default)]
pub struct GoodsIndex {
    by_name: HashMap<String, usize>,
    count: usize,
}

impl GoodsIndex {
    /// Indexes goods given as `(zh, en)` names in menu order.
    pub fn new<'a>(names: impl IntoIterator<Item = (&'a str, &'a str)>) -> GoodsIndex {
        let mut index = GoodsIndex::default();
        for (i, (zh, en)) in names.into_iter().enumerate() {
            index.by_name.entry(normalize(zh)).or_insert(i);
            index.by_name.entry(normalize(en)).or_insert(i);
            index.count = i + 1;
        }
        index
    }

    /// The good a normalized phrase names: a name, a plural English name, or a 1-based number.
    fn lookup(&self, phrase: &str) -> Option<usize> {
        if phrase.is_empty() {
            return None;
        }
        if let Some(&i) = self.by_name.get(phrase) {
            return Some(i);
        }
        if phrase.bytes().all(|b| b.is_ascii_digit()) {
            return match phrase.parse::<usize>() {
                Ok(n) if (1..=self.count).contains(&n) => Some(n - 1),
                _ => None,
            };
        }
        for plural in ["es", "s"] {
            if let Some(single) = phrase.strip_suffix(plural)
                && let Some(&i) = self.by_name.get(single)
            {
                return Some(i);
            }
        }
        None
    }
}

/// Lower-cases, maps full-width digits to ASCII, collapses whitespace and drops trailing
/// punctuation, so "  西瓜 。" and "Watermelon!" compare equal to "西瓜" and "watermelon".
pub fn normalize(text: &str) -> String {
    // Full-width forms (what a Chinese input method types: "2", "!", "X") become ASCII.
    let mapped: String = text
        .chars()
        .map(|c| match u32::from(c) {
            0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect::<String>()
        .to_lowercase();
    let mut words = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    while let Some(c) = words.chars().last() {
        if matches!(c, '。' | '、' | '.' | '!' | ',' | '~' | ';') {
            words.pop();
            let trimmed = words.trim_end().len();
            words.truncate(trimmed);
        } else {
            break;
        }
    }
    words
}

/// True if `word` (after [`normalize`]) is a command, so it cannot be the name of a good.
pub fn is_reserved(word: &str) -> bool {
    let word = normalize(word);
    COMMANDS.iter().any(|(w, _)| *w == word) || word.bytes().all(|b| b.is_ascii_digit())
}

/// Reads one line from a customer.
pub fn parse(line: &str, index: &GoodsIndex) -> Result<Request, OrderError> {
    let text = normalize(line);
    if text.is_empty() {
        return Ok(Request::Empty);
    }
    if let Some(command) = COMMANDS.iter().find(|(w, _)| *w == text).map(|(_, c)| *c) {
        return Ok(match command {
            Command::Help => Request::Help,
            Command::Menu => Request::Menu,
            Command::Balance => Request::Balance,
            Command::Bye => Request::Bye,
            Command::English => Request::Lang(Lang::En),
            Command::Chinese => Request::Lang(Lang::Zh),
        });
    }
    if let Some(name) = parse_name(line) {
        return name;
    }
    parse_order(&text, index)
}

/// "name alice" / "名字 张三" / "我叫张三": the name keeps its case, only whitespace is tidied.
fn parse_name(line: &str) -> Option<Result<Request, OrderError>> {
    let tidy = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = NAME_PREFIXES.iter().find_map(|prefix| {
        let head = tidy.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix)
            .then(|| tidy.get(prefix.len()..).unwrap_or(""))
    })?;
    let name = rest.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Some(Err(OrderError::BadName));
    }
    Some(Ok(Request::Name(name.to_string())))
}

/// A purchase: a good, optionally with a quantity before or after it, optionally wrapped in
/// polite words.
fn parse_order(text: &str, index: &GoodsIndex) -> Result<Request, OrderError> {
    let mut candidates = vec![text];
    let unprefixed = ORDER_PREFIXES
        .iter()
        .find_map(|p| text.strip_prefix(p))
        .map(str::trim);
    if let Some(rest) = unprefixed {
        candidates.push(rest);
    }
    for base in candidates.clone() {
        if let Some(rest) = ORDER_SUFFIXES.iter().find_map(|s| base.strip_suffix(s)) {
            candidates.push(rest.trim());
        }
    }
    // A quantity problem with a good we recognised beats "we don't have that".
    let mut best = OrderError::UnknownGoods;
    for candidate in &candidates {
        match order_in(candidate, index) {
            Ok(Some((good, qty))) => return Ok(Request::Buy { good, qty }),
            Ok(None) => {}
            Err(e) => best = e,
        }
    }
    if best == OrderError::UnknownGoods && candidates.iter().any(|c| odd_quantity(c, index)) {
        best = OrderError::BadQuantity;
    }
    Err(best)
}

/// Whether `text` names a good together with something that looks like a
/// quantity but is not one we read: `-1 西瓜`, `1.5 西瓜`, `半个西瓜`, `西瓜 -2`.
fn odd_quantity(text: &str, index: &GoodsIndex) -> bool {
    let beside = |c: char| c.is_whitespace() || UNITS.contains(&c) || TIMES.contains(&c);
    index.by_name.keys().any(|name| {
        [name.clone(), format!("{name}s"), format!("{name}es")]
            .iter()
            .any(|name| {
                let before = text
                    .strip_suffix(name.as_str())
                    .map(|rest| rest.trim_end_matches(beside));
                let after = text
                    .strip_prefix(name.as_str())
                    .map(|rest| rest.trim_start_matches(beside));
                before.is_some_and(numberish) || after.is_some_and(numberish)
            })
    })
}

/// Text made of what quantities are written with: digits, signs, decimal
/// points, Chinese numerals and words like 半 (half) or 几 (a few).
fn numberish(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text
            .chars()
            .any(|c| c.is_ascii_digit() || NUMERAL_CHARS.contains(&c) || VAGUE.contains(&c))
        && text.chars().all(|c| {
            c.is_ascii_digit()
                || matches!(c, '.' | '-' | '+' | ',' | '/' | ' ')
                || NUMERAL_CHARS.contains(&c)
                || VAGUE.contains(&c)
        })
}

/// Tries "good", "qty good" and "good qty" on one phrase.
fn order_in(text: &str, index: &GoodsIndex) -> Result<Option<(usize, u32)>, OrderError> {
    if let Some(good) = index.lookup(text) {
        return Ok(Some((good, 1)));
    }
    let mut outcome = Ok(None);
    for (qty, rest) in leading_quantity(text) {
        for phrase in after_quantity(rest) {
            if let Some(good) = index.lookup(phrase) {
                match check_qty(qty) {
                    Ok(q) => return Ok(Some((good, q))),
                    Err(e) => outcome = Err(e),
                }
            }
        }
    }
    for (rest, qty) in trailing_quantity(text) {
        if let Some(good) = index.lookup(rest) {
            match check_qty(qty) {
                Ok(q) => return Ok(Some((good, q))),
                Err(e) => outcome = Err(e),
            }
        }
    }
    outcome
}

/// A parsed quantity: a number that may not fit in `u32`, or Chinese
/// numerals that do not make a count we read (一百, 两十).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qty {
    Count(u32),
    Huge,
    Invalid,
}

fn check_qty(qty: Qty) -> Result<u32, OrderError> {
    match qty {
        Qty::Count(0) => Err(OrderError::ZeroQuantity),
        Qty::Count(n) if n <= MAX_QTY => Ok(n),
        Qty::Invalid => Err(OrderError::BadQuantity),
        _ => Err(OrderError::TooMany),
    }
}

fn digits_to_qty(digits: &str) -> Qty {
    digits.parse::<u32>().map_or(Qty::Huge, Qty::Count)
}

/// Characters Chinese numbers are written with. Only counts from 一 to 九十九
/// are read (see [`chinese_count`]); the others make a quantity we say we
/// do not understand rather than a good we do not have.
const NUMERAL_CHARS: &[char] = &[
    '零', '〇', '一', '二', '两', '三', '四', '五', '六', '七', '八', '九', '十', '百', '千', '万',
];

/// Words for an amount that is not a count: half, a few, how many, some.
const VAGUE: &[char] = &['半', '几', '多', '少', '些'];

/// One Chinese digit, 一 to 九 (两 only where it stands alone).
fn chinese_digit(c: char) -> Option<u32> {
    Some(match c {
        '一' => 1,
        '二' => 2,
        '三' => 3,
        '四' => 4,
        '五' => 5,
        '六' => 6,
        '七' => 7,
        '八' => 8,
        '九' => 9,
        _ => return None,
    })
}

/// A count written in Chinese, 一 (1) to 九十九 (99): 一…九, 两, 十, 十一…十九,
/// 二十…九十 and 二十一…九十九. Anything else (一百, 两十, 十十) is `None`.
fn chinese_count(text: &str) -> Option<u32> {
    let chars: Vec<char> = text.chars().collect();
    match chars.as_slice() {
        ['两'] => Some(2),
        ['十'] => Some(10),
        [d] => chinese_digit(*d),
        ['十', d] => chinese_digit(*d).map(|d| 10 + d),
        [t, '十'] => chinese_digit(*t).filter(|t| *t >= 2).map(|t| t * 10),
        [t, '十', d] => {
            let t = chinese_digit(*t).filter(|t| *t >= 2)?;
            chinese_digit(*d).map(|d| t * 10 + d)
        }
        _ => None,
    }
}

/// Quantities at the start, with the rest of the text: ASCII digits, or
/// Chinese numerals. Every length of a numeral prefix is offered, longest
/// first, because a good's name may itself start with a numeral (二十三明治
/// is 20 三明治).
fn leading_quantity(text: &str) -> Vec<(Qty, &str)> {
    let end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if end > 0 {
        return match (text.get(..end), text.get(end..)) {
            (Some(digits), Some(rest)) => vec![(digits_to_qty(digits), rest)],
            _ => Vec::new(),
        };
    }
    let cuts: Vec<usize> = text
        .char_indices()
        .take_while(|(_, c)| NUMERAL_CHARS.contains(c))
        .map(|(i, c)| i + c.len_utf8())
        .collect();
    cuts.iter()
        .rev()
        .filter_map(|&cut| {
            let (numerals, rest) = (text.get(..cut)?, text.get(cut..)?);
            Some((
                chinese_count(numerals).map_or(Qty::Invalid, Qty::Count),
                rest,
            ))
        })
        .collect()
}

/// What may follow a leading quantity: the good directly, or after one separator or unit
/// ("2 西瓜", "2x watermelon", "两个西瓜"). Both readings are offered, because a good's name may
/// itself start with 'x' or a unit character.
fn after_quantity(rest: &str) -> Vec<&str> {
    let rest = rest.trim_start();
    let mut phrases = vec![rest];
    if let Some(first) = rest.chars().next()
        && (TIMES.contains(&first) || UNITS.contains(&first))
        && let Some(after) = rest.get(first.len_utf8()..)
    {
        phrases.push(after.trim_start());
    }
    phrases
}

/// Quantities at the end ("西瓜 3", "西瓜×3", "watermelon x3", "西瓜两个", "西瓜 3 个",
/// "西瓜十一个"), each with the phrase before it; for Chinese numerals every
/// length of the numeral suffix is offered, longest first.
fn trailing_quantity(text: &str) -> Vec<(&str, Qty)> {
    let mut body = text.trim_end();
    if let Some(last) = body.chars().last()
        && UNITS.contains(&last)
    {
        body = body
            .get(..body.len() - last.len_utf8())
            .unwrap_or("")
            .trim_end();
    }
    let digits_start = body
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_digit())
        .last()
        .map(|(i, _)| i);
    let splits: Vec<(&str, Qty)> = match digits_start {
        Some(start) => match (body.get(..start), body.get(start..)) {
            (Some(before), Some(digits)) => vec![(before, digits_to_qty(digits))],
            _ => Vec::new(),
        },
        None => body
            .char_indices()
            .rev()
            .take_while(|(_, c)| NUMERAL_CHARS.contains(c))
            .map(|(i, _)| i)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter_map(|start| {
                let (before, numerals) = (body.get(..start)?, body.get(start..)?);
                Some((
                    before,
                    chinese_count(numerals).map_or(Qty::Invalid, Qty::Count),
                ))
            })
            .collect(),
    };
    splits
        .into_iter()
        .filter_map(|(before, qty)| {
            let mut before = before.trim_end();
            if let Some(last) = before.chars().last()
                && TIMES.contains(&last)
            {
                before = before.get(..before.len() - last.len_utf8())?.trim_end();
            }
            (!before.is_empty()).then_some((before, qty))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index() -> GoodsIndex {
        GoodsIndex::new([
            ("瓜子", "sunflower seeds"),
            ("西瓜", "watermelon"),
            ("矿泉水", "mineral water"),
            ("三明治", "sandwich"),
            ("木糖醇", "xylitol gum"),
        ])
    }

    fn buy(good: usize, qty: u32) -> Result<Request, OrderError> {
        Ok(Request::Buy { good, qty })
    }

    #[test]
    fn goods_by_name_in_either_language_or_number() {
        let idx = index();
        assert_eq!(parse("西瓜", &idx), buy(1, 1));
        assert_eq!(parse("watermelon", &idx), buy(1, 1));
        assert_eq!(parse("  Watermelon!  ", &idx), buy(1, 1));
        assert_eq!(parse("Mineral   Water", &idx), buy(2, 1));
        assert_eq!(parse("2", &idx), buy(1, 1));
        assert_eq!(parse("\u{FF12}", &idx), buy(1, 1));
        assert_eq!(parse("西瓜\u{FF01}", &idx), buy(1, 1));
        assert_eq!(parse("\u{FF13} \u{FF37}atermelon", &idx), buy(1, 3));
        assert_eq!(parse("三明治", &idx), buy(3, 1));
        assert_eq!(parse("xylitol gum", &idx), buy(4, 1));
    }

    #[test]
    fn quantities_before_or_after() {
        let idx = index();
        assert_eq!(parse("2 西瓜", &idx), buy(1, 2));
        assert_eq!(parse("西瓜 2", &idx), buy(1, 2));
        assert_eq!(parse("2x watermelon", &idx), buy(1, 2));
        assert_eq!(parse("2 x watermelon", &idx), buy(1, 2));
        assert_eq!(parse("watermelon x3", &idx), buy(1, 3));
        assert_eq!(parse("西瓜×3", &idx), buy(1, 3));
        assert_eq!(parse("西瓜*3", &idx), buy(1, 3));
        assert_eq!(parse("3 watermelons", &idx), buy(1, 3));
        assert_eq!(parse("两个西瓜", &idx), buy(1, 2));
        assert_eq!(parse("三瓶矿泉水", &idx), buy(2, 3));
        assert_eq!(parse("西瓜两个", &idx), buy(1, 2));
        assert_eq!(parse("西瓜 3 个", &idx), buy(1, 3));
        assert_eq!(parse("2 3", &idx), buy(2, 2));
        assert_eq!(parse("两个三明治", &idx), buy(3, 2));
        assert_eq!(parse("2 xylitol gum", &idx), buy(4, 2));
        assert_eq!(parse("2x xylitol gum", &idx), buy(4, 2));
    }

    #[test]
    fn chinese_numerals_up_to_ninety_nine() {
        let idx = index();
        assert_eq!(parse("十个西瓜", &idx), buy(1, 10));
        assert_eq!(parse("十一个西瓜", &idx), buy(1, 11));
        assert_eq!(parse("二十三瓶矿泉水", &idx), buy(2, 23));
        assert_eq!(parse("九十九个西瓜", &idx), buy(1, 99));
        assert_eq!(parse("我要二十个西瓜", &idx), buy(1, 20));
        assert_eq!(parse("西瓜十一个", &idx), buy(1, 11));
        assert_eq!(parse("西瓜 二十", &idx), buy(1, 20));
        assert_eq!(parse("西瓜×十二", &idx), buy(1, 12));
        // A good whose name starts with a numeral: both readings are tried.
        assert_eq!(parse("两个三明治", &idx), buy(3, 2));
        assert_eq!(parse("二十三明治", &idx), buy(3, 20));
        assert_eq!(parse("三明治", &idx), buy(3, 1));
    }

    #[test]
    fn quantities_that_are_not_understood_say_so() {
        let idx = index();
        for line in [
            "-1 西瓜",
            "1.5 西瓜",
            "西瓜 -1",
            "西瓜 1.5",
            "西瓜*2.5",
            "半个西瓜",
            "几个西瓜",
            "一百个西瓜",
            "两十个西瓜",
            "十十个西瓜",
            "1.5 watermelons",
            "-2x watermelon",
            "我要 -1 个西瓜",
        ] {
            assert_eq!(parse(line, &idx), Err(OrderError::BadQuantity), "{line:?}");
        }
        // Not a quantity problem: no good is named.
        assert_eq!(parse("-1 红牛", &idx), Err(OrderError::UnknownGoods));
        assert_eq!(parse("1.5", &idx), Err(OrderError::UnknownGoods));
    }

    #[test]
    fn polite_words_are_ignored() {
        let idx = index();
        assert_eq!(parse("我要两个西瓜", &idx), buy(1, 2));
        assert_eq!(parse("来一瓶矿泉水吧", &idx), buy(2, 1));
        assert_eq!(parse("buy 2 watermelons please", &idx), buy(1, 2));
        assert_eq!(parse("I want sunflower seeds", &idx), buy(0, 1));
    }

    #[test]
    fn bad_quantities() {
        let idx = index();
        assert_eq!(parse("0 西瓜", &idx), Err(OrderError::ZeroQuantity));
        assert_eq!(parse("西瓜 0", &idx), Err(OrderError::ZeroQuantity));
        assert_eq!(parse("1000 西瓜", &idx), Err(OrderError::TooMany));
        assert_eq!(
            parse("99999999999999999999 西瓜", &idx),
            Err(OrderError::TooMany)
        );
        assert_eq!(parse("999 西瓜", &idx), buy(1, 999));
    }

    #[test]
    fn unknown_goods() {
        let idx = index();
        for line in [
            "红牛",
            "red bull",
            "0",
            "6",
            "2 红牛",
            "西瓜西瓜",
            "x",
            "个",
            "西瓜 x",
            "两",
        ] {
            assert_eq!(parse(line, &idx), Err(OrderError::UnknownGoods), "{line:?}");
        }
    }

    #[test]
    fn commands() {
        let idx = index();
        assert_eq!(parse("", &idx), Ok(Request::Empty));
        assert_eq!(parse(" \t ", &idx), Ok(Request::Empty));
        assert_eq!(parse("拜拜", &idx), Ok(Request::Bye));
        assert_eq!(parse("BYE", &idx), Ok(Request::Bye));
        assert_eq!(parse("bye!", &idx), Ok(Request::Bye));
        assert_eq!(parse("帮助", &idx), Ok(Request::Help));
        assert_eq!(parse("help", &idx), Ok(Request::Help));
        assert_eq!(parse("?", &idx), Ok(Request::Help));
        assert_eq!(parse("\u{FF1F}", &idx), Ok(Request::Help));
        assert_eq!(parse("菜单", &idx), Ok(Request::Menu));
        assert_eq!(parse("余额", &idx), Ok(Request::Balance));
        assert_eq!(parse("english", &idx), Ok(Request::Lang(Lang::En)));
        assert_eq!(parse("中文", &idx), Ok(Request::Lang(Lang::Zh)));
    }

    #[test]
    fn names() {
        let idx = index();
        assert_eq!(parse("name Alice", &idx), Ok(Request::Name("Alice".into())));
        assert_eq!(
            parse("NAME  Alice  Smith ", &idx),
            Ok(Request::Name("Alice Smith".into()))
        );
        assert_eq!(parse("名字 张三", &idx), Ok(Request::Name("张三".into())));
        assert_eq!(parse("我叫张三", &idx), Ok(Request::Name("张三".into())));
        assert_eq!(parse("name ", &idx), Err(OrderError::UnknownGoods));
        assert_eq!(parse("名字", &idx), Err(OrderError::BadName));
        assert_eq!(
            parse(&format!("name {}", "a".repeat(33)), &idx),
            Err(OrderError::BadName)
        );
        assert_eq!(parse("name a\u{7}b", &idx), Err(OrderError::BadName));
    }

    #[test]
    fn reserved_words() {
        assert!(is_reserved("Help"));
        assert!(is_reserved("拜拜"));
        assert!(is_reserved("42"));
        assert!(!is_reserved("西瓜"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(chars in proptest::collection::vec(any::<char>(), 0..300)) {
            let line: String = chars.into_iter().collect();
            let _ = parse(&line, &index());
        }

        #[test]
        fn parse_never_panics_on_bytes_from_the_wire(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let _ = parse(&String::from_utf8_lossy(&bytes), &index());
        }

        #[test]
        fn parse_never_panics_on_order_shaped_text(
            line in "[0-9两个瓶x× *]{0,6}(西瓜|watermelon|红牛|name |名字|我要)?[0-9两个瓶x× .!。]{0,6}"
        ) {
            let _ = parse(&line, &index());
        }

        #[test]
        fn any_quantity_of_a_known_good(qty in 1..=MAX_QTY, before in any::<bool>()) {
            let line = if before { format!("{qty} 西瓜") } else { format!("西瓜 {qty}") };
            prop_assert_eq!(parse(&line, &index()), buy(1, qty));
        }
    }
}
