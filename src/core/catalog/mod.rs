//! The catalog module: products, brands, shops and the category tree, from the catalog
//! source. Root look-ups by global id, database id and slug; lists are Relay connections.

mod engine;
mod loaders;
mod money;

pub use engine::{ProductPage, product_columns};
pub use loaders::CatalogLoaders;
pub use money::MoneyObj;

use super::errors::{ApiError, ApiResult};
use super::pagination;
use crate::protocols::BrandCursor;

/// The catalog's types and fields.
pub const MODULE: crate::core::Module = crate::core::Module {
    name: "catalog",
    sdl: include_str!("schema.graphql"),
    register: engine::register,
    start: crate::core::Module::keeps_nothing,
    prepare: |prepare, ctx| {
        // Products by id read only the columns the operation's product fields show.
        let columns = product_columns(prepare.plan.fields_of("Product"));
        let source = &prepare.sources.catalog;
        let loaders = CatalogLoaders::reading(source, prepare.span, prepare.window, columns);
        ctx.insert(std::sync::Arc::new(loaders));
    },
};

const PRODUCT_CURSOR: &str = "product";
const BRAND_CURSOR: &str = "brand";

/// Brand cursors hold the sort key (name, id); the id comes first since names may hold `|`.
fn decode_brand_cursor(cursor: &str) -> ApiResult<BrandCursor> {
    let key = pagination::decode_cursor(BRAND_CURSOR, cursor)?;
    key.split_once('|')
        .and_then(|(id, name)| {
            Some(BrandCursor {
                id: id.parse().ok()?,
                name: name.to_owned(),
            })
        })
        .ok_or_else(|| ApiError::BadUserInput(format!("invalid cursor {cursor:?}")))
}
