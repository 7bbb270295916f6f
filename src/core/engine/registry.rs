//! What the engine knows of each object type: how each of its fields resolves. Modules fill
//! it (`Registry::object`), each for its own types and for the fields it adds to other
//! modules' types; the schema's shapes (arguments, defaults, nullability, cache hints) are
//! read from async-graphql's registry when a document is planned, so they are written once.
//!
//! A field resolves in one of two ways:
//! - a **leaf** writes its JSON from the object alone, while the answer is written;
//! - a **resolver** runs once per level for all objects of the type at once, and answers
//!   either child objects (`Children`) or scalars (`Scalars`), one slot per parent.

use foldhash::{HashMap, HashMapExt};
use std::any::{Any, TypeId, type_name};
use std::marker::PhantomData;

use futures::future::BoxFuture;

use super::Ctx;
use super::answers::{Children, Mixed, Resolved, Scalars};
use super::args::Args;
use super::nodes::{LoadById, NodeLoaders};
use super::out::Out;
use crate::core::errors::ApiError;

/// Writes field of object `index` of a level's objects.
type LeafFn = Box<dyn Fn(&(dyn Any + Send + Sync), usize, &mut Out) + Send + Sync>;

/// The database id of object `index` of a level's objects, for its tag.
type TagFn = Box<dyn Fn(&(dyn Any + Send + Sync), usize) -> Option<i32> + Send + Sync>;

/// Resolves a field for a whole level of objects.
type ResolveFn = Box<
    dyn for<'a> Fn(&'a Ctx, &'a (dyn Any + Send + Sync), &'a Args) -> BoxFuture<'a, Resolved>
        + Send
        + Sync,
>;

/// How a field resolves.
pub(crate) enum FieldDef {
    Leaf(LeafFn),
    Resolve {
        resolve: ResolveFn,
        /// The child objects' Rust type, checked against the child GraphQL type's.
        child: Option<(TypeId, &'static str)>,
        /// Resolved after the rest of the operation when it is selected at several levels,
        /// so all of them share one batch (see `ObjectFields::gathered`).
        gathered: bool,
    },
}

/// One object type's fields.
pub(crate) struct ObjectDef {
    /// The Rust type of its objects.
    pub(crate) type_id: TypeId,
    pub(crate) rust_name: &'static str,
    pub(crate) fields: HashMap<&'static str, FieldDef>,
    /// Fields registered for objects of another Rust type: a registration bug.
    pub(crate) conflicts: Vec<String>,
    /// How an object of the type is tagged in the answers that hold it (`tagged`).
    pub(crate) tag: Option<TagFn>,
}

/// Every object type the engine can execute.
#[derive(Default)]
pub struct Registry {
    pub(crate) objects: HashMap<&'static str, ObjectDef>,
    /// The Rust types that arguments are parsed into (`Args::parse`), as async-graphql
    /// describes them: checked against the schema's input types and enums.
    pub(crate) inputs: Vec<fn(&mut async_graphql::registry::Registry) -> String>,
    /// How each node type loads by database id (`node`, `nodes`).
    pub(crate) nodes: NodeLoaders,
}

impl Registry {
    /// The fields of GraphQL object type `name`, whose objects are `T`s. A module may call
    /// it for another module's type to add its own fields.
    pub fn object<T: Send + Sync + 'static>(&mut self, name: &'static str) -> ObjectFields<'_, T> {
        let def = self.objects.entry(name).or_insert_with(|| ObjectDef {
            type_id: TypeId::of::<T>(),
            rust_name: type_name::<T>(),
            fields: HashMap::new(),
            conflicts: Vec::new(),
            tag: None,
        });
        ObjectFields {
            type_name: name,
            def,
            _objects: PhantomData,
        }
    }

    /// How objects of node type `type_name` (`T`s, as its fields are registered for) load
    /// by database id, for `node` and `nodes`: one object or `None` per id, in order.
    pub fn node<T: Send + Sync + 'static>(
        &mut self,
        type_name: &'static str,
        load: impl LoadById<T>,
    ) -> &mut Self {
        self.nodes.add(type_name, load);
        self
    }

    /// Declares that arguments are parsed into `T` (`Args::parse`): the engine is built only
    /// if `T` and the schema's type of its name have the same fields, types and values.
    pub fn input<T: async_graphql::InputType>(&mut self) -> &mut Self {
        self.inputs.push(T::create_type_info);
        self
    }
}

