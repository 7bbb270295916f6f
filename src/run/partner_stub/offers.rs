//! Run layer, partner stub: the offers it serves, generated from the product id alone (no
//! database), and the parsing of the `product_ids` parameter. Pure functions, so tests can
//! compute what the stub answers without calling it.

use serde::{Deserialize, Serialize};

/// Most ids one call may ask for, as the partner's contract allows.
pub const MAX_IDS: usize = 50;

/// Shops the stub's offers come from. Invented slugs: the seed's shops are random, and the
/// stub must work without a database.
const SHOPS: [&str; 7] = [
    "nordlys-mode",
    "calle-moda",
    "atelier-rue",
    "urban-closet",
    "kaufhaus-kiez",
    "loja-do-porto",
    "bottega-viva",
];

const AVAILABILITY: [&str; 3] = ["in_stock", "low_stock", "out_of_stock"];

const SIZES: [&str; 5] = ["XS", "S", "M", "L", "XL"];

/// One offer, serialised exactly as the partner's contract has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StubOffer {
    /// The product the offer is for.
    pub product_id: u64,
    /// The shop's slug.
    pub shop: String,
    /// The offer's price.
    pub price: StubPrice,
    /// `in_stock`, `low_stock` or `out_of_stock`.
    pub availability: String,
    /// Sizes in stock: three when `in_stock`, one when `low_stock`, none when out of stock.
    pub sizes: Vec<String>,
    /// The deep link to the shop's product page.
    pub url: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// A price as the partner writes it: a decimal string with two decimals, and a currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StubPrice {
    /// Major units with two decimals (`"19.95"`).
    pub amount: String,
    /// ISO 4217 code; the stub always answers `EUR`.
    pub currency: String,
}

/// How many offers the stub has for a product: none when `id % 10 == 0`, two when the id is
/// otherwise even, one when it is odd.
pub fn expected_offer_count(product_id: u64) -> usize {
    if product_id.is_multiple_of(10) {
        0
    } else if product_id.is_multiple_of(2) {
        2
    } else {
        1
    }
}

/// The offers the stub answers for a product, in order (see the module doc of
/// `partner_stub` for the rule).
pub fn offers_for(product_id: u64) -> Vec<StubOffer> {
    (0..expected_offer_count(product_id) as u64)
        .map(|index| offer(product_id, index))
        .collect()
}

fn offer(id: u64, index: u64) -> StubOffer {
    let shop = SHOPS[((id + index) % SHOPS.len() as u64) as usize];
    let cents = 995 + (id % 200) * 50 + index * 300;
    let availability = AVAILABILITY[((id + index) % 3) as usize];
    let sizes: &[&str] = match availability {
        "in_stock" => {
            let start = (id % 3) as usize;
            &SIZES[start..start + 3]
        }
        "low_stock" => {
            let at = (id % 5) as usize;
            &SIZES[at..=at]
        }
        _ => &[],
    };
    let minutes = id % 1440;
    StubOffer {
        product_id: id,
        shop: shop.to_owned(),
        price: StubPrice {
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            currency: "EUR".to_owned(),
        },
        availability: availability.to_owned(),
        sizes: sizes.iter().map(|s| (*s).to_owned()).collect(),
        url: format!("https://{shop}.shop.example/p/{id}?offer={index}"),
        updated_at: format!("2026-01-01T{:02}:{:02}:00Z", minutes / 60, minutes % 60),
    }
}

/// Whether `drop_fraction` leaves this product out of an answer: with `k = round(1 / f)`,
/// ids where `id % k == k - 1` are dropped (0.5 drops odd ids, 0.2 ids ending in 4 or 9,
/// anything above 2/3 drops all). Taking `k - 1` rather than 0 keeps the dropped ids clear of
/// the multiples of 10, which have no offers anyway, so small fractions still show.
pub fn dropped_by_fraction(product_id: u64, fraction: f64) -> bool {
    // A NaN fraction drops nothing, as 0 does.
    if fraction.is_nan() || fraction <= 0.0 {
        return false;
    }
    // Saturating float-to-int cast: a tiny fraction gives a huge k, which drops almost nothing.
    let k = ((1.0 / fraction).round() as u64).max(1);
    product_id % k == k - 1
}

/// Parses `12,17,99`: at least one and at most [`MAX_IDS`] unsigned decimal ids, nothing
/// else (no spaces, no empty items), so a client that builds the list wrongly finds out here.
pub(super) fn parse_ids(raw: Option<&str>) -> Result<Vec<u64>, String> {
    let raw = raw.ok_or("the product_ids parameter is missing")?;
    if raw.is_empty() {
        return Err("product_ids is empty".to_owned());
    }
    let ids = raw
        .split(',')
        .map(|item| {
            item.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| item.parse::<u64>().ok())
                .flatten()
                .ok_or_else(|| format!("{item:?} in product_ids is not a product id"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() > MAX_IDS {
        return Err(format!(
            "{} ids in product_ids; at most {MAX_IDS} a call",
            ids.len()
        ));
    }
    Ok(ids)
}
