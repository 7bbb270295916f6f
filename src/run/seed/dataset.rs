//! The rows `seed` writes, and their generation: a pure function of the size and the seed.

use super::rng::Rng;
use super::{SeedReport, SeedSize, Stamp, catalog, community, tree};

#[derive(Debug, PartialEq)]
pub(super) struct Category {
    pub(super) id: i32,
    pub(super) parent_id: Option<i32>,
    pub(super) slug: String,
    pub(super) name: &'static str,
    pub(super) position: i32,
}

#[derive(Debug, PartialEq)]
pub(super) struct Brand {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) logo_url: String,
    pub(super) created_at: Stamp,
}

#[derive(Debug, PartialEq)]
pub(super) struct Shop {
    pub(super) id: i32,
    pub(super) slug: String,
    pub(super) name: String,
    pub(super) domain: String,
    pub(super) country: &'static str,
    pub(super) currency: &'static str,
}

#[derive(Debug, PartialEq)]
pub(super) struct Product {
    pub(super) id: i32,
    pub(super) brand_id: i32,
    pub(super) shop_id: i32,
    pub(super) category_id: i32,
    /// The root category (not stored; collages pick products within one root).
    pub(super) root: usize,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) color: &'static str,
    pub(super) price_cents: i32,
    pub(super) sale_price_cents: Option<i32>,
    pub(super) currency: &'static str,
    pub(super) image_url: String,
    pub(super) deeplink_url: String,
    pub(super) like_count: i32,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
}

#[derive(Debug, PartialEq)]
pub(super) struct User {
    pub(super) id: i32,
    pub(super) username: String,
    pub(super) display_name: String,
    pub(super) avatar_url: Option<String>,
    pub(super) created_at: Stamp,
}

#[derive(Debug, PartialEq)]
pub(super) struct Collage {
    pub(super) id: i32,
    pub(super) user_id: i32,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) like_count: i32,
    pub(super) created_at: Stamp,
    pub(super) updated_at: Stamp,
}

#[derive(Debug, PartialEq)]
pub(super) struct CollageItem {
    pub(super) collage_id: i32,
    pub(super) position: i32,
    pub(super) product_id: i32,
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) scale: f64,
}

/// A row of `product_likes` or `collage_likes`.
#[derive(Debug, PartialEq)]
pub(super) struct Like {
    pub(super) user_id: i32,
    pub(super) thing_id: i32,
    pub(super) created_at: Stamp,
}

/// Every row `seed` writes.
#[derive(Debug, PartialEq)]
pub(super) struct Dataset {
    pub(super) categories: Vec<Category>,
    pub(super) brands: Vec<Brand>,
    pub(super) shops: Vec<Shop>,
    pub(super) products: Vec<Product>,
    pub(super) users: Vec<User>,
    pub(super) collages: Vec<Collage>,
    pub(super) items: Vec<CollageItem>,
    pub(super) tags: Vec<(i32, &'static str)>,
    pub(super) product_likes: Vec<Like>,
    pub(super) collage_likes: Vec<Like>,
}

impl Dataset {
    pub(super) fn generate(size: SeedSize, seed: u64) -> Dataset {
        let (categories, leaves) = tree::build();
        let brands = catalog::brands(size.brands, seed);
        let shops = catalog::shops(size.shops, seed);
        let mut products = catalog::products(size.products, seed, &leaves, &brands, &shops);
        let users = community::users(size.users, seed);
        let (mut collages, items, tags) =
            community::collages(size.collages, seed, &users, &products);

        let liked_products: Vec<_> = products.iter().map(|p| (p.id, p.created_at)).collect();
        let product_likes = community::likes(
            &mut Rng::stream(seed, 6),
            3 * u64::from(size.products),
            &users,
            &liked_products,
            |_, _| false,
        );
        let liked_collages: Vec<_> = collages.iter().map(|c| (c.id, c.created_at)).collect();
        let collage_likes = community::likes(
            &mut Rng::stream(seed, 7),
            5 * u64::from(size.collages),
            &users,
            &liked_collages,
            |user, collage| collages[collage as usize - 1].user_id == user,
        );
        // The denormalised counters equal the like rows exactly (ids are 1..=n).
        for like in &product_likes {
            products[like.thing_id as usize - 1].like_count += 1;
        }
        for like in &collage_likes {
            collages[like.thing_id as usize - 1].like_count += 1;
        }
        Dataset {
            categories,
            brands,
            shops,
            products,
            users,
            collages,
            items,
            tags,
            product_likes,
            collage_likes,
        }
    }

    pub(super) fn report(&self) -> SeedReport {
        let n = |len: usize| len as u64;
        SeedReport {
            brands: n(self.brands.len()),
            shops: n(self.shops.len()),
            categories: n(self.categories.len()),
            products: n(self.products.len()),
            users: n(self.users.len()),
            collages: n(self.collages.len()),
            collage_items: n(self.items.len()),
            product_likes: n(self.product_likes.len()),
            collage_likes: n(self.collage_likes.len()),
        }
    }
}
