//! Money as a whole number of cents (分), so prices, totals and balances add up exactly.
//!
//! Floating point is never used for amounts: `0.1 + 0.2` style rounding errors would let balances
//! drift away from the recorded sales. Amounts are parsed from and shown as decimal yuan text
//! ("95.5", "2", "2.05"), the way the source document writes prices.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A non-negative amount of money, stored as cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(u64);

/// Why a piece of text is not an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The text is empty or not of the form `123`, `123.4` or `123.45`.
    #[error("not an amount of money (expected something like 4.5, 2 or 2.05)")]
    Malformed,
    /// More than two digits after the decimal point.
    #[error("amounts have at most two decimal places (cents)")]
    TooPrecise,
    /// Larger than [`Money::MAX`].
    #[error("amount too large (at most {})", Money::MAX)]
    TooLarge,
}

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);
    /// The largest amount accepted anywhere (ten billion yuan). Keeping amounts this small means a
    /// price times any allowed quantity still fits in SQLite's signed 64-bit integers.
    pub const MAX: Money = Money(1_000_000_000_000);

    /// An amount of `cents` cents.
    pub const fn from_cents(cents: u64) -> Money {
        Money(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> u64 {
        self.0
    }

    /// `self * qty`, or `None` if the result would overflow.
    pub fn checked_mul(self, qty: u32) -> Option<Money> {
        self.0.checked_mul(u64::from(qty)).map(Money)
    }

    /// `self - other`, or `None` if it would go below zero.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `self + other`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// The amount as SQLite stores it.
    pub fn to_sql(self) -> i64 {
        // MAX-bounded amounts always fit; anything larger saturates rather than wrapping.
        i64::try_from(self.0).unwrap_or(i64::MAX)
    }

    /// An amount read back from SQLite; `None` if the stored value is negative.
    pub fn from_sql(cents: i64) -> Option<Money> {
        u64::try_from(cents).ok().map(Money)
    }
}

impl fmt::Display for Money {
    /// Yuan with the shortest exact decimal: 9550 cents is "95.5", 200 is "2", 205 is "2.05".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let yuan = self.0 / 100;
        let cents = self.0 % 100;
        let text = if cents == 0 {
            format!("{yuan}")
        } else if cents.is_multiple_of(10) {
            format!("{yuan}.{}", cents / 10)
        } else {
            format!("{yuan}.{cents:02}")
        };
        f.pad(&text)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Parses `123`, `123.4` or `123.45` (surrounding whitespace allowed); no sign, no exponent.
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let s = s.trim();
        let (whole, frac) = match s.split_once('.') {
            Some((whole, frac)) => (whole, frac),
            None => (s, ""),
        };
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !all_digits(whole) || !all_digits(frac) || s.ends_with('.') {
            return Err(MoneyError::Malformed);
        }
        if frac.len() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        let whole: u64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let frac_cents: u64 = match frac.len() {
            0 => 0,
            1 => u64::from(frac.as_bytes()[0] - b'0') * 10,
            _ => frac.parse().map_err(|_| MoneyError::Malformed)?,
        };
        let cents = whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac_cents))
            .ok_or(MoneyError::TooLarge)?;
        if cents > Money::MAX.0 {
            return Err(MoneyError::TooLarge);
        }
        Ok(Money(cents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn displays_like_the_document() {
        assert_eq!(Money::from_cents(450).to_string(), "4.5");
        assert_eq!(Money::from_cents(200).to_string(), "2");
        assert_eq!(Money::from_cents(9550).to_string(), "95.5");
        assert_eq!(Money::from_cents(205).to_string(), "2.05");
        assert_eq!(Money::from_cents(5).to_string(), "0.05");
        assert_eq!(Money::ZERO.to_string(), "0");
    }

    #[test]
    fn parses_decimal_yuan() {
        assert_eq!("4.5".parse(), Ok(Money::from_cents(450)));
        assert_eq!(" 100 ".parse(), Ok(Money::from_cents(10_000)));
        assert_eq!("2.05".parse(), Ok(Money::from_cents(205)));
        assert_eq!("0.5".parse(), Ok(Money::from_cents(50)));
    }

    #[test]
    fn rejects_what_is_not_money() {
        for bad in [
            "", ".", "1.", ".5", "-1", "+1", "1e3", "1,5", "abc", "1.2.3", "4.5元",
        ] {
            assert_eq!(bad.parse::<Money>(), Err(MoneyError::Malformed), "{bad:?}");
        }
        assert_eq!("1.234".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!(
            "99999999999999999999999".parse::<Money>(),
            Err(MoneyError::TooLarge)
        );
        assert_eq!("10000000001".parse::<Money>(), Err(MoneyError::TooLarge));
    }

    #[test]
    fn arithmetic_never_goes_negative_or_wraps() {
        let four = Money::from_cents(400);
        assert_eq!(four.checked_sub(Money::from_cents(401)), None);
        assert_eq!(four.checked_sub(four), Some(Money::ZERO));
        assert_eq!(Money::from_cents(u64::MAX).checked_mul(2), None);
        assert_eq!(four.checked_mul(3), Some(Money::from_cents(1200)));
        assert_eq!(Money::from_sql(-1), None);
        assert_eq!(Money::MAX.to_sql(), 1_000_000_000_000);
    }

    proptest! {
        #[test]
        fn display_parses_back(cents in 0..=Money::MAX.cents()) {
            let m = Money::from_cents(cents);
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
        }

        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = s.parse::<Money>();
        }
    }
}
