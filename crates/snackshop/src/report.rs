//! `snackshop report`: sales per good, totals, recent sales and remaining stock, read from the
//! shop's SQLite file.
//!
//! The file is opened read-only in one read transaction, so the report is a consistent snapshot
//! and can be taken while the server runs (WAL lets readers and the writer work side by side).
//! The report also checks the books: every customer's starting balance minus what their recorded
//! sales cost plus what they were topped up with must equal their balance. Restocks and top-ups
//! (`snackshop restock`, `snackshop topup`) are counted alongside the sales.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use thiserror::Error;

use crate::money::Money;
use crate::replies::Lang;
use crate::store::SCHEMA_VERSION;

/// One good's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodLine {
    /// Chinese name.
    pub zh: String,
    /// English name.
    pub en: String,
    /// Current unit price.
    pub price: Money,
    /// Whether the current catalog lists it.
    pub listed: bool,
    /// Units sold.
    pub sold: u64,
    /// Money taken for it.
    pub revenue: Money,
    /// Units left.
    pub stock: u64,
    /// Units added by restocking.
    pub restocked: u64,
}

/// One recorded sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleLine {
    /// Sale number.
    pub id: i64,
    /// When, as `YYYY-MM-DD HH:MM:SS` UTC.
    pub at: String,
    /// The customer's name, if they gave one.
    pub name: Option<String>,
    /// The customer's id.
    pub customer: i64,
    /// Chinese name of the good.
    pub zh: String,
    /// English name of the good.
    pub en: String,
    /// Units bought.
    pub qty: u64,
    /// What it cost.
    pub total: Money,
    /// The customer's balance afterwards.
    pub balance_after: Money,
}

/// Sales and stock as recorded in one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The database file.
    pub db: PathBuf,
    /// Every good ever stocked: listed ones in menu order first.
    pub goods: Vec<GoodLine>,
    /// Number of recorded sales.
    pub sales: u64,
    /// Units sold in all.
    pub items: u64,
    /// Money taken in all.
    pub revenue: Money,
    /// Number of customer accounts.
    pub customers: u64,
    /// Number of restocks.
    pub restocks: u64,
    /// Number of top-ups.
    pub topups: u64,
    /// Money added by top-ups.
    pub topped_up: Money,
    /// Customers whose balance does not match their starting balance minus their purchases
    /// plus their top-ups.
    pub mismatched: Vec<i64>,
    /// The most recent sales, newest first.
    pub recent: Vec<SaleLine>,
}

