//! The word lists the seed generator composes brand, shop and product names and texts from.
//! All invented or generic: no real brand or shop is meant.

/// Product colors: the values of `products.color` (lowercase, the search facet's values).
pub(super) const COLORS: [&str; 14] = [
    "black", "white", "red", "blue", "navy", "green", "beige", "brown", "grey", "pink", "yellow",
    "purple", "orange", "cream",
];

/// Countries shops are in, with their currency; ordered so that even a handful of shops
/// covers all four currencies.
pub(super) const COUNTRIES: [(&str, &str); 8] = [
    ("DE", "EUR"),
    ("GB", "GBP"),
    ("US", "USD"),
    ("SE", "SEK"),
    ("FR", "EUR"),
    ("IT", "EUR"),
    ("NL", "EUR"),
    ("ES", "EUR"),
];

pub(super) const BRAND_STEMS: [&str; 32] = [
    "Vel", "Cor", "Dal", "Fen", "Bry", "Hal", "Isol", "Jun", "Kal", "Lum", "Mer", "Nor", "Oss",
    "Pell", "Quin", "Rov", "Sol", "Tal", "Ulv", "Vant", "Wyn", "Xav", "Yar", "Zel", "Arv", "Brev",
    "Cael", "Dov", "Elm", "Fiar", "Grav", "Hest",
];

pub(super) const BRAND_ENDINGS: [&str; 16] = [
    "ora", "ine", "ello", "ara", "ette", "ova", "uno", "elle", "ira", "ovo", "ax", "en", "ian",
    "or", "ena", "ith",
];

pub(super) const BRAND_DESCRIPTORS: [&str; 10] = [
    "Studio",
    "Atelier",
    "Label",
    "Works",
    "Supply",
    "Collective",
    "House",
    "Club",
    "Line",
    "Edition",
];

pub(super) const BRAND_PAIR_WORDS: [&str; 24] = [
    "Fern", "Oak", "Birch", "Salt", "Stone", "Linen", "Wren", "Moss", "Harbor", "Meadow", "Ash",
    "Cedar", "Field", "Flint", "Heron", "Ivy", "Juniper", "Lark", "Marlow", "Pine", "Rowan",
    "Sable", "Thistle", "Willow",
];

/// Real fashion and beauty names that invented names must not collide with.
pub(super) const TRADEMARKS: [&str; 64] = [
    "zara",
    "mango",
    "gucci",
    "prada",
    "nike",
    "puma",
    "celine",
    "chloe",
    "loewe",
    "fendi",
    "dior",
    "hermes",
    "marni",
    "alaia",
    "etro",
    "boss",
    "lacoste",
    "diesel",
    "guess",
    "vans",
    "coach",
    "kenzo",
    "lanvin",
    "balmain",
    "moschino",
    "versace",
    "armani",
    "valentino",
    "givenchy",
    "ecco",
    "geox",
    "asics",
    "fila",
    "kappa",
    "reebok",
    "adidas",
    "converse",
    "clarks",
    "camper",
    "arket",
    "cos",
    "monki",
    "uniqlo",
    "topshop",
    "boden",
    "reiss",
    "ganni",
    "acne",
    "toteme",
    "sezane",
    "maje",
    "sandro",
    "ami",
    "hugo",
    "esprit",
    "furla",
    "tumi",
    "fossil",
    "swatch",
    "pandora",
    "corum",
    "solis",
    "talis",
    "rosen",
];

pub(super) const SHOP_FIRST: [&str; 16] = [
    "Urban", "Nordic", "Little", "Golden", "Velvet", "Cedar", "Harbor", "Metro", "Atlas", "Olive",
    "Copper", "Maple", "Silver", "Blue", "Wild", "Coastal",
];

pub(super) const SHOP_SECOND: [&str; 14] = [
    "Closet", "Wardrobe", "Boutique", "Store", "Rack", "Thread", "Stitch", "Loft", "Outlet",
    "Corner", "Market", "Edit", "Room", "Lane",
];

pub(super) const PRODUCT_ADJECTIVES: [&str; 24] = [
    "Relaxed",
    "Slim",
    "Oversized",
    "Classic",
    "Cropped",
    "Tailored",
    "Soft",
    "Structured",
    "Lightweight",
    "Essential",
    "Vintage",
    "Everyday",
    "Organic",
    "Recycled",
    "Chunky",
    "Sleek",
    "Textured",
    "Washed",
    "Ribbed",
    "Quilted",
    "Minimal",
    "Pleated",
    "Padded",
    "Woven",
];

pub(super) const MODEL_NAMES: [&str; 16] = [
    "Oslo", "Riva", "Lena", "Aria", "Nova", "Milo", "Juno", "Sierra", "Atlas", "Cleo", "Bodhi",
    "Isla", "Porto", "Kyoto", "Sora", "Vela",
];

