//! The search module's fields in the planned engine: `searchProducts` with its facets,
//! `suggest`, and `Product.similar` for every product of a level in one `_msearch`.
//! Products are hydrated from the catalog loaders, never from the search documents.

use std::sync::Arc;

use super::types::{ProductFilter, ProductSort};
use super::{
    SearchLoaders, encode_search_cursor, search_request, search_source_of, small_list,
    suggest_request,
};
use crate::core::catalog::CatalogLoaders;
use crate::core::connection::{self, Connection, Total};
use crate::core::engine::{Children, Ctx, Registry};
use crate::core::errors::ApiError;
use crate::core::pagination::PageLimits;
use crate::protocols::search::{
    FacetSet, FacetValue, Facets, PriceBucket, Suggestion, SuggestionKind,
};
use crate::protocols::{BrandRecord, CategoryRecord, ProductRecord};

type ProductObj = Arc<ProductRecord>;

/// A page of search results, with its facets (when they were asked for).
pub(super) type SearchPage = Connection<ProductObj, Option<Arc<Facets>>>;

/// The facets of one search (none when they were not asked for).
pub(super) struct FacetsObj(Option<Arc<Facets>>);

fn catalog(ctx: &Ctx) -> Result<&CatalogLoaders, ApiError> {
    Ok(ctx.data::<Arc<CatalogLoaders>>()?)
}

/// Registers the search module's fields and types.
pub(super) fn register(registry: &mut Registry) {
    registry.input::<ProductSort>().input::<ProductFilter>();
    registry
        .object::<()>("Query")
        .resolve(
            "searchProducts",
            "ProductSearchConnection",
            |ctx, _roots, args| {
                Box::pin(async move {
                    let sort = args.parse::<ProductSort>("sort")?;
                    let request = search_request(
                        args.opt_str("query")?.map(str::to_owned),
                        args.parse::<Option<ProductFilter>>("filter")?,
                        sort,
                        args.opt_i32("first")?,
                        args.opt_str("after")?,
                        ctx.data::<PageLimits>()?,
                        FacetSet {
                            brands: args.selects("facets.brands"),
                            categories: args.selects("facets.categories"),
                            colors: args.selects("facets.colors"),
                            price_ranges: args.selects("facets.priceRanges"),
                        },
                    )?;
                    let page = search_source_of(ctx)?
                        .search(&request)
                        .await
                        .map_err(ApiError::from)?;
                    let ids: Vec<i32> = page.hits.iter().map(|h| h.product_id).collect();
                    let products = catalog(ctx)?.products.load_shared(&ids).await?;
                    // A product deleted since the last reindex drops out of its page.
                    let items = page.hits.iter().zip(products).filter_map(|(hit, product)| {
                        Some((encode_search_cursor(sort, &hit.sort), product?))
                    });
                    let total = Total::Known(page.total);
                    let facets = page.facets.map(Arc::new);
                    let mut children = Children::with_capacity(1);
                    children.push(SearchPage::new(items, page.has_next_page, total, facets));
                    Ok(children)
                })
            },
        )
        .resolve("suggest", "Suggestion", |ctx, _roots, args| {
            Box::pin(async move {
                let mut children = Children::with_capacity(1);
                let Some((prefix, first)) =
                    suggest_request(args.str("prefix")?, args.i32("first")?)?
                else {
                    children.push_list(Vec::new());
                    return Ok(children);
                };
                let suggestions = search_source_of(ctx)?
                    .suggest(prefix, first)
                    .await
                    .map_err(ApiError::from)?;
                children.push_list(suggestions);
                Ok(children)
            })
        });
    connection::register::<ProductObj, Option<Arc<Facets>>>(
        registry,
        "ProductSearchConnection",
        "ProductEdge",
        "Product",
    );
    registry
        .object::<SearchPage>("ProductSearchConnection")
        .child("facets", "ProductFacets", |p: &SearchPage| {
            FacetsObj(p.extra.clone())
        });
    facets(registry);
    similar(registry);
    suggestion(registry);
}

