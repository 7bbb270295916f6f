//! Relay connections: page-size bounds, opaque cursors and the connection types. Lists are
//! paged by keyset (the sort key of the last item), never by offset, so deep pages stay cheap.

use std::future::Future;
use std::pin::Pin;

use async_graphql::SimpleObject;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::ApiError;

/// Bounds on page sizes, from configuration.
#[derive(Debug, Clone, Copy)]
pub struct PageLimits {
    /// What `first` defaults to when a client omits it.
    pub default_size: u32,
    /// The largest `first` a client may ask for.
    pub max_size: u32,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            default_size: 20,
            max_size: 100,
        }
    }
}

impl PageLimits {
    /// Checks a client's `first`: a negative or too large value is `BAD_USER_INPUT`, never
    /// silently clamped, so a client learns the limit instead of missing items.
    pub fn first(&self, first: Option<i32>) -> Result<u32, ApiError> {
        match first {
            None => Ok(self.default_size),
            Some(n) if n >= 0 && n as u32 <= self.max_size => Ok(n as u32),
            Some(n) => Err(ApiError::BadUserInput(format!(
                "first must be between 0 and {}, got {n}",
                self.max_size
            ))),
        }
    }
}

/// Extra points of fields that reach a slow or rate-limited backend, on top of what their
/// shape costs: an operation's cost says what it asks of the backends, not only how big its
/// answer is.
pub mod weight {
    /// A search request (`searchProducts`, `similar`, `suggest`).
    pub const SEARCH: usize = 10;
    /// A partner call (`offers`), from a rate-limited third party.
    pub const PARTNER: usize = 5;
}

/// The static cost of a list of `size` items that each cost `child`: saturating and capped,
/// so a client-chosen size can neither overflow the limit check nor slip past it.
pub fn list_cost(size: usize, child: usize) -> usize {
    size.saturating_mul(child)
        .saturating_add(1)
        .min(u32::MAX as usize)
}

/// The cost of a connection page: `first` (or the default page size) items.
pub fn page_cost(first: Option<i32>, child: usize) -> usize {
    let size = first
        .unwrap_or(PageLimits::default().default_size as i32)
        .max(0);
    list_cost(size as usize, child)
}

/// Encodes a cursor: opaque to clients, tagged so that a cursor of one list is refused by
/// another.
pub fn encode_cursor(tag: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{tag}|{key}"))
}

/// Decodes a cursor made by `encode_cursor` with the same tag.
pub fn decode_cursor(tag: &str, cursor: &str) -> Result<String, ApiError> {
    let invalid = || ApiError::BadUserInput(format!("invalid cursor {cursor:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
    match raw.split_once('|') {
        Some((found, key)) if found == tag => Ok(key.to_owned()),
        _ => Err(invalid()),
    }
}

/// A cursor over a list ordered by id alone.
pub fn decode_id_cursor(tag: &str, cursor: Option<&str>) -> Result<Option<i32>, ApiError> {
    cursor
        .map(|c| {
            decode_cursor(tag, c)?
                .parse()
                .map_err(|_| ApiError::BadUserInput(format!("invalid cursor {c:?}")))
        })
        .transpose()
}

/// Relay's page info for forward pagination.
#[derive(SimpleObject, Debug, Clone)]
pub struct PageInfo {
    /// Whether items follow this page.
    pub has_next_page: bool,
    /// Always false: lists are paged forward only (`first`/`after`).
    pub has_previous_page: bool,
    /// The cursor of the first item, to resume before it.
    pub start_cursor: Option<String>,
    /// The cursor of the last item: pass it as `after` for the next page.
    pub end_cursor: Option<String>,
}

/// A deferred count: `totalCount` costs a query, so it runs only when a client asks.
pub type CountFuture = Pin<Box<dyn Future<Output = Result<i64, ApiError>> + Send>>;

/// Builds a `…Connection` and `…Edge` pair for a node type, with a lazily counted total.
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $doc:literal) => {
        #[doc = $doc]
        pub struct $connection {
            edges: Vec<$edge>,
            page_info: $crate::core::pagination::PageInfo,
            count: futures::future::Shared<$crate::core::pagination::CountFuture>,
        }

        /// An item of a connection and its cursor.
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Pass as `after` to continue after this item.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        impl $connection {
            /// A page of `(cursor, node)` pairs and a deferred total.
            pub fn new(
                items: Vec<(String, $node)>,
                has_next_page: bool,
                count: $crate::core::pagination::CountFuture,
            ) -> Self {
                let page_info = $crate::core::pagination::PageInfo {
                    has_next_page,
                    has_previous_page: false,
                    start_cursor: items.first().map(|(c, _)| c.clone()),
                    end_cursor: items.last().map(|(c, _)| c.clone()),
                };
                let edges = items
                    .into_iter()
                    .map(|(cursor, node)| $edge { cursor, node })
                    .collect();
                Self {
                    edges,
                    page_info,
                    count: futures::FutureExt::shared(count),
                }
            }
        }

        #[doc = $doc]
        #[async_graphql::Object]
        impl $connection {
            /// The items of this page with their cursors.
            async fn edges(&self) -> &[$edge] {
                &self.edges
            }

            /// The items of this page, without cursors.
            async fn nodes(&self) -> Vec<&$node> {
                self.edges.iter().map(|e| &e.node).collect()
            }

            /// Where this page stands in the whole list.
            async fn page_info(&self) -> &$crate::core::pagination::PageInfo {
                &self.page_info
            }

            /// How many items the whole list holds (counted when asked for).
            async fn total_count(&self) -> async_graphql::Result<i64> {
                // Shared, so aliases of totalCount run one count between them.
                Ok(self.count.clone().await?)
            }
        }
    };
}

pub(crate) use connection;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_above_the_maximum_or_negative_are_refused() {
        let limits = PageLimits {
            default_size: 20,
            max_size: 100,
        };
        assert_eq!(limits.first(None).unwrap(), 20);
        assert_eq!(limits.first(Some(100)).unwrap(), 100);
        assert_eq!(
            limits.first(Some(101)).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
        assert_eq!(limits.first(Some(-1)).unwrap_err().code(), "BAD_USER_INPUT");
    }

    #[test]
    fn costs_saturate_instead_of_overflowing() {
        let inner = page_cost(Some(i32::MAX), 1);
        let outer = page_cost(Some(i32::MAX), page_cost(Some(i32::MAX), inner));
        assert_eq!(outer, u32::MAX as usize);
        assert_eq!(page_cost(None, 2), 41);
        assert_eq!(page_cost(Some(-5), 2), 1);
    }

    #[test]
    fn a_cursor_of_one_list_is_refused_by_another() {
        let cursor = encode_cursor("brands", "Acme|3");
        assert_eq!(decode_cursor("brands", &cursor).unwrap(), "Acme|3");
        assert!(decode_cursor("products", &cursor).is_err());
        assert!(decode_id_cursor("products", Some("%%%")).is_err());
    }
}
