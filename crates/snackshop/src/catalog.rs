//! The catalog: which goods the shop sells, under which names, at what price, and how many to
//! stock the first time a good appears.
//!
//! It is read from a small TOML file (`--catalog FILE`) or, by default, is the source document's
//! `goods` dictionary: 瓜子 4.5, 西瓜 2, 矿泉水 2.5. Prices are written as decimal text
//! (`price = "4.5"`) or a whole number (`price = 2`); a TOML float (`price = 4.5`) is accepted
//! too and converted through its exact shortest decimal text, never used as a float.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use thiserror::Error;

use crate::money::{Money, MoneyError};
use crate::order::{is_reserved, normalize};

/// At most this many goods, so the menu stays one readable line.
pub const MAX_GOODS: usize = 50;
/// The most stock one good can have.
pub const MAX_STOCK: u32 = 1_000_000;
/// The longest name of a good, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Catalog files larger than this are refused.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// One good for sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Good {
    /// Chinese name; also the good's identity in the database.
    pub zh: String,
    /// English name.
    pub en: String,
    /// Unit price.
    pub price: Money,
    /// Stock to start with when the database has never seen this good.
    pub stock: u32,
}

/// The goods for sale, in menu order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    goods: Vec<Good>,
}

/// Why a catalog could not be used.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read catalog {path}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_BYTES`].
    #[error("catalog {0} is larger than {MAX_FILE_BYTES} bytes")]
    TooBig(String),
    /// The text is not valid TOML of the expected shape.
    #[error("catalog is not valid: {0}")]
    Syntax(String),
    /// A good's price is not an amount of money.
    #[error("good {good:?}: price {text:?}")]
    Price {
        /// The good's Chinese name.
        good: String,
        /// The price as written.
        text: String,
        /// What is wrong with it.
        source: MoneyError,
    },
    /// Anything else that makes a catalog unusable (duplicate names, no goods, ...).
    #[error("catalog is not usable: {0}")]
    Invalid(String),
}

/// The TOML shape: `[[goods]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    goods: Vec<GoodFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GoodFile {
    zh: String,
    en: String,
    price: toml::Value,
    stock: u32,
}

impl Catalog {
    /// The source document's goods: 瓜子 4.5, 西瓜 2, 矿泉水 2.5, with some stock.
    pub fn builtin() -> Catalog {
        let good = |zh: &str, en: &str, cents: u64, stock: u32| Good {
            zh: zh.into(),
            en: en.into(),
            price: Money::from_cents(cents),
            stock,
        };
        Catalog {
            goods: vec![
                good("瓜子", "sunflower seeds", 450, 100),
                good("西瓜", "watermelon", 200, 30),
                good("矿泉水", "mineral water", 250, 50),
            ],
        }
    }

    /// A catalog from goods given in code; checked like a file.
    pub fn new(goods: Vec<Good>) -> Result<Catalog, CatalogError> {
        let catalog = Catalog { goods };
        catalog.validate()?;
        Ok(catalog)
    }

