//! The partner's JSON, read strictly: an answer that does not fit the contract is an error,
//! never a silently wrong price.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::protocols::offers::{Availability, Offer};

#[derive(Deserialize)]
struct Answer {
    offers: Vec<WireOffer>,
}

#[derive(Deserialize)]
struct WireOffer {
    product_id: i32,
    shop: String,
    price: WirePrice,
    availability: WireAvailability,
    #[serde(default)]
    sizes: Vec<String>,
    url: String,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct WirePrice {
    amount: String,
    currency: String,
}

// The names are the partner contract's values (in_stock, low_stock, out_of_stock).
#[allow(clippy::enum_variant_names)]
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum WireAvailability {
    InStock,
    LowStock,
    OutOfStock,
}

/// Parses an answer into offers by product.
pub(super) fn parse(body: &[u8]) -> Result<HashMap<i32, Vec<Offer>>, String> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("answer does not fit the contract: {e}"))?;
    let mut offers: HashMap<i32, Vec<Offer>> = HashMap::new();
    for offer in answer.offers {
        let price_minor = minor_units(&offer.price.amount)
            .ok_or_else(|| format!("price {:?} is not a decimal amount", offer.price.amount))?;
        offers.entry(offer.product_id).or_default().push(Offer {
            product_id: offer.product_id,
            shop: offer.shop,
            price_minor,
            currency: offer.price.currency,
            availability: match offer.availability {
                WireAvailability::InStock => Availability::InStock,
                WireAvailability::LowStock => Availability::LowStock,
                WireAvailability::OutOfStock => Availability::OutOfStock,
            },
            sizes: offer.sizes,
            url: offer.url,
            updated_at: offer.updated_at,
        });
    }
    Ok(offers)
}

/// "59.95" → 5995, "12" → 1200, "0.5" → 50; anything else (signs, more decimals) is refused.
fn minor_units(amount: &str) -> Option<i64> {
    let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if fraction.len() > 2 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_exact_minor_units() {
        assert_eq!(minor_units("59.95"), Some(5995));
        assert_eq!(minor_units("12"), Some(1200));
        assert_eq!(minor_units("0.5"), Some(50));
        for bad in ["", "-1.00", "1.999", "1,50", "abc", ".5", "1e3"] {
            assert_eq!(minor_units(bad), None, "{bad}");
        }
    }

    #[test]
    fn answers_that_break_the_contract_are_errors() {
        let good = br#"{"offers":[{"product_id":12,"shop":"s","price":{"amount":"59.95","currency":"EUR"},
            "availability":"low_stock","sizes":["S"],"url":"https://x.example","updated_at":"2026-11-27T10:00:00Z"}]}"#;
        let offers = parse(good).unwrap();
        assert_eq!(offers[&12][0].price_minor, 5995);
        assert_eq!(offers[&12][0].availability, Availability::LowStock);
        assert!(parse(b"{not json").is_err());
        assert!(parse(br#"{"offers":[{"product_id":"12"}]}"#).is_err());
        assert!(parse(br#"{"items":[]}"#).is_err());
    }
}
