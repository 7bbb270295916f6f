//! Refetching by global id. Each module registers how the objects of its node types load by
//! database id (`Registry::node`); whoever answers `node` and `nodes` finds them through
//! `NodeLoaders`, without knowing which module owns which type.

use std::any::TypeId;
use std::collections::HashMap;

use futures::future::{BoxFuture, join_all};

use super::Ctx;
use super::answers::{Mixed, MixedList};
use crate::core::errors::ApiError;

/// The objects of one node type that a load found, in the order of its ids.
trait FoundNodes: Send {
    /// Moves object `index` (or a null where none was found) into `mixed`.
    fn move_to(&mut self, index: usize, mixed: &mut Mixed);
    /// Moves object `index` (or a null) into a list of `mixed`.
    fn move_to_list(&mut self, index: usize, list: &mut MixedList<'_>);
}

/// Found objects of the Rust type `T`, of GraphQL type `type_name`.
struct Typed<T> {
    type_name: &'static str,
    found: Vec<Option<T>>,
}

impl<T: Send + Sync + 'static> FoundNodes for Typed<T> {
    fn move_to(&mut self, index: usize, mixed: &mut Mixed) {
        match self.found.get_mut(index).and_then(Option::take) {
            Some(object) => mixed.push(self.type_name, object),
            None => mixed.push_null(),
        }
    }

    fn move_to_list(&mut self, index: usize, list: &mut MixedList<'_>) {
        match self.found.get_mut(index).and_then(Option::take) {
            Some(object) => list.push(self.type_name, object),
            None => list.push_null(),
        }
    }
}

/// Loads objects of one node type by database id: one object or `None` per id, in order.
pub trait LoadById<T>:
    for<'a> Fn(&'a Ctx, &'a [i32]) -> BoxFuture<'a, Result<Vec<Option<T>>, ApiError>>
    + Send
    + Sync
    + 'static
{
}

impl<T, F> LoadById<T> for F where
    F: for<'a> Fn(&'a Ctx, &'a [i32]) -> BoxFuture<'a, Result<Vec<Option<T>>, ApiError>>
        + Send
        + Sync
        + 'static
{
}

type NodeLoad = Box<
    dyn for<'a> Fn(&'a Ctx, &'a [i32]) -> BoxFuture<'a, Result<Box<dyn FoundNodes>, ApiError>>
        + Send
        + Sync,
>;

/// How one node type loads, and the Rust type of its objects.
pub(crate) struct NodeType {
    pub(crate) type_id: TypeId,
    pub(crate) rust_name: &'static str,
    load: NodeLoad,
}

/// Every node type's loader, by GraphQL type name.
#[derive(Default)]
pub struct NodeLoaders {
    pub(crate) types: HashMap<&'static str, NodeType>,
}

impl NodeLoaders {
    /// Registers the loader of node type `type_name`, whose objects are `T`s: given database
    /// ids, it answers one object or `None` per id, in order.
    pub(crate) fn add<T: Send + Sync + 'static>(
        &mut self,
        type_name: &'static str,
        load: impl LoadById<T>,
    ) {
        let load: NodeLoad = Box::new(move |ctx, ids| {
            let loading = load(ctx, ids);
            Box::pin(async move {
                let found = loading.await?;
                Ok(Box::new(Typed { type_name, found }) as Box<dyn FoundNodes>)
            })
        });
        let node = NodeType {
            type_id: TypeId::of::<T>(),
            rust_name: std::any::type_name::<T>(),
            load,
        };
        self.types.insert(type_name, node);
    }

    /// The objects of `ids` (type name, database id), in order: each type's in one load,
    /// the types' loads together. An id of a type nobody registered is not found.
    pub async fn load(&self, ctx: &Ctx, ids: &[(&str, i32)]) -> Result<Found, ApiError> {
        let mut groups: Vec<(&str, Vec<i32>)> = Vec::new();
        let mut at = Vec::with_capacity(ids.len());
        for (type_name, id) in ids {
            let Some((known, _)) = self.types.get_key_value(type_name) else {
                at.push(None);
                continue;
            };
            let known: &str = known;
            let group = match groups.iter().position(|(t, _)| *t == known) {
                Some(group) => group,
                None => {
                    groups.push((known, Vec::new()));
                    groups.len() - 1
                }
            };
            let ids = &mut groups[group].1;
            at.push(Some((group, ids.len())));
            ids.push(*id);
        }
        let loads = groups
            .iter()
            .filter_map(|(type_name, ids)| Some((self.types.get(type_name)?.load)(ctx, ids)));
        let groups = join_all(loads)
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Found { groups, at })
    }
}

/// What `NodeLoaders::load` found, to be moved into an answer id by id.
pub struct Found {
    groups: Vec<Box<dyn FoundNodes>>,
    /// Per id asked: its type's group and its place there.
    at: Vec<Option<(usize, usize)>>,
}

impl Found {
    /// Moves the object of id `index` (or a null) into `mixed`.
    pub fn move_to(&mut self, index: usize, mixed: &mut Mixed) {
        match self.at.get(index).copied().flatten() {
            Some((group, place)) => self.groups[group].move_to(place, mixed),
            None => mixed.push_null(),
        }
    }

    /// Moves every object (or a null for an id not found) into `list`, in the ids' order.
    pub fn move_all_to_list(&mut self, list: &mut MixedList<'_>) {
        for at in &self.at {
            match at {
                Some((group, place)) => self.groups[*group].move_to_list(*place, list),
                None => list.push_null(),
            }
        }
    }
}