/// Why the report could not be made.
#[derive(Debug, Error)]
pub enum ReportError {
    /// There is no file at the path.
    #[error("no shop database at {0} (start `snackshop serve --db {0}` first, or pass --db)")]
    NoDatabase(String),
    /// The file is not a snackshop database.
    #[error("{0} is not a snackshop database")]
    NotSnackshop(String),
    /// SQLite failed.
    #[error("cannot read the shop database")]
    Database(#[from] rusqlite::Error),
}

fn money(cents: i64) -> Money {
    // The schema's CHECKs keep amounts non-negative; clamp rather than fail on a damaged file.
    Money::from_sql(cents).unwrap_or(Money::ZERO)
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Reads the report from the database at `path`, with up to `recent` recent sales.
pub fn load(path: &Path, recent: usize) -> Result<Report, ReportError> {
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(ReportError::NoDatabase(shown));
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let tx = conn.transaction()?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|_| ReportError::NotSnackshop(shown.clone()))?;
    if !(1..=SCHEMA_VERSION).contains(&version) {
        return Err(ReportError::NotSnackshop(shown));
    }
    // A version 1 file (read before a server brought it up to date) has no books of restocks
    // and top-ups: they count as none.
    let has_books = version >= 2;
    let restocked_sql = if has_books {
        "(SELECT COALESCE(SUM(r.qty), 0) FROM restocks r WHERE r.good_id = g.id)"
    } else {
        "0"
    };
    let goods = tx
        .prepare(&format!(
            "SELECT g.zh, g.en, g.price_cents, g.position IS NOT NULL, g.stock,
                    COALESCE(SUM(s.qty), 0), COALESCE(SUM(s.total_cents), 0), {restocked_sql}
             FROM goods g LEFT JOIN sales s ON s.good_id = g.id
             GROUP BY g.id
             ORDER BY g.position IS NULL, g.position, g.id"
        ))?
        .query_map([], |r| {
            Ok(GoodLine {
                zh: r.get(0)?,
                en: r.get(1)?,
                price: money(r.get(2)?),
                listed: r.get(3)?,
                stock: count(r.get(4)?),
                sold: count(r.get(5)?),
                revenue: money(r.get(6)?),
                restocked: count(r.get(7)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let (restocks, topups, topped_up): (i64, i64, i64) = if has_books {
        tx.query_row(
            "SELECT (SELECT count(*) FROM restocks), (SELECT count(*) FROM topups),
                    (SELECT COALESCE(SUM(amount_cents), 0) FROM topups)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?
    } else {
        (0, 0, 0)
    };
    let topped_sql = if has_books {
        "(SELECT COALESCE(SUM(t.amount_cents), 0) FROM topups t WHERE t.customer_id = c.id)"
    } else {
        "0"
    };
    let (sales, items, revenue): (i64, i64, i64) = tx.query_row(
        "SELECT count(*), COALESCE(SUM(qty), 0), COALESCE(SUM(total_cents), 0) FROM sales",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let customers: i64 = tx.query_row("SELECT count(*) FROM customers", [], |r| r.get(0))?;
    let mismatched = tx
        .prepare(&format!(
            "SELECT c.id FROM customers c
             LEFT JOIN (SELECT customer_id, SUM(total_cents) AS spent FROM sales
                        GROUP BY customer_id) s ON s.customer_id = c.id
             WHERE c.start_cents - COALESCE(s.spent, 0) + {topped_sql} != c.balance_cents
             ORDER BY c.id"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    let limit = i64::try_from(recent).unwrap_or(i64::MAX);
    let recent = tx
        .prepare(
            "SELECT s.id, strftime('%Y-%m-%d %H:%M:%S', s.at_ms / 1000, 'unixepoch'), c.name,
                    s.customer_id, g.zh, g.en, s.qty, s.total_cents, s.balance_after_cents
             FROM sales s JOIN goods g ON g.id = s.good_id JOIN customers c ON c.id = s.customer_id
             ORDER BY s.id DESC LIMIT ?1",
        )?
        .query_map([limit], |r| {
            Ok(SaleLine {
                id: r.get(0)?,
                at: r.get(1)?,
                name: r.get(2)?,
                customer: r.get(3)?,
                zh: r.get(4)?,
                en: r.get(5)?,
                qty: count(r.get(6)?),
                total: money(r.get(7)?),
                balance_after: money(r.get(8)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    tx.finish()?;
    Ok(Report {
        db: path.to_path_buf(),
        goods,
        sales: count(sales),
        items: count(items),
        revenue: money(revenue),
        customers: count(customers),
        restocks: count(restocks),
        topups: count(topups),
        topped_up: money(topped_up),
        mismatched,
        recent,
    })
}

/// Terminal columns a character takes: 2 for CJK and full-width characters.
fn char_width(c: char) -> usize {
    match u32::from(c) {
        0x1100..=0x115F
        | 0x2E80..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// `text` padded with spaces to `width` terminal columns.
fn pad(text: &str, width: usize) -> String {
    let used: usize = text.chars().map(char_width).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

impl Report {
    /// The report as text for a terminal.
    pub fn render(&self, lang: Lang) -> String {
        let zh = lang == Lang::Zh;
        let mut out = String::new();
        let names: Vec<String> = self
            .goods
            .iter()
            .map(|g| {
                let mut name = format!("{} ({})", lang.pick(&g.zh, &g.en), lang.pick(&g.en, &g.zh));
                if !g.listed {
                    name.push_str(if zh { " [已下架]" } else { " [not on menu]" });
                }
                name
            })
            .collect();
        let width = names
            .iter()
            .map(|n| n.chars().map(char_width).sum::<usize>())
            .max()
            .unwrap_or(0)
            .max(8)
            + 2;
        let headers = if zh {
            ["商品", "单价", "售出", "收入", "库存", "补货"]
        } else {
            ["Good", "Price", "Sold", "Revenue", "Stock", "Restocked"]
        };
        let title = if zh { "销售报表" } else { "Sales report" };
        let _ = writeln!(out, "{title}: {}", self.db.display());
        let _ = writeln!(
            out,
            "{}{}{}{}{}{}",
            pad(headers[0], width),
            pad(headers[1], 10),
            pad(headers[2], 8),
            pad(headers[3], 12),
            pad(headers[4], 8),
            headers[5]
        );
        for (g, name) in self.goods.iter().zip(&names) {
            let _ = writeln!(
                out,
                "{}{:<10}{:<8}{:<12}{:<8}{}",
                pad(name, width),
                g.price.to_string(),
                g.sold,
                g.revenue.to_string(),
                g.stock,
                g.restocked
            );
        }
        let _ = if zh {
            writeln!(
                out,
                "合计:{} 笔销售,售出 {} 件,收入 {}。顾客 {} 位。",
                self.sales, self.items, self.revenue, self.customers
            )
        } else {
            writeln!(
                out,
                "Total: {} sales, {} items sold, revenue {}. {} customers.",
                self.sales, self.items, self.revenue, self.customers
            )
        };
        if self.restocks > 0 || self.topups > 0 {
            let restocked: u64 = self.goods.iter().map(|g| g.restocked).sum();
            let _ = if zh {
                writeln!(
                    out,
                    "补货:{} 次,共 {} 件。充值:{} 次,共 {}。",
                    self.restocks, restocked, self.topups, self.topped_up
                )
            } else {
                writeln!(
                    out,
                    "Restocks: {}, {} items. Top-ups: {}, {} in total.",
                    self.restocks, restocked, self.topups, self.topped_up
                )
            };
        }
        let _ = match (zh, self.mismatched.is_empty()) {
            (true, true) => writeln!(out, "账目核对:每位顾客的余额都与其销售记录一致。"),
            (false, true) => writeln!(
                out,
                "Books check: every balance matches its recorded sales."
            ),
            (true, false) => writeln!(
                out,
                "账目核对:以下顾客的余额与销售记录不符:{:?}",
                self.mismatched
            ),
            (false, false) => writeln!(
                out,
                "Books check: these customers' balances do not match their sales: {:?}",
                self.mismatched
            ),
        };
        if self.sales == 0 {
            let none = if zh {
                "还没有销售记录。"
            } else {
                "No sales yet."
            };
            let _ = writeln!(out, "{none}");
            return out;
        }
        if self.recent.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "{}",
            if zh {
                "最近的销售(UTC 时间):"
            } else {
                "Recent sales (UTC):"
            }
        );
        for s in &self.recent {
            let who = match &s.name {
                Some(name) => name.clone(),
                None => format!("#{}", s.customer),
            };
            let good = lang.pick(&s.zh, &s.en);
            let _ = if zh {
                writeln!(
                    out,
                    "  {} {} 顾客 {who}:{good} ×{},共 {},余额 {}",
                    s.id, s.at, s.qty, s.total, s.balance_after
                )
            } else {
                writeln!(
                    out,
                    "  {} {} customer {who}: {good} × {}, {} in total, balance {}",
                    s.id, s.at, s.qty, s.total, s.balance_after
                )
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_by_terminal_columns() {
        assert_eq!(pad("西瓜", 6), "西瓜  ");
        assert_eq!(pad("ab", 4), "ab  ");
        assert_eq!(pad("too long", 3), "too long");
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("none.db");
        let err = load(&path, 5).expect_err("no database");
        assert!(matches!(err, ReportError::NoDatabase(_)));
        assert!(!path.exists(), "the report must not create a database");
    }

    #[test]
    fn renders_goods_totals_and_recent_sales() {
        let report = Report {
            db: PathBuf::from("shop.db"),
            goods: vec![GoodLine {
                zh: "西瓜".into(),
                en: "watermelon".into(),
                price: Money::from_cents(200),
                listed: true,
                sold: 3,
                revenue: Money::from_cents(600),
                stock: 27,
                restocked: 10,
            }],
            sales: 2,
            items: 3,
            revenue: Money::from_cents(600),
            customers: 1,
            restocks: 1,
            topups: 2,
            topped_up: Money::from_cents(5_000),
            mismatched: vec![],
            recent: vec![SaleLine {
                id: 2,
                at: "2026-01-01 00:00:00".into(),
                name: Some("alice".into()),
                customer: 1,
                zh: "西瓜".into(),
                en: "watermelon".into(),
                qty: 2,
                total: Money::from_cents(400),
                balance_after: Money::from_cents(9_400),
            }],
        };
        let en = report.render(Lang::En);
        assert!(en.contains("watermelon (西瓜)"), "{en}");
        assert!(
            en.contains("Total: 2 sales, 3 items sold, revenue 6. 1 customers."),
            "{en}"
        );
        assert!(en.contains("every balance matches"), "{en}");
        assert!(
            en.contains("Restocks: 1, 10 items. Top-ups: 2, 50 in total."),
            "{en}"
        );
        assert!(
            en.contains("customer alice: watermelon × 2, 4 in total, balance 94"),
            "{en}"
        );
        let zh = report.render(Lang::Zh);
        assert!(zh.contains("合计:2 笔销售,售出 3 件,收入 6。"), "{zh}");
        let quiet = Report {
            sales: 0,
            items: 0,
            recent: vec![],
            ..report
        };
        assert!(quiet.render(Lang::En).ends_with("No sales yet.\n"));
    }
}
