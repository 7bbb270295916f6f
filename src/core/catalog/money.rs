//! Money: an amount in minor units of a currency, shown exact (`amount`, a decimal string),
//! for arithmetic (`minorUnits`) and for display (`formatted`).

use std::sync::Arc;

use crate::core::engine::{Out, Registry};
use crate::protocols::ProductRecord;

type ProductObj = Arc<ProductRecord>;

/// An amount of money in the engine: minor units and where its currency code is read.
pub struct MoneyObj {
    minor_units: i32,
    currency: Currency,
}

/// Where a money's currency code is: its product's record (shared, not copied), or text.
enum Currency {
    OfProduct(ProductObj),
    Code(Arc<str>),
}

impl MoneyObj {
    /// An amount of `currency`, from minor units (clamped to the schema's 32-bit `Int`).
    pub fn new(minor_units: i64, currency: &str) -> Self {
        Self {
            minor_units: i32::try_from(minor_units).unwrap_or(i32::MAX),
            currency: Currency::Code(currency.into()),
        }
    }

    pub(super) fn of_product(minor_units: i32, product: &ProductObj) -> Self {
        Self {
            minor_units,
            currency: Currency::OfProduct(product.clone()),
        }
    }

    fn currency(&self) -> &str {
        match &self.currency {
            Currency::OfProduct(product) => &product.currency,
            Currency::Code(code) => code,
        }
    }

    fn write(&self, out: &mut Out, write: fn(&mut String, i32, &str)) {
        let mut text = String::with_capacity(16);
        write(&mut text, self.minor_units, self.currency());
        out.str(&text);
    }
}

/// `Money`'s fields.
pub(super) fn register(registry: &mut Registry) {
    registry
        .object::<MoneyObj>("Money")
        .leaf("amount", |m: &MoneyObj, out| m.write(out, write_amount))
        .leaf("currency", |m: &MoneyObj, out| out.str(m.currency()))
        .leaf("minorUnits", |m: &MoneyObj, out| {
            out.int(m.minor_units.into())
        })
        .leaf("formatted", |m: &MoneyObj, out| {
            m.write(out, write_formatted)
        });
}

/// The amount of `minor_units` of `currency` as a decimal in major units ("59.95").
fn write_amount(out: &mut String, minor_units: i32, currency: &str) {
    use std::fmt::Write;
    let decimals = match currency {
        "JPY" | "KRW" | "ISK" => 0,
        _ => 2,
    };
    let sign = if minor_units < 0 { "-" } else { "" };
    let abs = minor_units.unsigned_abs();
    // Writing into a String cannot fail.
    let _ = if decimals == 0 {
        write!(out, "{sign}{abs}")
    } else {
        write!(out, "{sign}{}.{:02}", abs / 100, abs % 100)
    };
}

/// The display form of an amount ("€59.95", "12.00 SEK").
fn write_formatted(out: &mut String, minor_units: i32, currency: &str) {
    let symbol = match currency {
        "EUR" => "€",
        "GBP" => "£",
        "USD" => "$",
        "JPY" => "¥",
        _ => "",
    };
    out.push_str(symbol);
    write_amount(out, minor_units, currency);
    if symbol.is_empty() {
        out.push(' ');
        out.push_str(currency);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(write: fn(&mut String, i32, &str), minor_units: i32, currency: &str) -> String {
        let mut out = String::new();
        write(&mut out, minor_units, currency);
        out
    }

    #[test]
    fn money_keeps_exact_decimals_and_formats_by_currency() {
        assert_eq!(text(write_amount, 5995, "EUR"), "59.95");
        assert_eq!(text(write_formatted, 5995, "EUR"), "€59.95");
        assert_eq!(text(write_amount, 5, "GBP"), "0.05");
        assert_eq!(text(write_amount, -5, "GBP"), "-0.05");
        assert_eq!(text(write_formatted, 1200, "SEK"), "12.00 SEK");
        assert_eq!(text(write_amount, 1200, "JPY"), "1200");
        assert_eq!(MoneyObj::new(i64::MAX, "EUR").minor_units, i32::MAX);
    }
}
