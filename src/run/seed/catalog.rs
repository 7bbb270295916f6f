//! The catalog half of the seed data: brands, shops and products (the category tree is in
//! `tree`). Pure functions of the size and the seed.

use std::collections::HashSet;

use super::catalog_words::*;
use super::rng::Rng;
use super::tree::{Leaf, slugify};
use super::{Brand, Product, Shop, spread, time};

pub(super) fn brands(count: u32, seed: u64) -> Vec<Brand> {
    let mut rng = Rng::stream(seed, 1);
    let mut names = Names::default();
    (1..=count)
        .map(|id| {
            let name = names.unique(&mut rng, brand_name);
            let slug = slugify(&name);
            Brand {
                id: id as i32,
                logo_url: format!("https://img.ogrom.example/brands/{slug}.png"),
                slug,
                name,
                created_at: spread(&mut rng, id, count, time::BRANDS_FROM, time::CATALOG_FROM),
            }
        })
        .collect()
}

fn brand_name(rng: &mut Rng) -> String {
    let stem = format!("{}{}", rng.pick(&BRAND_STEMS), rng.pick(&BRAND_ENDINGS));
    match rng.below(100) {
        0..45 => stem,
        45..75 => format!("{stem} {}", rng.pick(&BRAND_DESCRIPTORS)),
        _ => {
            let pair = rng.sample(&BRAND_PAIR_WORDS, 2);
            format!("{} & {}", pair[0], pair[1])
        }
    }
}

pub(super) fn shops(count: u32, seed: u64) -> Vec<Shop> {
    let mut rng = Rng::stream(seed, 2);
    let mut names = Names::default();
    (1..=count)
        .map(|id| {
            let name = names.unique(&mut rng, |rng| {
                format!("{} {}", rng.pick(&SHOP_FIRST), rng.pick(&SHOP_SECOND))
            });
            let slug = slugify(&name);
            let (country, currency) = COUNTRIES[(id as usize - 1) % COUNTRIES.len()];
            Shop {
                id: id as i32,
                domain: format!("{slug}.shop.example"),
                slug,
                name,
                country,
                currency,
            }
        })
        .collect()
}

/// Products spread over the leaves by weight, over brands by popularity (some brands carry
/// many products), and uniformly over shops.
pub(super) fn products(
    count: u32,
    seed: u64,
    leaves: &[Leaf],
    brands: &[Brand],
    shops: &[Shop],
) -> Vec<Product> {
    let mut rng = Rng::stream(seed, 3);
    let mut brand_rank: Vec<usize> = (0..brands.len()).collect();
    rng.shuffle(&mut brand_rank);
    let cumulative: Vec<u64> = leaves
        .iter()
        .scan(0, |sum, leaf| {
            *sum += leaf.weight;
            Some(*sum)
        })
        .collect();
    let total_weight = cumulative.last().copied().unwrap_or(0);

    (1..=count)
        .map(|id| {
            let target = rng.below(total_weight);
            let leaf = &leaves[cumulative.partition_point(|&sum| sum <= target)];
            let brand = &brands[brand_rank[rng.skewed(brands.len())]];
            let shop = rng.pick(shops);
            let color = *rng.pick(&COLORS);
            let materials = MATERIALS_BY_NOUN
                .iter()
                .find(|(noun, _)| *noun == leaf.noun)
                .map_or(GROUP_WORDS[leaf.group].materials, |(_, materials)| {
                    materials
                });
            let material = *rng.pick(materials);
            let adjective = *rng.pick(&PRODUCT_ADJECTIVES);
            let name = product_name(&mut rng, &brand.name, adjective, material, color, leaf.noun);
            let description =
                product_description(&mut rng, &brand.name, adjective, material, color, leaf);
            let price_cents = price(&mut rng, leaf, shop.currency);
            let sale_price_cents = rng.percent(20).then(|| sale_price(&mut rng, price_cents));
            let created_at = spread(
                &mut rng,
                id,
                count,
                time::CATALOG_FROM,
                time::COMMUNITY_FROM,
            );
            let updated_at = (created_at + rng.between(0, 365 * time::DAY)).min(time::END);
            Product {
                id: id as i32,
                brand_id: brand.id,
                shop_id: shop.id,
                category_id: leaf.category_id,
                root: leaf.root,
                image_url: format!("https://img.ogrom.example/products/{id}.jpg"),
                deeplink_url: format!(
                    "https://{}/p/{id}-{}?utm_source=ogrom",
                    shop.domain,
                    slugify(&name)
                ),
                name,
                description,
                color,
                price_cents,
                sale_price_cents,
                currency: shop.currency,
                like_count: 0,
                created_at,
                updated_at,
            }
        })
        .collect()
}

