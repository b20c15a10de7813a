//! Chat text that looks like a real room's: English and Chinese messages
//! of realistic lengths, words drawn with Zipf's law from a common
//! vocabulary and a long tail of rarer ones, made from a seed so that a fill
//! and the searches that run against it agree on what is there.
//!
//! Real chat is short: half of all messages are under about 40 bytes, a
//! few run to several hundred. Lengths here are log-normal (English: median
//! 7 words; Chinese: median 12 characters), and the mix is 55 % English,
//! 35 % Chinese and 10 % both in one message (code words in a Chinese
//! sentence). Word frequencies follow Zipf's law, which is what makes a
//! full-text index's size and its common-word lookups realistic: a few
//! words are in a large share of all messages, most are rare.

/// The most common English words of chat, most frequent first.
const ENGLISH: &str = "the i you to a and it is that of in for this on have be not \
    with do are just so but we what was can my if at all like get me know no yes \
    ok good think it's don't will from one about out up there they your time how \
    now he would people an or see go new more some when then work here got make \
    need want really did thanks too why also well still any today day could back \
    going use lol right sure way because something only much where thing look \
    try even which let them first other who should last again done build test \
    code run server client message room error fix bug issue update version release \
    change file data database query index search history join page user nick \
    channel network socket connect connection tokio rust thread async await lock \
    memory cpu disk fast slow latency time second minute hour week year morning \
    tonight tomorrow yesterday lunch dinner coffee meeting deploy merge branch \
    commit review patch test tests benchmark profile cache config log logs crash \
    restart shutdown backup restore python java linux windows mac phone laptop \
    email link docs wiki please sorry hello hi hey bye night weekend holiday \
    great nice cool awesome weird strange broken works working failed passes \
    green red blue big small long short old new better worse best worst maybe \
    probably definitely exactly actually basically literally anyway though \
    question answer idea plan problem solution reason result number count size \
    limit retention policy account password login logout register ban kick topic";

/// Common Chinese words of chat (two characters each, mostly), most
/// frequent first.
const CHINESE_WORDS: &str = "我们 你们 他们 今天 明天 昨天 现在 时候 什么 怎么 为什么 \
    可以 没有 知道 觉得 一下 一起 已经 还是 但是 因为 所以 如果 这个 那个 这样 \
    问题 服务 服务器 客户端 消息 房间 网络 编程 程序 代码 数据 数据库 测试 版本 \
    更新 发布 错误 修复 连接 断开 登录 注册 密码 用户 昵称 历史 搜索 索引 速度 \
    内存 线程 异步 同步 文件 日志 配置 重启 备份 恢复 学习 工作 会议 午饭 晚饭 \
    咖啡 周末 早上 晚上 中午 朋友 同事 老师 学生 电脑 手机 系统 项目 需求 设计 \
    方案 结果 原因 办法 帮忙 谢谢 不客气 好的 没事 哈哈 真的 确实 其实 当然 \
    应该 需要 希望 喜欢 开始 结束 继续 完成 准备 检查 看看 试试 等等 马上 \
    一点 很多 非常 特别 比较 容易 困难 简单 复杂 重要 有意思 天气 下雨 出去 回来";

/// Common Chinese characters, for the rarer two-character words of the
/// long tail.
const CHINESE_CHARS: &str = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出\
    而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二\
    无同么经法当起与好看学进种将还分此心前面又定见只主没公从知使点业本去把性应开它合因由\
    其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质\
    气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革\
    位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论";

/// Rare English-looking words are made of these syllables.
const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ter", "van", "dor", "el", "sa", "ri", "on", "tu", "bex", "qua", "ny", "zel",
    "pra", "go", "fin", "ash", "ur", "mo", "ste", "li", "cor",
];

/// How many distinct rare words each language's long tail has.
const TAIL: u64 = 50_000;

/// The vocabularies, split once.
#[derive(Debug, Clone)]
pub struct Corpus {
    english: Vec<&'static str>,
    chinese: Vec<&'static str>,
    chars: Vec<char>,
    /// Zipf's law over each list: cumulative weights 1/rank.
    english_cdf: Vec<f64>,
    chinese_cdf: Vec<f64>,
}

/// Which kind of text a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// English words separated by spaces.
    English,
    /// Chinese, no spaces.
    Chinese,
    /// A Chinese sentence with English words in it.
    Mixed,
}

impl Default for Corpus {
    fn default() -> Self {
        Self::new()
    }
}

impl Corpus {
    /// Splits the built-in vocabularies.
    pub fn new() -> Self {
        let english: Vec<&str> = ENGLISH.split_whitespace().collect();
        let chinese: Vec<&str> = CHINESE_WORDS.split_whitespace().collect();
        let chars = CHINESE_CHARS
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        Corpus {
            english_cdf: zipf_cdf(english.len()),
            chinese_cdf: zipf_cdf(chinese.len()),
            english,
            chinese,
            chars,
        }
    }

    /// One message's text.
    pub fn message(&self, rng: &mut fastrand::Rng) -> String {
        let roll = rng.f64();
        let language = if roll < 0.55 {
            Language::English
        } else if roll < 0.90 {
            Language::Chinese
        } else {
            Language::Mixed
        };
        self.message_in(rng, language)
    }

