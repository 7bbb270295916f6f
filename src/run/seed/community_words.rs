//! The word lists the seed generator composes usernames, collage titles and descriptions
//! from. All invented or generic: no real person is meant.

/// Collage tags (`collage_tags.tag`).
pub(super) const TAGS: [&str; 18] = [
    "summer",
    "winter",
    "autumn",
    "spring",
    "office",
    "date-night",
    "streetwear",
    "minimal",
    "boho",
    "vintage",
    "casual",
    "party",
    "travel",
    "weekend",
    "athleisure",
    "classic",
    "festival",
    "wedding-guest",
];

pub(super) const FIRST_NAMES: [&str; 40] = [
    "anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ines", "jonas", "kira",
    "leo", "maya", "noah", "olivia", "paul", "quinn", "rosa", "sam", "tara", "uma", "victor",
    "wen", "xenia", "yara", "zoe", "amir", "bea", "carlos", "dana", "elif", "finn", "gina", "hana",
    "ivan", "jade", "kai", "lina", "milo", "nora",
];

pub(super) const LAST_NAMES: [&str; 32] = [
    "berg",
    "costa",
    "dubois",
    "evans",
    "fischer",
    "garcia",
    "hansen",
    "ito",
    "jensen",
    "kowalski",
    "larsen",
    "moreau",
    "nowak",
    "okafor",
    "petrov",
    "quinto",
    "rossi",
    "silva",
    "tanaka",
    "ueda",
    "vogel",
    "weber",
    "xu",
    "young",
    "zimmer",
    "andersson",
    "bianchi",
    "carter",
    "dijkstra",
    "engel",
    "ferrari",
    "gomez",
];

pub(super) const HANDLE_WORDS: [&str; 16] = [
    "style", "closet", "looks", "wears", "edit", "fits", "mode", "threads", "daily", "outfits",
    "studio", "muse", "vibes", "layers", "diary", "chic",
];

pub(super) const COLLAGE_MOODS: [&str; 16] = [
    "Easy",
    "Quiet",
    "Bold",
    "Soft",
    "Sunny",
    "Rainy day",
    "Late summer",
    "Early autumn",
    "Monochrome",
    "Cosy",
    "Crisp",
    "Off-duty",
    "Effortless",
    "Weekend",
    "Evening",
    "Neutral",
];

pub(super) const COLLAGE_NOUNS: [&str; 10] = [
    "edit",
    "uniform",
    "look",
    "mood",
    "capsule",
    "layers",
    "outfit",
    "staples",
    "wardrobe",
    "moodboard",
];

pub(super) const COLLAGE_CONTEXTS: [&str; 14] = [
    "for the office",
    "in the city",
    "for a weekend away",
    "for date night",
    "by the sea",
    "for the festival",
    "for a long flight",
    "for brunch",
    "for a wedding",
    "for the first cold days",
    "for gallery hopping",
    "for the school run",
    "for a city break",
    "for a summer party",
];

pub(super) const COLLAGE_SENTENCES: [&str; 12] = [
    "Pieces I keep coming back to.",
    "Built around one statement piece.",
    "Mixing textures in a single palette.",
    "Everything here works together, and with jeans.",
    "Comfortable enough to wear all day.",
    "A little bit dressed up, a little bit not.",
    "Trying out a new colour this season.",
    "My go-to combination when I have no time.",
    "Inspired by an old photo of my grandmother.",
    "Packed light: everything fits in a carry-on.",
    "Neutrals with one bright accent.",
    "Saving this for the next sunny day.",
];