/// Materials for the products where the group's list would give odd pairs (silk jeans,
/// acetate scarves); other products use their group's materials.
pub(super) const MATERIALS_BY_NOUN: [(&str, &[&str]); 16] = [
    ("Jeans", &["denim", "stretch denim", "organic denim"]),
    ("T-Shirt", &["cotton", "organic cotton", "jersey", "linen"]),
    (
        "Jacket",
        &["denim", "leather", "nylon", "cotton", "corduroy", "wool"],
    ),
    ("Coat", &["wool", "cashmere", "nylon", "cotton"]),
    ("Suit", &["wool", "linen", "cotton"]),
    ("Pyjamas", &["cotton", "flannel", "jersey"]),
    ("Sweater", &["wool", "cashmere", "cotton", "merino"]),
    ("Sunglasses", &["acetate", "metal"]),
    ("Belt", &["leather", "suede", "canvas"]),
    ("Scarf", &["wool", "silk", "cashmere", "cotton"]),
    ("Hat", &["wool", "cotton", "straw"]),
    ("Cap", &["cotton", "wool", "nylon"]),
    ("Earrings", &["gold-plated", "sterling silver", "brass"]),
    ("Watch", &["stainless steel", "leather", "gold-tone"]),
    ("Tie", &["silk", "wool"]),
    ("Gloves", &["wool", "leather", "fleece"]),
];

/// The words a product's description draws on, per category group.
pub(super) struct GroupWords {
    pub materials: &'static [&'static str],
    /// How it fits or carries.
    pub fit: &'static [&'static str],
    pub details: &'static [&'static str],
    pub care: &'static [&'static str],
}

/// Indexed like the tree's groups: clothing, shoes, bags, accessories.
pub(super) const GROUP_WORDS: [GroupWords; 4] = [
    GroupWords {
        materials: &[
            "cotton", "linen", "wool", "denim", "silk", "cashmere", "jersey", "corduroy", "viscose",
        ],
        fit: &[
            "Relaxed fit with a soft hand-feel.",
            "Cut close to the body for a clean line.",
            "Roomy through the body, with dropped shoulders.",
            "True to size; take your usual size.",
            "Designed to layer easily over or under.",
            "Generous proportions for an easy, modern look.",
            "Holds its shape wear after wear.",
        ],
        details: &[
            "Finished with tonal stitching.",
            "Features a concealed zip closure.",
            "Has two deep side pockets.",
            "Made with responsibly sourced fibres.",
            "Lined for extra warmth.",
            "Trimmed with contrast piping.",
            "Garment-dyed for a lived-in look.",
            "Reinforced seams for durability.",
        ],
        care: &[
            "Machine wash cold.",
            "Hand wash only.",
            "Dry clean recommended.",
        ],
    },
    GroupWords {
        materials: &["leather", "suede", "canvas", "mesh", "rubber", "knit"],
        fit: &[
            "True to size; take your usual size.",
            "Lightly padded for all-day comfort.",
            "A flexible sole that moves with you.",
            "Between sizes? Take the larger one.",
        ],
        details: &[
            "Rounded off with a cushioned insole.",
            "Set on a grippy rubber outsole.",
            "Has a padded collar and a pull tab.",
            "Comes with a removable footbed.",
            "Lace-up front for a secure fit.",
            "Set on a low, stable heel.",
        ],
        care: &["Wipe clean with a damp cloth.", "Brush gently to clean."],
    },
    GroupWords {
        materials: &[
            "leather",
            "canvas",
            "nylon",
            "raffia",
            "suede",
            "recycled polyester",
        ],
        fit: &[
            "Roomy enough for the everyday essentials.",
            "Compact, but fits more than it looks.",
            "Carry it by hand or over the shoulder.",
        ],
        details: &[
            "Comes with an adjustable strap.",
            "Detailed with brushed metal hardware.",
            "Has a zipped inner pocket.",
            "Closes with a magnetic snap.",
            "Fits a 13-inch laptop.",
            "Lined with cotton twill.",
        ],
        care: &[
            "Store in the dust bag provided.",
            "Wipe clean with a damp cloth.",
        ],
    },
    GroupWords {
        materials: &["leather", "metal", "acetate", "wool", "silk", "cotton"],
        fit: &[
            "One size.",
            "A streamlined shape that works with almost anything.",
            "Small detail, big difference.",
        ],
        details: &[
            "Comes in a gift box.",
            "Light enough to forget you are wearing it.",
            "Finished by hand.",
            "Topped with a subtle embossed logo.",
            "Made to last for years.",
        ],
        care: &[
            "Store in the pouch provided.",
            "Wipe clean with a soft cloth.",
        ],
    },
];

pub(super) const OCCASION_SENTENCES: [&str; 10] = [
    "Easy to dress up or down.",
    "Made for long days in the city.",
    "Pairs well with denim and clean sneakers.",
    "A dependable pick for the office.",
    "Ready for weekends away.",
    "The piece you will reach for all season.",
    "Perfect for warm evenings out.",
    "An easy layer for changeable weather.",
    "Styled for dinner dates and gallery visits.",
    "A quiet statement for everyday wear.",
];