    /// Reads and checks a catalog file.
    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let shown = path.display().to_string();
        let read_err = |source| CatalogError::Read {
            path: shown.clone(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_err)?.len();
        if len > MAX_FILE_BYTES {
            return Err(CatalogError::TooBig(shown));
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Catalog::parse(&text)
    }

    /// Parses and checks catalog TOML text.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError::Syntax(e.to_string()))?;
        let goods = file
            .goods
            .into_iter()
            .map(|g| {
                let price = price_of(&g.zh, &g.price)?;
                Ok(Good {
                    zh: g.zh,
                    en: g.en,
                    price,
                    stock: g.stock,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Catalog::new(goods)
    }

    /// The goods in menu order.
    pub fn goods(&self) -> &[Good] {
        &self.goods
    }

    fn validate(&self) -> Result<(), CatalogError> {
        let invalid = |msg: String| Err(CatalogError::Invalid(msg));
        if self.goods.is_empty() {
            return invalid("it lists no goods".into());
        }
        if self.goods.len() > MAX_GOODS {
            return invalid(format!("it lists more than {MAX_GOODS} goods"));
        }
        let mut seen = HashMap::new();
        for (i, good) in self.goods.iter().enumerate() {
            for name in [&good.zh, &good.en] {
                let chars = name.trim().chars().count();
                if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(char::is_control) {
                    return invalid(format!(
                        "name {name:?} must be 1 to {MAX_NAME_CHARS} characters without control \
                         characters"
                    ));
                }
                if is_reserved(name) {
                    return invalid(format!(
                        "name {name:?} is a number or a command word (help, bye, 菜单, ...)"
                    ));
                }
                if *seen.entry(normalize(name)).or_insert(i) != i {
                    return invalid(format!("name {name:?} is used twice"));
                }
            }
            if good.price == Money::ZERO || good.price > Money::MAX {
                return invalid(format!(
                    "{}: price must be above 0 and at most {}",
                    good.zh,
                    Money::MAX
                ));
            }
            if good.stock > MAX_STOCK {
                return invalid(format!("{}: stock must be at most {MAX_STOCK}", good.zh));
            }
        }
        Ok(())
    }
}

impl Default for Catalog {
    fn default() -> Catalog {
        Catalog::builtin()
    }
}

/// A price written as `"4.5"`, `2` or `4.5`.
fn price_of(good: &str, value: &toml::Value) -> Result<Money, CatalogError> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        // Rust prints floats as the shortest text that reads back to the same float, so 4.5
        // becomes "4.5" and 2.05 becomes "2.05", which Money then parses exactly.
        toml::Value::Float(f) => f.to_string(),
        other => other.to_string(),
    };
    text.parse().map_err(|source| CatalogError::Price {
        good: good.into(),
        text,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_is_the_documents_goods_and_valid() {
        let catalog = Catalog::builtin();
        assert!(catalog.validate().is_ok());
        let prices: Vec<(&str, String)> = catalog
            .goods()
            .iter()
            .map(|g| (g.zh.as_str(), g.price.to_string()))
            .collect();
        assert_eq!(
            prices,
            [
                ("瓜子", "4.5".into()),
                ("西瓜", "2".into()),
                ("矿泉水", "2.5".into())
            ]
        );
    }

    #[test]
    fn example_file_matches_builtin() {
        let text = include_str!("../catalog.example.toml");
        let parsed = Catalog::parse(text).expect("example catalog parses");
        assert_eq!(parsed, Catalog::builtin());
    }

    #[test]
    fn prices_as_text_integer_or_float() {
        let text = r#"
            [[goods]]
            zh = "辣条"
            en = "spicy strip"
            price = "0.5"
            stock = 1
            [[goods]]
            zh = "可乐"
            en = "cola"
            price = 3
            stock = 2
            [[goods]]
            zh = "薯片"
            en = "crisps"
            price = 6.05
            stock = 0
        "#;
        let catalog = Catalog::parse(text).expect("parses");
        let cents: Vec<u64> = catalog.goods().iter().map(|g| g.price.cents()).collect();
        assert_eq!(cents, [50, 300, 605]);
    }

    #[test]
    fn rejects_bad_catalogs() {
        let one = |zh: &str, en: &str, price: &str, stock: &str| {
            format!("[[goods]]\nzh = \"{zh}\"\nen = \"{en}\"\nprice = {price}\nstock = {stock}\n")
        };
        let cases = [
            ("goods = []".to_string(), "no goods"),
            (one("西瓜", "watermelon", "\"abc\"", "1"), "price"),
            (one("西瓜", "watermelon", "4.555", "1"), "price"),
            (one("西瓜", "watermelon", "-1", "1"), "price"),
            (one("西瓜", "watermelon", "0", "1"), "price"),
            (one("西瓜", "watermelon", "1", "-1"), "stock"),
            (one("西瓜", "watermelon", "1", "2000000"), "stock"),
            (one("", "watermelon", "1", "1"), "name"),
            (one("西瓜", "help", "1", "1"), "command"),
            (one("西瓜", "42", "1", "1"), "number"),
            (
                format!(
                    "{}{}",
                    one("西瓜", "watermelon", "1", "1"),
                    one("b", "Watermelon", "1", "1")
                ),
                "twice",
            ),
            (
                format!(
                    "{}{}",
                    one("西瓜", "a", "1", "1"),
                    one("西瓜", "b", "1", "1")
                ),
                "twice",
            ),
            (
                format!("{}extra = 1\n", one("西瓜", "a", "1", "1")),
                "unknown",
            ),
            ("not toml at all [".to_string(), ""),
        ];
        for (text, why) in cases {
            let err = Catalog::parse(&text).expect_err(&text).to_string();
            assert!(
                err.to_lowercase().contains(why),
                "{err:?} does not mention {why:?}"
            );
        }
    }

    #[test]
    fn load_reports_missing_file() {
        let err = Catalog::load(Path::new("/nonexistent/catalog.toml")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/catalog.toml"));
    }
}
