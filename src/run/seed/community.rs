//! The community half of the seed data: users, their collages (items and tags) and likes.
//! Activity is skewed the way real communities are: a few users make many collages, a few
//! products and collages collect most likes.

use std::collections::HashSet;

use super::community_words::*;
use super::rng::Rng;
use super::tree::ROOT_COUNT;
use super::{Collage, CollageItem, Like, Product, User, spread, time};

pub(super) fn users(count: u32, seed: u64) -> Vec<User> {
    let mut rng = Rng::stream(seed, 4);
    let mut taken = HashSet::new();
    (1..=count)
        .map(|id| {
            let first = *rng.pick(&FIRST_NAMES);
            let last = *rng.pick(&LAST_NAMES);
            let base = match rng.below(5) {
                0 => format!("{first}{last}"),
                1 => format!("{first}_{last}"),
                2 => format!("{first}_{}", rng.pick(&HANDLE_WORDS)),
                3 => format!("{first}{last}{}", rng.between(1, 99)),
                _ => format!("{}_by_{first}", rng.pick(&HANDLE_WORDS)),
            };
            let mut username = base.clone();
            let mut number = 2;
            while !taken.insert(username.clone()) {
                username = format!("{base}{number}");
                number += 1;
            }
            let display_name = if rng.percent(15) {
                format!("{} {}.", capitalized(first), last[..1].to_ascii_uppercase())
            } else {
                format!("{} {}", capitalized(first), capitalized(last))
            };
            User {
                id: id as i32,
                username,
                display_name,
                avatar_url: rng
                    .percent(85)
                    .then(|| format!("https://img.ogrom.example/avatars/{id}.jpg")),
                created_at: spread(&mut rng, id, count, time::USERS_FROM, time::COMMUNITY_FROM),
            }
        })
        .collect()
}

/// Collages with their items and tags. Each collage styles one root of the tree (women's,
/// men's or kids' products); popular products appear in many collages.
pub(super) fn collages(
    count: u32,
    seed: u64,
    users: &[User],
    products: &[Product],
) -> (Vec<Collage>, Vec<CollageItem>, Vec<(i32, &'static str)>) {
    let mut rng = Rng::stream(seed, 5);
    let authors = popularity_order(&mut rng, users.len());
    let mut by_root: Vec<Vec<i32>> = vec![Vec::new(); ROOT_COUNT];
    for product in products {
        by_root[product.root].push(product.id);
    }
    for ids in &mut by_root {
        rng.shuffle(ids); // the order is the popularity rank
    }
    let (mut collages, mut items, mut tags) = (Vec::new(), Vec::new(), Vec::new());
    for id in 1..=count as i32 {
        let author = &users[authors[rng.skewed(users.len())]];
        let created_at = spread(&mut rng, id as u32, count, time::COMMUNITY_FROM, time::END);
        let updated_at = (created_at + rng.between(0, 30 * time::DAY)).min(time::END);
        collages.push(Collage {
            id,
            user_id: author.id,
            title: collage_title(&mut rng),
            description: collage_description(&mut rng),
            like_count: 0,
            created_at,
            updated_at,
        });

        let pool = &by_root[products[rng.index(products.len())].root];
        let wanted = ((rng.between(1, 12) + rng.between(1, 12) + 1) / 2) as usize;
        let mut chosen: Vec<i32> = Vec::with_capacity(wanted);
        for _ in 0..wanted * 4 {
            if chosen.len() == wanted.min(pool.len()) {
                break;
            }
            let rank = if rng.percent(50) {
                rng.skewed(pool.len())
            } else {
                rng.index(pool.len())
            };
            if !chosen.contains(&pool[rank]) {
                chosen.push(pool[rank]);
            }
        }
        for (position, product_id) in chosen.into_iter().enumerate() {
            items.push(CollageItem {
                collage_id: id,
                position: position as i32,
                product_id,
                x: rng.between(0, 1000) as f64 / 1000.0,
                y: rng.between(0, 1000) as f64 / 1000.0,
                scale: rng.between(500, 2000) as f64 / 1000.0,
            });
        }

        let tag_count = match rng.below(100) {
            0..10 => 0,
            10..35 => 1,
            35..65 => 2,
            65..85 => 3,
            _ => 4,
        };
        tags.extend(
            rng.sample(&TAGS, tag_count)
                .into_iter()
                .map(|tag| (id, tag)),
        );
    }
    (collages, items, tags)
}

fn collage_title(rng: &mut Rng) -> String {
    let mood = *rng.pick(&COLLAGE_MOODS);
    let noun = *rng.pick(&COLLAGE_NOUNS);
    match rng.below(4) {
        0 => format!("{mood} {noun} {}", rng.pick(&COLLAGE_CONTEXTS)),
        1 => format!("{mood} {noun}"),
        2 => format!("What to wear {}", rng.pick(&COLLAGE_CONTEXTS)),
        _ => format!("My {} {noun}", mood.to_lowercase()),
    }
}

/// One to three sentences; one collage in ten has no description.
fn collage_description(rng: &mut Rng) -> String {
    if rng.percent(10) {
        return String::new();
    }
    let count = 1 + rng.index(3);
    rng.sample(&COLLAGE_SENTENCES, count).join(" ")
}

/// About `target` distinct (user, thing) likes: active users like more, popular things are
/// liked more. `things` gives each thing's id and creation time; a like comes after both the
/// user and the thing existed. Sorted by (user, thing), the primary key order.
pub(super) fn likes(
    rng: &mut Rng,
    target: u64,
    users: &[User],
    things: &[(i32, i64)],
    exclude: impl Fn(i32, i32) -> bool,
) -> Vec<Like> {
    if users.is_empty() || things.is_empty() {
        return Vec::new();
    }
    let target = target.min(users.len() as u64 * things.len() as u64 / 2);
    let user_order = popularity_order(rng, users.len());
    let thing_order = popularity_order(rng, things.len());
    let mut seen = HashSet::new();
    let mut likes = Vec::with_capacity(target as usize);
    for _ in 0..target * 3 {
        if likes.len() as u64 == target {
            break;
        }
        let user = &users[user_order[rng.skewed(users.len())]];
        let (thing_id, thing_created) = things[thing_order[rng.skewed(things.len())]];
        if exclude(user.id, thing_id) || !seen.insert((user.id, thing_id)) {
            continue;
        }
        let from = user.created_at.max(thing_created);
        likes.push(Like {
            user_id: user.id,
            thing_id,
            created_at: from + rng.between(0, (time::END - from).max(0)),
        });
    }
    likes.sort_unstable_by_key(|like| (like.user_id, like.thing_id));
    likes
}

/// A random ranking of `0..n`: index 0 is the most popular.
fn popularity_order(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut order);
    order
}

fn capitalized(word: &str) -> String {
    word[..1].to_ascii_uppercase() + &word[1..]
}