/// Registers the fields of one object type, whose objects are `T`s.
pub struct ObjectFields<'r, T> {
    type_name: &'static str,
    def: &'r mut ObjectDef,
    _objects: PhantomData<fn(T)>,
}

/// `objects` as the `Vec<T>` it is; registration checks make a mismatch impossible.
fn level<T: 'static>(objects: &(dyn Any + Send + Sync)) -> &[T] {
    objects
        .downcast_ref::<Vec<T>>()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

impl<T: Send + Sync + 'static> ObjectFields<'_, T> {
    fn add(&mut self, name: &'static str, def: FieldDef) -> &mut Self {
        if TypeId::of::<T>() != self.def.type_id {
            // Reported by `Registry::mismatches`: the engine is not built with it.
            self.def.conflicts.push(format!(
                "{}.{name} is registered for {}, the type's objects are {}",
                self.type_name,
                type_name::<T>(),
                self.def.rust_name
            ));
            return self;
        }
        self.def.fields.insert(name, def);
        self
    }

    /// Marks field `name` (registered already) as one whose backend is slow or rate-limited
    /// enough that one call is worth waiting for: where an operation selects it at several
    /// levels (a product's offers and its similar products' offers), every level of it
    /// resolves after the rest of the operation, together, in one batch.
    pub fn gathered(&mut self, name: &'static str) -> &mut Self {
        if let Some(FieldDef::Resolve { gathered, .. }) = self.def.fields.get_mut(name) {
            *gathered = true;
        }
        self
    }

    /// Tags the answers that hold objects of this type with each object's database `id`
    /// (see `core::tags`): writes to the object drop the cached answers that hold it.
    pub fn tagged(&mut self, id: impl Fn(&T) -> i32 + Send + Sync + 'static) -> &mut Self {
        if TypeId::of::<T>() == self.def.type_id {
            self.def.tag = Some(Box::new(move |objects, index| {
                level::<T>(objects).get(index).map(&id)
            }));
        }
        self
    }

    /// A field written from the object alone.
    pub fn leaf(
        &mut self,
        name: &'static str,
        write: impl Fn(&T, &mut Out) + Send + Sync + 'static,
    ) -> &mut Self {
        let leaf: LeafFn =
            Box::new(
                move |objects, index, out| match level::<T>(objects).get(index) {
                    Some(object) => write(object, out),
                    None => out.null(),
                },
            );
        self.add(name, FieldDef::Leaf(leaf))
    }

