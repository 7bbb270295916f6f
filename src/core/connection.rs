//! Relay connections in the planned engine: a page of nodes with cursors, its `PageInfo`,
//! and a `totalCount` that is counted only when selected, for all connections of a level
//! at once. The connection types of every module are made here from their node type.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::Sources;
use super::engine::{Args, Children, Ctx, Registry, Scalars};
use super::errors::ApiError;
use crate::protocols::{FirstPage, SourceError};

/// Relay's page info for forward pagination.
#[derive(Debug, Clone)]
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

/// A page of nodes, the whole list's total (known, or counted when selected), and what
/// else the page's type shows (`X`: search facets; nothing for most).
pub struct Connection<N, X = ()> {
    /// The page's nodes with their cursors, in list order.
    pub edges: Vec<Edge<N>>,
    /// Whether more nodes follow this page.
    pub has_next_page: bool,
    /// How the whole list's `totalCount` is had.
    pub total: Total,
    /// What the page's type shows besides its nodes (a search's facets); `()` for most.
    pub extra: X,
}

/// A node and its cursor.
pub struct Edge<N> {
    /// The opaque position to pass as `after` to resume after this node.
    pub cursor: String,
    /// The item at this place in the list.
    pub node: N,
}

/// How a connection's `totalCount` is known.
pub enum Total {
    /// Already known (a search answers it with the page).
    Known(i64),
    /// Counted by `counter` for `key`, with every connection of the level in one call.
    Counted(&'static dyn Counter, CountKey),
}

impl Total {
    /// The total a first page came with, else counted by `counter` for owner `id`.
    pub fn of(counted: Option<i64>, counter: &'static dyn Counter, id: i32) -> Self {
        counted.map_or(Self::Counted(counter, CountKey::Id(id)), Self::Known)
    }
}

/// The first pages of a level's connections, one per owner. Each is counted in its own
/// statement when the operation reads the connection's `totalCount`: one statement instead
/// of a page and a count.
pub fn first_pages(owners: impl Iterator<Item = i32>, first: u32, args: &Args) -> Vec<FirstPage> {
    let counted = args.selects("totalCount");
    owners
        .map(|owner| FirstPage {
            owner,
            first,
            counted,
        })
        .collect()
}

/// Whether the operation reads a connection's page (its edges, nodes or page info), or
/// only what is known without one (`totalCount`, `__typename`): then no page is loaded.
pub fn reads_page(args: &Args) -> bool {
    ["edges", "nodes", "pageInfo"]
        .iter()
        .any(|field| args.selects(field))
}

/// The connections of a level whose pages nobody reads (see [`reads_page`]): empty pages
/// whose totals `counter` counts, the level's in one call.
pub fn counted_only<N>(ids: &[i32], counter: &'static dyn Counter) -> Children<Connection<N>> {
    let mut children = Children::with_capacity(ids.len());
    for &id in ids {
        let total = Total::Counted(counter, CountKey::Id(id));
        children.push(Connection::new(std::iter::empty(), false, total, ()));
    }
    children
}

/// What a counter counts for: an owner's id, or a text (a feed's tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CountKey {
    /// The owner whose list is counted (a brand, a user, a product); 0 for a list with no
    /// owner (every brand).
    Id(i32),
    /// The text that selects the list (a feed's tag); `None`: the whole feed.
    Text(Option<String>),
}

/// Counts the whole lists of many connections of one kind at once: one count per key, in
/// order. Modules implement it for their lists.
pub trait Counter: Sync {
    /// The kind of list it counts, unique among counters.
    fn name(&self) -> &'static str;
    /// The whole-list count of each of `keys`, in their order; `None` where none is known.
    fn count<'a>(
        &'a self,
        ctx: &'a Ctx,
        keys: Vec<&'a CountKey>,
    ) -> BoxFuture<'a, Result<Vec<Option<i64>>, ApiError>>;
}

/// Counts lists of owners (a brand's products, a user's collages) through a loader of the
/// module's loaders `L`, which the request's context holds as `Arc<L>`.
pub struct CountById<L: 'static> {
    /// The counter's name, unique among counters (see `Counter::name`).
    pub name: &'static str,
    /// Loads the counts of ids through the request's `L`, one per id, in their order.
    pub load: for<'a> fn(&'a L, &'a [i32]) -> BoxFuture<'a, LoadedCounts>,
}

/// Counts as a loader gives them, one per id.
pub type LoadedCounts = Result<Vec<Option<Arc<i64>>>, ApiError>;

impl<L: Send + Sync + 'static> Counter for CountById<L> {
    fn name(&self) -> &'static str {
        self.name
    }
    fn count<'a>(
        &'a self,
        ctx: &'a Ctx,
        keys: Vec<&'a CountKey>,
    ) -> BoxFuture<'a, Result<Vec<Option<i64>>, ApiError>> {
        Box::pin(async move {
            let ids: Vec<i32> = keys
                .iter()
                .map(|k| match k {
                    CountKey::Id(id) => *id,
                    CountKey::Text(_) => 0,
                })
                .collect();
            let loaders = ctx.data::<Arc<L>>()?;
            let counts = (self.load)(loaders, &ids).await?;
            Ok(counts.into_iter().map(|c| c.map(|c| *c)).collect())
        })
    }
}