    /// One message's text in `language`.
    pub fn message_in(&self, rng: &mut fastrand::Rng, language: Language) -> String {
        let mut text = String::new();
        match language {
            Language::English => {
                let words = log_normal(rng, 7.0, 0.8, 1, 80);
                for i in 0..words {
                    if i > 0 {
                        text.push(' ');
                    }
                    text.push_str(&self.english_word(rng));
                }
                if rng.f64() < 0.3 {
                    text.push(['.', '?', '!'][rng.usize(..3)]);
                }
            }
            Language::Chinese | Language::Mixed => {
                let chars = log_normal(rng, 12.0, 0.8, 1, 200);
                let mut written = 0;
                while written < chars {
                    if language == Language::Mixed && rng.f64() < 0.15 {
                        text.push(' ');
                        text.push_str(&self.english_word(rng));
                        text.push(' ');
                        written += 2;
                        continue;
                    }
                    let word = self.chinese_word(rng);
                    written += word.chars().count();
                    text.push_str(&word);
                    if written < chars && rng.f64() < 0.12 {
                        text.push(['，', '。', '？', '！'][rng.usize(..4)]);
                        written += 1;
                    }
                }
            }
        }
        text
    }

    /// An English word: usually a common one, sometimes one of the long
    /// tail (15 %).
    pub fn english_word(&self, rng: &mut fastrand::Rng) -> String {
        if rng.f64() < 0.15 {
            return rare_english(zipf_rank(rng, TAIL));
        }
        self.english[pick(rng, &self.english_cdf)].to_owned()
    }

    /// A Chinese word: usually a common one, sometimes two characters of
    /// the long tail (15 %).
    pub fn chinese_word(&self, rng: &mut fastrand::Rng) -> String {
        if rng.f64() < 0.15 {
            let rank = zipf_rank(rng, TAIL);
            let n = self.chars.len() as u64;
            let (a, b) = ((rank % n) as usize, ((rank / n) % n) as usize);
            return [self.chars[a], self.chars[b]].iter().collect();
        }
        self.chinese[pick(rng, &self.chinese_cdf)].to_owned()
    }

    /// A common English word by frequency rank (0 the most common).
    pub fn english_by_rank(&self, rank: usize) -> &'static str {
        self.english[rank.min(self.english.len() - 1)]
    }

    /// A common Chinese word by frequency rank.
    pub fn chinese_by_rank(&self, rank: usize) -> &'static str {
        self.chinese[rank.min(self.chinese.len() - 1)]
    }

    /// How many common English and Chinese words there are.
    pub fn common_words(&self) -> (usize, usize) {
        (self.english.len(), self.chinese.len())
    }

    /// A rare English word by its rank in the long tail.
    pub fn rare_english(&self, rank: u64) -> String {
        rare_english(rank)
    }
}

/// The long tail's English word of `rank`: two to four syllables.
fn rare_english(rank: u64) -> String {
    let n = SYLLABLES.len() as u64;
    let mut k = rank + n * n; // at least two syllables
    let mut word = String::new();
    while k > 0 {
        word.push_str(SYLLABLES[(k % n) as usize]);
        k /= n;
    }
    word
}

fn zipf_cdf(n: usize) -> Vec<f64> {
    let mut total = 0.0;
    (1..=n)
        .map(|rank| {
            total += 1.0 / rank as f64;
            total
        })
        .collect()
}

fn pick(rng: &mut fastrand::Rng, cdf: &[f64]) -> usize {
    let total = cdf.last().copied().unwrap_or(1.0);
    let x = rng.f64() * total;
    cdf.partition_point(|&c| c < x).min(cdf.len() - 1)
}

/// A rank in `0..n` by Zipf's law (exponent 1), by inverting the
/// continuous approximation of its distribution.
pub fn zipf_rank(rng: &mut fastrand::Rng, n: u64) -> u64 {
    let x = rng.f64();
    let rank = ((n as f64 + 1.0).ln() * x).exp() - 1.0;
    (rank as u64).min(n - 1)
}

/// A log-normal count with the given median, clamped to `min..=max`.
fn log_normal(rng: &mut fastrand::Rng, median: f64, sigma: f64, min: usize, max: usize) -> usize {
    // Box-Muller: a standard normal from two uniforms.
    let (u1, u2) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    let x = median * (sigma * z).exp();
    (x.round() as usize).clamp(min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_text() {
        let corpus = Corpus::new();
        let (mut a, mut b) = (fastrand::Rng::with_seed(7), fastrand::Rng::with_seed(7));
        for _ in 0..100 {
            assert_eq!(corpus.message(&mut a), corpus.message(&mut b));
        }
    }

    #[test]
    fn messages_are_chat_sized_and_mixed() {
        let corpus = Corpus::new();
        let mut rng = fastrand::Rng::with_seed(1);
        let texts: Vec<String> = (0..10_000).map(|_| corpus.message(&mut rng)).collect();
        let bytes: usize = texts.iter().map(String::len).sum();
        let mean = bytes / texts.len();
        assert!((25..=90).contains(&mean), "mean {mean} bytes");
        let chinese = texts.iter().filter(|t| !t.is_ascii()).count();
        assert!((3_500..=5_500).contains(&chinese), "{chinese} with Chinese");
        assert!(texts.iter().all(|t| !t.trim().is_empty()));
    }

    #[test]
    fn rare_words_are_distinct() {
        let words: std::collections::HashSet<String> = (0..1000).map(rare_english).collect();
        assert_eq!(words.len(), 1000);
    }
}
