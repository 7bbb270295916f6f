//! The products index: its document and its mapping. Denormalised from MySQL so one search
//! request can match text, filter and facet without joins. Prices are longs in minor units
//! (the minimal distribution has no `scaled_float`); analyzers are the built-in `standard`
//! one, so the mapping works on any cluster (a full cluster can swap in language analyzers).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One product as the search index holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDocument {
    /// The product's id, also the document's `_id`.
    pub id: i32,
    /// The product's name: full text, weighed most, with a `keyword` subfield.
    pub name: String,
    /// The description, matched as full text at the lowest weight.
    pub description: String,
    /// The brand's id, for the brand filter and facet.
    pub brand_id: i32,
    /// The brand's name, matched as full text so that "acme sneakers" finds Acme's.
    pub brand_name: String,
    /// The product's own category.
    pub category_id: i32,
    /// The category and all its ancestors, so a filter on "Shoes" finds "Sneakers".
    pub category_ids: Vec<i32>,
    /// Names along the path, for matching text such as "sneakers".
    pub category_names: Vec<String>,
    /// The selling shop's id, for the shop filter.
    pub shop_id: i32,
    /// The lowercase color, an exact value for the color filter and facet.
    pub color: String,
    /// ISO 4217 code of `price`.
    pub currency: String,
    /// What the product costs now (the sale price when on sale), in minor units.
    pub price: i64,
    /// Whether the product has a sale price, for the on-sale filter.
    pub on_sale: bool,
    /// Likes when the product was indexed (not live), for the `Popular` order.
    pub like_count: i32,
    /// RFC 3339.
    pub created_at: String,
    /// Autocomplete of product names, weighted by popularity.
    pub suggest: Suggest,
    /// Autocomplete of brand names (deduplicated at query time).
    pub brand_suggest: Suggest,
}

/// A completion field's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggest {
    /// The names whose prefixes complete to this document.
    pub input: Vec<String>,
    /// Rank among completions: the product's like count, at least 1.
    pub weight: i32,
}

/// Index settings and mapping of a new versioned products index.
pub fn index_body() -> Value {
    let text_with_keyword = json!({
        "type": "text",
        "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } }
    });
    json!({
        "settings": {
            "number_of_shards": 1,
            "number_of_replicas": 0,
            "refresh_interval": "1s"
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": { "type": "integer" },
                "name": text_with_keyword,
                "description": { "type": "text" },
                "brand_id": { "type": "integer" },
                "brand_name": text_with_keyword,
                "category_id": { "type": "integer" },
                "category_ids": { "type": "integer" },
                "category_names": { "type": "text" },
                "shop_id": { "type": "integer" },
                "color": { "type": "keyword" },
                "currency": { "type": "keyword" },
                "price": { "type": "long" },
                "on_sale": { "type": "boolean" },
                "like_count": { "type": "integer" },
                "created_at": { "type": "date" },
                "suggest": { "type": "completion" },
                "brand_suggest": { "type": "completion" }
            }
        }
    })
}
