//! Properties of the generated data, checked without a database.

use std::collections::HashSet;

use super::*;

fn fixture() -> Dataset {
    Dataset::generate(SeedSize::TEST, 42)
}

#[test]
fn the_same_seed_generates_the_same_data() {
    assert_eq!(fixture(), fixture());
    assert_ne!(
        fixture().products,
        Dataset::generate(SeedSize::TEST, 43).products
    );
}

#[test]
fn sizes_are_found_by_name_in_any_case() {
    assert_eq!(SeedSize::named("Bench"), Some(SeedSize::BENCH));
    assert_eq!(SeedSize::named("TEST"), Some(SeedSize::TEST));
    assert_eq!(SeedSize::named("demo"), Some(SeedSize::DEMO));
    assert_eq!(SeedSize::named("huge"), None);
}

#[test]
fn the_timeline_constants_are_the_dates_they_claim() {
    let ms = |y, m, d| {
        chrono::NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|date| date.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc().timestamp_millis())
    };
    assert_eq!(ms(2018, 1, 1), Some(time::BRANDS_FROM));
    assert_eq!(ms(2022, 1, 1), Some(time::CATALOG_FROM));
    assert_eq!(ms(2023, 1, 1), Some(time::USERS_FROM));
    assert_eq!(ms(2024, 6, 1), Some(time::COMMUNITY_FROM));
    assert_eq!(ms(2026, 11, 1), Some(time::END));
}

#[test]
fn categories_form_a_three_level_tree_and_products_sit_in_leaves() {
    let data = fixture();
    let slugs: HashSet<_> = data.categories.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(slugs.len(), data.categories.len());
    let parents: HashSet<_> = data.categories.iter().filter_map(|c| c.parent_id).collect();
    let depth = |mut id: i32| {
        let mut depth = 0;
        while let Some(parent) = data.categories[id as usize - 1].parent_id {
            id = parent;
            depth += 1;
        }
        depth
    };
    assert!(
        data.categories
            .iter()
            .all(|c| parents.contains(&c.id) || depth(c.id) == 2)
    );
    assert!(
        data.products
            .iter()
            .all(|p| !parents.contains(&p.category_id))
    );
    assert!(slugs.contains("women-shoes-sneakers"));
}

#[test]
fn prices_are_shop_like_and_sales_are_cheaper() {
    let data = fixture();
    for p in &data.products {
        assert!(p.price_cents >= 990, "{}", p.price_cents);
        assert!(
            [90, 95, 0].contains(&(p.price_cents % 100)),
            "{}",
            p.price_cents
        );
        if let Some(sale) = p.sale_price_cents {
            assert!(0 < sale && sale < p.price_cents);
        }
        assert_eq!(p.currency, data.shops[p.shop_id as usize - 1].currency);
        assert!(p.created_at <= p.updated_at && p.updated_at <= time::END);
    }
    let on_sale = data
        .products
        .iter()
        .filter(|p| p.sale_price_cents.is_some())
        .count();
    assert!((30..=90).contains(&on_sale), "{on_sale} of 300 on sale");
}

#[test]
fn names_and_usernames_are_unique_and_well_formed() {
    let data = fixture();
    let big = Dataset::generate(
        SeedSize {
            products: 0,
            collages: 0,
            ..SeedSize::BENCH
        },
        1,
    );
    for d in [&data, &big] {
        let brand_slugs: HashSet<_> = d.brands.iter().map(|b| b.slug.as_str()).collect();
        assert_eq!(brand_slugs.len(), d.brands.len());
        let shop_slugs: HashSet<_> = d.shops.iter().map(|s| s.slug.as_str()).collect();
        assert_eq!(shop_slugs.len(), d.shops.len());
        let usernames: HashSet<_> = d.users.iter().map(|u| u.username.as_str()).collect();
        assert_eq!(usernames.len(), d.users.len());
        for u in &d.users {
            assert!(u.username.len() <= 50);
            assert!(
                u.username
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
        }
    }
}

#[test]
fn collages_have_valid_items_and_tags() {
    let data = fixture();
    for c in &data.collages {
        let items: Vec<_> = data.items.iter().filter(|i| i.collage_id == c.id).collect();
        assert!((1..=12).contains(&items.len()));
        let positions: Vec<_> = items.iter().map(|i| i.position).collect();
        assert_eq!(positions, (0..items.len() as i32).collect::<Vec<_>>());
        let products: HashSet<_> = items.iter().map(|i| i.product_id).collect();
        assert_eq!(products.len(), items.len());
        for i in items {
            assert!((0.0..=1.0).contains(&i.x) && (0.0..=1.0).contains(&i.y));
            assert!((0.5..=2.0).contains(&i.scale));
        }
        let tags: Vec<_> = data.tags.iter().filter(|(id, _)| *id == c.id).collect();
        assert!(tags.len() <= 4);
        assert_eq!(
            tags.iter().map(|(_, t)| t).collect::<HashSet<_>>().len(),
            tags.len()
        );
    }
}

#[test]
fn like_counts_equal_the_like_rows() {
    let data = fixture();
    let pairs: HashSet<_> = data
        .product_likes
        .iter()
        .map(|l| (l.user_id, l.thing_id))
        .collect();
    assert_eq!(pairs.len(), data.product_likes.len());
    for p in &data.products {
        let likes = data
            .product_likes
            .iter()
            .filter(|l| l.thing_id == p.id)
            .count();
        assert_eq!(p.like_count as usize, likes);
    }
    for c in &data.collages {
        let likes = data
            .collage_likes
            .iter()
            .filter(|l| l.thing_id == c.id)
            .count();
        assert_eq!(c.like_count as usize, likes);
    }
    let most = data
        .products
        .iter()
        .map(|p| p.like_count)
        .max()
        .unwrap_or(0);
    assert!(most >= 10, "the most liked product has only {most} likes");
}

#[test]
fn invented_brand_names_avoid_real_trademarks() {
    for stem in catalog_words::BRAND_STEMS {
        for ending in catalog_words::BRAND_ENDINGS {
            let name = format!("{stem}{ending}").to_lowercase();
            assert!(
                !catalog_words::TRADEMARKS.contains(&name.as_str()),
                "{name}"
            );
        }
    }
}

#[test]
fn material_overrides_name_nouns_of_the_tree() {
    let (_, leaves) = tree::build();
    for (noun, _) in catalog_words::MATERIALS_BY_NOUN {
        assert!(leaves.iter().any(|leaf| leaf.noun == noun), "{noun}");
    }
}