fn product_name(
    rng: &mut Rng,
    brand: &str,
    adjective: &str,
    material: &str,
    color: &str,
    noun: &str,
) -> String {
    match rng.below(5) {
        0 => format!("{brand} {adjective} {noun}"),
        1 => format!(
            "{adjective} {} {noun} in {}",
            capitalize(material),
            capitalize(color)
        ),
        2 => format!("{brand} {} {noun}", capitalize(material)),
        3 => format!("{brand} {adjective} {} {noun}", capitalize(color)),
        _ => format!("{brand} {} {noun}", rng.pick(&MODEL_NAMES)),
    }
}

fn product_description(
    rng: &mut Rng,
    brand: &str,
    adjective: &str,
    material: &str,
    color: &str,
    leaf: &Leaf,
) -> String {
    let mut text = format!(
        "{adjective} {} in {color} {material}, by {brand}.",
        leaf.noun.to_lowercase()
    );
    let words = &GROUP_WORDS[leaf.group];
    let fit = rng.pick(words.fit);
    let details = 1 + rng.index(2);
    let details = rng.sample(words.details, details);
    let occasion = rng.pick(&OCCASION_SENTENCES);
    for sentence in [fit].into_iter().chain(&details).chain([occasion]) {
        text.push(' ');
        text.push_str(sentence);
    }
    if rng.percent(50) {
        text.push(' ');
        let care = *rng.pick(words.care);
        text.push_str(care);
    }
    text
}

/// A price in the leaf's range (cheaper more likely), converted to the shop's currency and
/// ending in .90, .95 or .00 as shop prices do.
fn price(rng: &mut Rng, leaf: &Leaf, currency: &str) -> i32 {
    let u = rng.unit();
    let euros = leaf.min_price + (u * u * (leaf.max_price - leaf.min_price + 1) as f64) as i64;
    let units = match currency {
        "USD" => euros * 11 / 10,
        "GBP" => euros * 87 / 100,
        "SEK" => euros * 11,
        _ => euros,
    }
    .max(10);
    let cents = match rng.below(3) {
        0 => units * 100 - 10,
        1 => units * 100 - 5,
        _ => units * 100,
    };
    cents as i32
}

/// 10 to 50 percent off, rounded down to a shop-like price: always strictly below `price`.
fn sale_price(rng: &mut Rng, price: i32) -> i32 {
    let percent_off = *rng.pick(&[10, 15, 20, 25, 30, 40, 50]);
    let discounted = price * (100 - percent_off) / 100;
    discounted / 100 * 100 - *rng.pick(&[0, 5, 10])
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Draws names until one is new (and no real trademark); after many misses (more names asked
/// for than the word lists hold) numbers the name instead.
#[derive(Default)]
struct Names {
    taken: HashSet<String>,
}

impl Names {
    fn unique(&mut self, rng: &mut Rng, mut draw: impl FnMut(&mut Rng) -> String) -> String {
        let mut name = draw(rng);
        for _ in 0..50 {
            if self.is_free(&name) {
                break;
            }
            name = draw(rng);
        }
        let base = name.clone();
        let mut number = 2;
        while self.taken.contains(&slugify(&name)) {
            name = format!("{base} {number}");
            number += 1;
        }
        self.taken.insert(slugify(&name));
        name
    }

    fn is_free(&self, name: &str) -> bool {
        let slug = slugify(name);
        !self.taken.contains(&slug) && !slug.split('-').any(|word| TRADEMARKS.contains(&word))
    }
}
