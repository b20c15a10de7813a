//! Everything the shop says to a customer, in Chinese (the source document's language, the
//! default) and English.
//!
//! Every reply is exactly one line without the trailing newline, so a simple client can read one
//! line for every line it sends. Keeping the wording here, apart from the logic, lets the
//! dialogue tests and the documentation quote one place.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::money::Money;
use crate::order::MAX_QTY;
use crate::wire::WireEncoding;

/// The language the shop speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 中文, as in the source document.
    #[default]
    Zh,
    /// English.
    En,
}

/// The text given for `--lang` is neither Chinese nor English.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown language {0:?} (use zh or en)")]
pub struct UnknownLang(String);

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        match s.trim().to_lowercase().as_str() {
            "zh" | "zh-cn" | "cn" | "chinese" | "中文" => Ok(Lang::Zh),
            "en" | "english" => Ok(Lang::En),
            other => Err(UnknownLang(other.to_string())),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        })
    }
}

/// One line of the menu as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShelfLine<'a> {
    /// Chinese name.
    pub zh: &'a str,
    /// English name.
    pub en: &'a str,
    /// Unit price.
    pub price: Money,
    /// How many are left.
    pub stock: u32,
}

impl Lang {
    /// The name of a good in this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The goods with their numbers, prices and stock, e.g. `1.瓜子(4.5,剩 100)`.
    fn shelf(self, shelf: &[ShelfLine<'_>]) -> String {
        let items: Vec<String> = shelf
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let n = i + 1;
                let name = self.pick(line.zh, line.en);
                match (self, line.stock) {
                    (Lang::Zh, 0) => format!("{n}.{name}({},已售完)", line.price),
                    (Lang::Zh, left) => format!("{n}.{name}({},剩 {left})", line.price),
                    (Lang::En, 0) => format!("{n}. {name} ({}, sold out)", line.price),
                    (Lang::En, left) => format!("{n}. {name} ({}, {left} left)", line.price),
                }
            })
            .collect();
        match self {
            Lang::Zh => items.join(","),
            Lang::En => items.join(", "),
        }
    }

    /// The greeting (and the answer to "menu"): the goods, the balance and the question.
    pub fn greeting(self, shelf: &[ShelfLine<'_>], balance: Money) -> String {
        let goods = self.shelf(shelf);
        match self {
            Lang::Zh => {
                format!("目前商店还有:{goods}。您的余额 {balance}。请问您需要什么?")
            }
            Lang::En => {
                format!("We have: {goods}. Your balance is {balance}. What would you like?")
            }
        }
    }

    /// The customer asked for something the shop does not sell.
    pub fn unknown_goods(self) -> String {
        match self {
            Lang::Zh => "抱歉,您购买的商品目前没有,请选购其他的。".into(),
            Lang::En => "Sorry, we don't have that. Please choose something else.".into(),
        }
    }

    /// A purchase went through and is recorded.
    pub fn bought(self, name: &str, qty: u32, total: Money, balance: Money) -> String {
        match self {
            Lang::Zh => format!("购买成功,余额 {balance}({name} ×{qty},共 {total})"),
            Lang::En => format!("Bought, balance {balance} ({name} × {qty}, {total} in total)."),
        }
    }

    /// Nothing of this good is left.
    pub fn sold_out(self, name: &str) -> String {
        match self {
            Lang::Zh => format!("抱歉,{name}已经卖完了,请选购其他的。"),
            Lang::En => format!("Sorry, {name} is sold out. Please choose something else."),
        }
    }

    /// Some, but not enough, of this good is left.
    pub fn not_enough_stock(self, name: &str, left: u32, wanted: u32) -> String {
        match self {
            Lang::Zh => format!("抱歉,{name}库存不足:只剩 {left},您要 {wanted}。"),
            Lang::En => format!("Sorry, only {left} {name} left, you asked for {wanted}."),
        }
    }

    /// The customer cannot afford the purchase.
    pub fn not_enough_money(self, cost: Money, balance: Money) -> String {
        match self {
            Lang::Zh => format!("抱歉,您的余额不足:需要 {cost},余额只有 {balance}。"),
            Lang::En => {
                format!("Sorry, not enough money: that costs {cost} and your balance is {balance}.")
            }
        }
    }

    /// Quantity 0.
    pub fn zero_quantity(self) -> String {
        match self {
            Lang::Zh => "抱歉,购买数量至少为 1。".into(),
            Lang::En => "Sorry, the quantity must be at least 1.".into(),
        }
    }

    /// Quantity above [`MAX_QTY`].
    pub fn too_many(self) -> String {
        match self {
            Lang::Zh => format!("抱歉,一次最多购买 {MAX_QTY} 件。"),
            Lang::En => format!("Sorry, at most {MAX_QTY} at a time."),
        }
    }

    /// A good was named with a quantity that is not a whole count we read.
    pub fn bad_quantity(self) -> String {
        match self {
            Lang::Zh => format!(
                "抱歉,没看懂您要买多少:数量请写 1 到 {MAX_QTY} 的整数(如 2 西瓜),\
                 或中文的一到九十九(如 十一个西瓜)。"
            ),
            Lang::En => format!(
                "Sorry, I don't understand that quantity: use a whole number from 1 to \
                 {MAX_QTY}, e.g. 2 watermelon."
            ),
        }
    }

    /// The customer's balance.
    pub fn balance(self, balance: Money) -> String {
        match self {
            Lang::Zh => format!("您的余额 {balance}。"),
            Lang::En => format!("Your balance is {balance}."),
        }
    }

    /// How to shop.
    pub fn help(self) -> String {
        match self {
            Lang::Zh => "输入商品名称或编号购买,可带数量(西瓜、2、2 西瓜、西瓜 3、两个西瓜);\
                         菜单 查看商品;余额 查看余额;名字 张三 记名购物(余额会保存);\
                         english 切换英文;拜拜 离开。"
                .into(),
            Lang::En => "Type a good's name or number to buy it, with a quantity if you like \
                         (watermelon, 2, 2 watermelon, watermelon x3); menu shows the goods; \
                         balance shows your balance; name alice shops under a name (the balance \
                         is kept); 中文 switches to Chinese; bye leaves."
                .into(),
        }
    }

    /// An empty line: ask again.
    pub fn ask_again(self) -> String {
        match self {
            Lang::Zh => "请问您需要什么?(输入 帮助 查看用法)".into(),
            Lang::En => "What would you like? (type help for help)".into(),
        }
    }

    /// Goodbye after 拜拜 / bye.
    pub fn goodbye(self) -> String {
        match self {
            Lang::Zh => "欢迎下次光临".into(),
            Lang::En => "Goodbye, welcome back next time!".into(),
        }
    }

    /// The server is shutting down.
    pub fn closing(self) -> String {
        match self {
            Lang::Zh => "本店打烊了,欢迎下次光临".into(),
            Lang::En => "The shop is closing now. Goodbye, welcome back next time!".into(),
        }
    }

    /// The customer sent no complete line for too long.
    pub fn idle(self) -> String {
        match self {
            Lang::Zh => "您很久没有说话了,欢迎下次光临".into(),
            Lang::En => {
                "You have been quiet for a long time. Goodbye, welcome back next time!".into()
            }
        }
    }

    /// Too many customers are in the shop.
    pub fn shop_full(self) -> String {
        match self {
            Lang::Zh => "抱歉,店里人太多了,请稍后再来。".into(),
            Lang::En => "Sorry, the shop is full right now. Please come back later.".into(),
        }
    }

    /// Too many connections from the customer's address are in the shop.
    pub fn address_full(self) -> String {
        match self {
            Lang::Zh => "抱歉,同一地址的连接太多了,请关闭一些再来。".into(),
            Lang::En => {
                "Sorry, too many connections from your address. Please close some and come back."
                    .into()
            }
        }
    }

    /// A line longer than the limit was discarded.
    pub fn line_too_long(self, max: usize) -> String {
        match self {
            Lang::Zh => format!("抱歉,您输入的内容太长了(一行最多 {max} 字节),请重新输入。"),
            Lang::En => {
                format!("Sorry, that line is too long (at most {max} bytes). Please try again.")
            }
        }
    }

    /// A line that is not text in an encoding the shop reads was discarded.
    pub fn not_text(self, accepted: WireEncoding) -> String {
        let (zh, en) = match accepted {
            WireEncoding::Auto => ("UTF-8 或 GBK", "UTF-8 or GBK"),
            WireEncoding::Utf8 => ("UTF-8", "UTF-8"),
            WireEncoding::Gbk => ("GBK", "GBK"),
        };
        match self {
            Lang::Zh => format!("抱歉,无法识别您输入的内容,请使用 {zh} 编码的文字。"),
            Lang::En => format!("Sorry, I can't read that. Please send {en} text."),
        }
    }

    /// Too many unreadable lines in a row: the shop closes the connection.
    pub fn too_much_garbage(self) -> String {
        match self {
            Lang::Zh => "您连续发送了太多无法识别的内容,再见。".into(),
            Lang::En => "Too many unreadable lines in a row. Goodbye.".into(),
        }
    }

    /// The customer gave a name and now shops under it.
    pub fn hello_name(self, name: &str, balance: Money) -> String {
        match self {
            Lang::Zh => format!("您好,{name}!您的余额 {balance}。请问您需要什么?"),
            Lang::En => format!("Hello, {name}! Your balance is {balance}. What would you like?"),
        }
    }

    /// A name that is empty, too long or contains control characters.
    pub fn bad_name(self) -> String {
        match self {
            Lang::Zh => "抱歉,名字应为 1 到 32 个字符,不能包含控制字符。".into(),
            Lang::En => "Sorry, a name is 1 to 32 characters without control characters.".into(),
        }
    }

    /// An anonymous customer who already bought something tries to take a name.
    pub fn name_too_late(self) -> String {
        match self {
            Lang::Zh => "您已经匿名购物了;如需记名,请重新连接后先输入 名字 张三。".into(),
            Lang::En => "You have already shopped anonymously; to shop under a name, reconnect \
                         and give your name first."
                .into(),
        }
    }

    /// The reply after switching language.
    pub fn switched(self) -> String {
        match self {
            Lang::Zh => "好的,以后用中文为您服务。".into(),
            Lang::En => "OK, English from now on.".into(),
        }
    }

    /// The database failed; nothing was bought or charged.
    pub fn try_later(self) -> String {
        match self {
            Lang::Zh => "抱歉,系统出了点问题,本次没有购买也没有扣款,请稍后再试。".into(),
            Lang::En => {
                "Sorry, something went wrong; nothing was bought or charged. Please try again."
                    .into()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shelf() -> Vec<ShelfLine<'static>> {
        vec![
            ShelfLine {
                zh: "瓜子",
                en: "sunflower seeds",
                price: Money::from_cents(450),
                stock: 3,
            },
            ShelfLine {
                zh: "西瓜",
                en: "watermelon",
                price: Money::from_cents(200),
                stock: 0,
            },
        ]
    }

    #[test]
    fn greeting_lists_goods_prices_and_stock() {
        let zh = Lang::Zh.greeting(&shelf(), Money::from_cents(10_000));
        assert_eq!(
            zh,
            "目前商店还有:1.瓜子(4.5,剩 3),2.西瓜(2,已售完)。您的余额 100。请问您需要什么?"
        );
        let en = Lang::En.greeting(&shelf(), Money::from_cents(9_550));
        assert_eq!(
            en,
            "We have: 1. sunflower seeds (4.5, 3 left), 2. watermelon (2, sold out). \
             Your balance is 95.5. What would you like?"
        );
    }

    #[test]
    fn every_reply_is_one_line() {
        for lang in [Lang::Zh, Lang::En] {
            let m = Money::from_cents(123);
            let replies = [
                lang.greeting(&shelf(), m),
                lang.unknown_goods(),
                lang.bought("x", 2, m, m),
                lang.sold_out("x"),
                lang.not_enough_stock("x", 1, 2),
                lang.not_enough_money(m, m),
                lang.zero_quantity(),
                lang.too_many(),
                lang.bad_quantity(),
                lang.balance(m),
                lang.help(),
                lang.ask_again(),
                lang.goodbye(),
                lang.closing(),
                lang.idle(),
                lang.shop_full(),
                lang.address_full(),
                lang.line_too_long(1024),
                lang.not_text(WireEncoding::Auto),
                lang.not_text(WireEncoding::Gbk),
                lang.too_much_garbage(),
                lang.hello_name("x", m),
                lang.bad_name(),
                lang.name_too_late(),
                lang.switched(),
                lang.try_later(),
            ];
            for reply in replies {
                assert!(!reply.is_empty());
                assert!(!reply.contains(['\n', '\r']), "{reply:?}");
            }
        }
    }

    #[test]
    fn every_chinese_reply_is_gbk() {
        let m = Money::from_cents(123);
        let lang = Lang::Zh;
        for reply in [
            lang.greeting(&shelf(), m),
            lang.bought("西瓜", 2, m, m),
            lang.not_enough_money(m, m),
            lang.bad_quantity(),
            lang.help(),
            lang.not_text(WireEncoding::Auto),
            lang.hello_name("张三", m),
            lang.name_too_late(),
            lang.try_later(),
            lang.too_much_garbage(),
            lang.line_too_long(1024),
        ] {
            let (_, _, unmappable) = encoding_rs::GBK.encode(&reply);
            assert!(!unmappable, "{reply}");
        }
    }

    #[test]
    fn lang_names() {
        assert_eq!("EN".parse(), Ok(Lang::En));
        assert_eq!("中文".parse(), Ok(Lang::Zh));
        assert!("fr".parse::<Lang>().is_err());
        assert_eq!(Lang::En.to_string(), "en");
    }
}