fn facets(registry: &mut Registry) {
    registry
        .object::<FacetsObj>("ProductFacets")
        .child_list("brands", "BrandFacet", |f: &FacetsObj| {
            f.0.as_ref().map(|f| f.brands.clone()).unwrap_or_default()
        })
        .child_list("categories", "CategoryFacet", |f: &FacetsObj| {
            let categories = f.0.as_ref().map(|f| f.categories.clone());
            categories
                .unwrap_or_default()
                .into_iter()
                .map(CategoryFacetObj)
        })
        .child_list("colors", "ColorFacet", |f: &FacetsObj| {
            f.0.as_ref().map(|f| f.colors.clone()).unwrap_or_default()
        })
        .child_list("priceRanges", "PriceRangeFacet", |f: &FacetsObj| {
            f.0.as_ref()
                .map(|f| f.price_ranges.clone())
                .unwrap_or_default()
        });
    registry
        .object::<FacetValue<i32>>("BrandFacet")
        .leaf("count", |f: &FacetValue<i32>, out| out.int(f.count))
        .resolve("brand", "Brand", |ctx, facets, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = facets.iter().map(|f| f.value).collect();
                let brands = catalog(ctx)?.brands.load_shared(&ids).await?;
                let mut children: Children<Arc<BrandRecord>> = Children::with_capacity(ids.len());
                for brand in brands {
                    children.push_opt(brand);
                }
                Ok(children)
            })
        });
    registry
        .object::<CategoryFacetObj>("CategoryFacet")
        .leaf("count", |f: &CategoryFacetObj, out| out.int(f.0.count))
        .resolve("category", "Category", |ctx, facets, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = facets.iter().map(|f| f.0.value).collect();
                let categories = catalog(ctx)?.categories.load_shared(&ids).await?;
                let mut children: Children<Arc<CategoryRecord>> =
                    Children::with_capacity(ids.len());
                for category in categories {
                    children.push_opt(category);
                }
                Ok(children)
            })
        });
    registry
        .object::<FacetValue<String>>("ColorFacet")
        .leaf("color", |f: &FacetValue<String>, out| out.str(&f.value))
        .leaf("count", |f: &FacetValue<String>, out| out.int(f.count));
    registry
        .object::<PriceBucket>("PriceRangeFacet")
        .leaf("min", |b: &PriceBucket, out| {
            out.opt_int(b.min.map(|v| i64::from(v as i32)))
        })
        .leaf("max", |b: &PriceBucket, out| {
            out.opt_int(b.max.map(|v| i64::from(v as i32)))
        })
        .leaf("count", |b: &PriceBucket, out| out.int(b.count));
}

/// A category facet: its own Rust type, since a brand facet is a `FacetValue<i32>` too.
pub(super) struct CategoryFacetObj(FacetValue<i32>);

fn similar(registry: &mut Registry) {
    registry.object::<ProductObj>("Product").resolve(
        "similar",
        "Product",
        |ctx, products, args| {
            Box::pin(async move {
                let first = small_list(args.i32("first")?)?;
                let mut children = Children::with_capacity(products.len());
                if first == 0 {
                    for _ in products {
                        children.push_list(Vec::new());
                    }
                    return Ok(children);
                }
                let keys: Vec<(i32, u32)> = products.iter().map(|p| (p.id, first)).collect();
                let similar = ctx
                    .data::<Arc<SearchLoaders>>()?
                    .similar
                    .load_shared(&keys)
                    .await?;
                let lists: Vec<&[i32]> = similar
                    .iter()
                    .map(|ids| ids.as_deref().map(Vec::as_slice).unwrap_or_default())
                    .collect();
                let all: Vec<i32> = lists.iter().flat_map(|ids| ids.iter().copied()).collect();
                let found = catalog(ctx)?.products.load_shared(&all).await?;
                let mut found = found.into_iter();
                for ids in lists {
                    let list: Vec<ProductObj> = found.by_ref().take(ids.len()).flatten().collect();
                    children.push_list(list);
                }
                Ok(children)
            })
        },
    );
}

fn suggestion(registry: &mut Registry) {
    registry
        .object::<Suggestion>("Suggestion")
        .leaf("text", |s: &Suggestion, out| out.str(&s.text))
        .leaf("type", |s: &Suggestion, out| {
            out.str(match s.kind {
                SuggestionKind::Product => "PRODUCT",
                SuggestionKind::Brand => "BRAND",
            })
        })
        .resolve("product", "Product", |ctx, suggestions, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = suggestions
                    .iter()
                    .filter(|s| s.kind == SuggestionKind::Product)
                    .map(|s| s.id)
                    .collect();
                let found = catalog(ctx)?.products.load_shared(&ids).await?;
                let mut found = found.into_iter();
                let mut children: Children<ProductObj> = Children::with_capacity(suggestions.len());
                for suggestion in suggestions {
                    let product = match suggestion.kind {
                        SuggestionKind::Product => found.next().flatten(),
                        SuggestionKind::Brand => None,
                    };
                    children.push_opt(product);
                }
                Ok(children)
            })
        })
        .resolve("brand", "Brand", |ctx, suggestions, _args| {
            Box::pin(async move {
                let ids: Vec<i32> = suggestions
                    .iter()
                    .filter(|s| s.kind == SuggestionKind::Brand)
                    .map(|s| s.id)
                    .collect();
                let found = catalog(ctx)?.brands.load_shared(&ids).await?;
                let mut found = found.into_iter();
                let mut children: Children<Arc<BrandRecord>> =
                    Children::with_capacity(suggestions.len());
                for suggestion in suggestions {
                    let brand = match suggestion.kind {
                        SuggestionKind::Brand => found.next().flatten(),
                        SuggestionKind::Product => None,
                    };
                    children.push_opt(brand);
                }
                Ok(children)
            })
        });
}
