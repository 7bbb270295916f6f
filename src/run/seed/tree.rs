//! The category tree the seed generator uses at every size: root (who) → group (what kind)
//! → leaf (what). Products only go into leaves; each leaf knows the noun its product names use
//! and a plausible price range.

use super::Category;

/// One leaf: its name, the noun product names use, and its price range in whole euros.
struct LeafSpec(&'static str, &'static str, i64, i64);

/// A leaf of the built tree, as the product generator needs it.
#[derive(Debug, Clone)]
pub(super) struct Leaf {
    pub category_id: i32,
    /// Index of the root (Women, Men, Kids): collages stay within one root.
    pub root: usize,
    /// Index of the group (clothing, shoes, bags, accessories): picks the material words.
    pub group: usize,
    pub noun: &'static str,
    pub min_price: i64,
    pub max_price: i64,
    /// Relative share of the products that go into this leaf.
    pub weight: u64,
}

const GROUPS: [(&str, u64); 4] = [
    ("Clothing", 45),
    ("Shoes", 25),
    ("Bags", 15),
    ("Accessories", 15),
];

const ROOTS: [(&str, u64, [&[LeafSpec]; 4]); 3] = [
    (
        "Women",
        50,
        [
            &[
                LeafSpec("Dresses", "Dress", 29, 249),
                LeafSpec("Tops", "Top", 15, 89),
                LeafSpec("T-Shirts", "T-Shirt", 10, 59),
                LeafSpec("Jeans", "Jeans", 39, 189),
                LeafSpec("Skirts", "Skirt", 25, 149),
                LeafSpec("Knitwear", "Sweater", 35, 249),
                LeafSpec("Jackets", "Jacket", 59, 349),
                LeafSpec("Coats", "Coat", 89, 499),
            ],
            &[
                LeafSpec("Sneakers", "Sneakers", 49, 199),
                LeafSpec("Boots", "Boots", 79, 399),
                LeafSpec("Sandals", "Sandals", 29, 179),
                LeafSpec("Heels", "Heels", 59, 299),
                LeafSpec("Ballet Flats", "Ballet Flats", 39, 179),
            ],
            &[
                LeafSpec("Totes", "Tote", 29, 399),
                LeafSpec("Crossbody Bags", "Crossbody Bag", 35, 349),
                LeafSpec("Clutches", "Clutch", 25, 249),
                LeafSpec("Backpacks", "Backpack", 39, 199),
            ],
            &[
                LeafSpec("Sunglasses", "Sunglasses", 19, 249),
                LeafSpec("Belts", "Belt", 15, 129),
                LeafSpec("Scarves", "Scarf", 15, 149),
                LeafSpec("Hats", "Hat", 15, 99),
                LeafSpec("Jewelry", "Earrings", 12, 199),
                LeafSpec("Watches", "Watch", 59, 399),
            ],
        ],
    ),
    (
        "Men",
        35,
        [
            &[
                LeafSpec("Shirts", "Shirt", 29, 149),
                LeafSpec("T-Shirts", "T-Shirt", 10, 59),
                LeafSpec("Jeans", "Jeans", 39, 189),
                LeafSpec("Trousers", "Trousers", 39, 179),
                LeafSpec("Knitwear", "Sweater", 35, 249),
                LeafSpec("Jackets", "Jacket", 59, 349),
                LeafSpec("Coats", "Coat", 89, 499),
                LeafSpec("Suits", "Suit", 149, 499),
            ],
            &[
                LeafSpec("Sneakers", "Sneakers", 49, 199),
                LeafSpec("Boots", "Boots", 79, 399),
                LeafSpec("Loafers", "Loafers", 69, 299),
                LeafSpec("Sandals", "Sandals", 29, 149),
            ],
            &[
                LeafSpec("Backpacks", "Backpack", 39, 199),
                LeafSpec("Messenger Bags", "Messenger Bag", 49, 299),
                LeafSpec("Weekenders", "Weekender", 69, 399),
            ],
            &[
                LeafSpec("Sunglasses", "Sunglasses", 19, 249),
                LeafSpec("Belts", "Belt", 15, 129),
                LeafSpec("Hats", "Cap", 15, 79),
                LeafSpec("Watches", "Watch", 59, 399),
                LeafSpec("Ties", "Tie", 19, 89),
            ],
        ],
    ),
    (
        "Kids",
        15,
        [
            &[
                LeafSpec("T-Shirts", "T-Shirt", 10, 29),
                LeafSpec("Jeans", "Jeans", 19, 59),
                LeafSpec("Dresses", "Dress", 19, 69),
                LeafSpec("Jackets", "Jacket", 29, 119),
                LeafSpec("Pyjamas", "Pyjamas", 15, 49),
            ],
            &[
                LeafSpec("Sneakers", "Sneakers", 25, 89),
                LeafSpec("Boots", "Boots", 29, 99),
                LeafSpec("Sandals", "Sandals", 15, 59),
            ],
            &[
                LeafSpec("Backpacks", "Backpack", 19, 69),
                LeafSpec("Gym Bags", "Gym Bag", 15, 49),
            ],
            &[
                LeafSpec("Hats", "Hat", 10, 35),
                LeafSpec("Sunglasses", "Sunglasses", 10, 39),
                LeafSpec("Gloves", "Gloves", 10, 29),
            ],
        ],
    ),
];

/// The number of roots (collages pick their products within one).
pub(super) const ROOT_COUNT: usize = ROOTS.len();

/// The whole tree in depth-first order (a parent always before its children), ids from 1,
/// and its leaves.
pub(super) fn build() -> (Vec<Category>, Vec<Leaf>) {
    let mut categories = Vec::new();
    let mut leaves = Vec::new();
    let mut add = |parent_id: Option<i32>, slug: String, name: &'static str, position: usize| {
        let id = categories.len() as i32 + 1;
        categories.push(Category {
            id,
            parent_id,
            slug,
            name,
            position: position as i32,
        });
        id
    };
    for (root_index, (root_name, root_weight, groups)) in ROOTS.iter().enumerate() {
        let root_slug = slugify(root_name);
        let root_id = add(None, root_slug.clone(), root_name, root_index);
        for (group_index, ((group_name, group_weight), specs)) in
            GROUPS.iter().zip(groups.iter()).enumerate()
        {
            let group_slug = format!("{root_slug}-{}", slugify(group_name));
            let group_id = add(Some(root_id), group_slug.clone(), group_name, group_index);
            for (position, LeafSpec(name, noun, min_price, max_price)) in specs.iter().enumerate() {
                let category_id = add(
                    Some(group_id),
                    format!("{group_slug}-{}", slugify(name)),
                    name,
                    position,
                );
                leaves.push(Leaf {
                    category_id,
                    root: root_index,
                    group: group_index,
                    noun,
                    min_price: *min_price,
                    max_price: *max_price,
                    weight: root_weight * group_weight * 1000 / specs.len() as u64,
                });
            }
        }
    }
    (categories, leaves)
}

/// Lowercase ASCII letters and digits, words joined by single dashes.
pub(super) fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}