/// Counts lists whose total a source answers for a key (the feed of a tag, every brand):
/// one call per distinct key of the level.
pub struct CountBySource {
    /// The counter's name, unique among counters (see `Counter::name`).
    pub name: &'static str,
    /// Asks the sources for the count of one key.
    pub count: for<'a> fn(&'a Sources, &'a CountKey) -> BoxFuture<'a, Result<i64, SourceError>>,
}

impl Counter for CountBySource {
    fn name(&self) -> &'static str {
        self.name
    }
    fn count<'a>(
        &'a self,
        ctx: &'a Ctx,
        keys: Vec<&'a CountKey>,
    ) -> BoxFuture<'a, Result<Vec<Option<i64>>, ApiError>> {
        Box::pin(async move {
            let sources = ctx.data::<Sources>()?;
            let mut counted: Vec<(&CountKey, i64)> = Vec::new();
            let mut counts = Vec::with_capacity(keys.len());
            for key in keys {
                let count = match counted.iter().find(|(k, _)| *k == key) {
                    Some((_, count)) => *count,
                    None => {
                        let count = (self.count)(sources, key).await?;
                        counted.push((key, count));
                        count
                    }
                };
                counts.push(Some(count));
            }
            Ok(counts)
        })
    }
}

impl<N, X> Connection<N, X> {
    /// A page of `(cursor, node)` pairs.
    pub fn new(
        items: impl IntoIterator<Item = (String, N)>,
        has_next_page: bool,
        total: Total,
        extra: X,
    ) -> Self {
        Self {
            edges: items
                .into_iter()
                .map(|(cursor, node)| Edge { cursor, node })
                .collect(),
            has_next_page,
            total,
            extra,
        }
    }

    fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: false,
            start_cursor: self.edges.first().map(|e| e.cursor.clone()),
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }
}

/// The totals of a level's connections: known ones as they are, counted ones grouped by
/// counter, one call each.
async fn totals<N, X>(ctx: &Ctx, connections: &[Connection<N, X>]) -> Scalars {
    let mut values: Vec<Option<Result<i64, ApiError>>> = connections
        .iter()
        .map(|c| match c.total {
            Total::Known(n) => Some(Ok(n)),
            Total::Counted(..) => None,
        })
        .collect();
    let mut counters: Vec<&'static dyn Counter> = Vec::new();
    for connection in connections {
        if let Total::Counted(counter, _) = connection.total
            && !counters.iter().any(|c| c.name() == counter.name())
        {
            counters.push(counter);
        }
    }
    for counter in counters {
        let (indexes, keys): (Vec<usize>, Vec<&CountKey>) = connections
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match &c.total {
                Total::Counted(of, key) if of.name() == counter.name() => Some((i, key)),
                _ => None,
            })
            .unzip();
        match counter.count(ctx, keys).await {
            Ok(counts) => {
                for (i, count) in indexes.into_iter().zip(counts) {
                    values[i] = Some(Ok(count.unwrap_or(0)));
                }
            }
            Err(error) => {
                for i in indexes {
                    values[i] = Some(Err(error.clone()));
                }
            }
        }
    }
    let mut scalars = Scalars::with_capacity(connections.len());
    for value in values {
        match value {
            Some(Ok(n)) => scalars.push(|out| out.int(n)),
            Some(Err(error)) => scalars.push_error(error),
            None => scalars.push_null(),
        }
    }
    scalars
}

/// Registers connection type `name` and its edge type `edge` over node type `node`.
pub fn register<N, X>(
    registry: &mut Registry,
    name: &'static str,
    edge: &'static str,
    node: &'static str,
) where
    N: Clone + Send + Sync + 'static,
    X: Send + Sync + 'static,
{
    registry
        .object::<Connection<N, X>>(name)
        .child_list("edges", edge, |c: &Connection<N, X>| {
            c.edges
                .iter()
                .map(|e| Edge {
                    cursor: e.cursor.clone(),
                    node: e.node.clone(),
                })
                .collect::<Vec<_>>()
        })
        .child_list("nodes", node, |c: &Connection<N, X>| {
            c.edges.iter().map(|e| e.node.clone()).collect::<Vec<_>>()
        })
        .child("pageInfo", "PageInfo", Connection::page_info)
        .scalars("totalCount", |ctx, connections, _args| {
            Box::pin(async move { Ok(totals(ctx, connections).await) })
        });
    registry
        .object::<Edge<N>>(edge)
        .leaf("cursor", |e: &Edge<N>, out| out.str(&e.cursor))
        .child("node", node, |e: &Edge<N>| e.node.clone());
}

/// Registers `PageInfo`, which every connection shares.
pub fn register_page_info(registry: &mut Registry) {
    registry
        .object::<PageInfo>("PageInfo")
        .leaf("hasNextPage", |p: &PageInfo, out| out.bool(p.has_next_page))
        .leaf("hasPreviousPage", |p: &PageInfo, out| {
            out.bool(p.has_previous_page)
        })
        .leaf("startCursor", |p: &PageInfo, out| {
            out.opt_str(p.start_cursor.as_deref())
        })
        .leaf("endCursor", |p: &PageInfo, out| {
            out.opt_str(p.end_cursor.as_deref())
        });
}