    /// A field whose one child object comes from the object alone.
    pub fn child<C: Send + Sync + 'static>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        make: impl Fn(&T) -> C + Send + Sync + 'static,
    ) -> &mut Self {
        self.each_parent(name, child_type, make, Children::push)
    }

    /// A field whose child object, or null, comes from the object alone.
    pub fn child_opt<C: Send + Sync + 'static>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        make: impl Fn(&T) -> Option<C> + Send + Sync + 'static,
    ) -> &mut Self {
        self.each_parent(name, child_type, make, Children::push_opt)
    }

    /// A field whose list of child objects comes from the object alone.
    pub fn child_list<C: Send + Sync + 'static, I: IntoIterator<Item = C> + 'static>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        make: impl Fn(&T) -> I + Send + Sync + 'static,
    ) -> &mut Self {
        self.each_parent(name, child_type, make, Children::push_list)
    }

    /// A field whose children come from each object alone: `make` gives what `push` adds
    /// for one parent (a child, an optional child, a list).
    fn each_parent<C: Send + Sync + 'static, V: 'static>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        make: impl Fn(&T) -> V + Send + Sync + 'static,
        push: fn(&mut Children<C>, V),
    ) -> &mut Self {
        self.children_with(
            name,
            child_type,
            move |parents, children: &mut Children<C>| {
                for parent in parents {
                    push(children, make(parent));
                }
            },
        )
    }

    fn children_with<C: Send + Sync + 'static>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        fill: impl Fn(&[T], &mut Children<C>) + Send + Sync + 'static,
    ) -> &mut Self {
        let resolve: ResolveFn = Box::new(move |_ctx, objects, _args| {
            let parents = level::<T>(objects);
            let mut children = Children::with_capacity(parents.len());
            fill(parents, &mut children);
            Box::pin(std::future::ready(children_resolved(children)))
        });
        self.add(
            name,
            FieldDef::Resolve {
                resolve,
                child: Some((TypeId::of::<C>(), child_type)),
                gathered: false,
            },
        )
    }

    /// A field whose child objects a backend gives, for all objects of a level at once.
    pub fn resolve<C, F>(
        &mut self,
        name: &'static str,
        child_type: &'static str,
        resolve: F,
    ) -> &mut Self
    where
        C: Send + Sync + 'static,
        F: for<'a> Fn(&'a Ctx, &'a [T], &'a Args) -> BoxFuture<'a, Result<Children<C>, ApiError>>
            + Send
            + Sync
            + 'static,
    {
        let child = Some((TypeId::of::<C>(), child_type));
        self.batch(name, child, resolve, children_resolved)
    }

    /// A field of an interface type whose objects (of several types) a backend gives, for
    /// all objects of a level at once.
    pub fn resolve_mixed<F>(&mut self, name: &'static str, resolve: F) -> &mut Self
    where
        F: for<'a> Fn(&'a Ctx, &'a [T], &'a Args) -> BoxFuture<'a, Result<Mixed, ApiError>>
            + Send
            + Sync
            + 'static,
    {
        self.batch(name, None, resolve, Resolved::Mixed)
    }

    /// A scalar field that a backend gives, for all objects of a level at once.
    pub fn scalars<F>(&mut self, name: &'static str, resolve: F) -> &mut Self
    where
        F: for<'a> Fn(&'a Ctx, &'a [T], &'a Args) -> BoxFuture<'a, Result<Scalars, ApiError>>
            + Send
            + Sync
            + 'static,
    {
        self.batch(name, None, resolve, Resolved::Scalars)
    }

    /// Registers a resolver of a whole level whose answer `answer` makes a `Resolved`; a
    /// failure fails the field for every object of the level.
    fn batch<A, F>(
        &mut self,
        name: &'static str,
        child: Option<(TypeId, &'static str)>,
        resolve: F,
        answer: fn(A) -> Resolved,
    ) -> &mut Self
    where
        A: Send + 'static,
        F: for<'a> Fn(&'a Ctx, &'a [T], &'a Args) -> BoxFuture<'a, Result<A, ApiError>>
            + Send
            + Sync
            + 'static,
    {
        let resolve: ResolveFn = Box::new(move |ctx, objects, args| {
            let future = resolve(ctx, level::<T>(objects), args);
            Box::pin(async move {
                match future.await {
                    Ok(answered) => answer(answered),
                    Err(error) => Resolved::Failed(error),
                }
            })
        });
        self.add(
            name,
            FieldDef::Resolve {
                resolve,
                child,
                gathered: false,
            },
        )
    }
}

fn children_resolved<C: Send + Sync + 'static>(children: Children<C>) -> Resolved {
    Resolved::Children {
        count: children.objects.len(),
        objects: Box::new(children.objects),
        slots: children.slots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_or_a_field_of_another_rust_type_is_a_registration_error() {
        let mut registry = Registry::default();
        registry
            .object::<u8>("Thing")
            .leaf("a", |_, out| out.null());
        registry
            .object::<u16>("Thing")
            .leaf("b", |_, out| out.null());
        registry
            .object::<()>("Query")
            .child("thing", "Thing", |_| 1u32);
        let found = registry.mismatches();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("Thing.b")), "{found:?}");
        assert!(
            found.iter().any(|m| m.starts_with("Query.thing")),
            "{found:?}"
        );
    }
}
