//! What resolvers answer for a level of objects: child objects (`Children`, or `Mixed` for
//! fields of an interface type) or scalars written as JSON (`Scalars`), one slot per
//! parent, in the parents' order.

use std::any::Any;

use super::out::Out;
use crate::core::errors::ApiError;

/// Objects of one type, as one level holds them: a `Vec<T>` behind `Any`.
pub(crate) type Objects = Box<dyn Any + Send + Sync>;

/// What one parent's field holds, for fields with child objects.
#[derive(Debug)]
pub(crate) enum Slot {
    Null,
    /// An index into the level's child objects.
    Obj(u32),
    /// An index into one type's child objects, for fields of an interface type: the type's
    /// group, and the object in it.
    Typed(u16, u32),
    List(Vec<Slot>),
    Error(ApiError),
}

/// Child objects of a level's parents, one slot per parent.
pub struct Children<C> {
    pub(crate) objects: Vec<C>,
    pub(crate) slots: Vec<Slot>,
}

impl<C> Children<C> {
    /// Room for `parents` parents.
    pub fn with_capacity(parents: usize) -> Self {
        Self {
            objects: Vec::with_capacity(parents),
            slots: Vec::with_capacity(parents),
        }
    }

    fn object(&mut self, child: C) -> Slot {
        self.objects.push(child);
        Slot::Obj(self.objects.len() as u32 - 1)
    }

    /// The one child of a root field: the first of `found`, or null.
    pub fn first_of(found: Vec<Option<C>>) -> Self {
        let mut children = Self::with_capacity(1);
        children.push_opt(found.into_iter().next().flatten());
        children
    }

    /// The next parent's child.
    pub fn push(&mut self, child: C) {
        let slot = self.object(child);
        self.slots.push(slot);
    }

    /// The next parent's child, or null.
    pub fn push_opt(&mut self, child: Option<C>) {
        match child {
            Some(child) => self.push(child),
            None => self.slots.push(Slot::Null),
        }
    }

    /// The next parent's list of children.
    pub fn push_list(&mut self, children: impl IntoIterator<Item = C>) {
        let list = children.into_iter().map(|c| self.object(c)).collect();
        self.slots.push(Slot::List(list));
    }

    /// The next parent's field failed.
    pub fn push_error(&mut self, error: ApiError) {
        self.slots.push(Slot::Error(error));
    }

    /// The next parent's result.
    pub fn push_result(&mut self, child: Result<C, ApiError>) {
        match child {
            Ok(child) => self.push(child),
            Err(error) => self.push_error(error),
        }
    }
}

/// Child objects of several object types (a field of an interface type), one slot per
/// parent; each type's objects are kept together, as one level of that type.
#[derive(Default)]
pub struct Mixed {
    pub(crate) groups: Vec<Group>,
    pub(crate) slots: Vec<Slot>,
}

/// One object type's share of a `Mixed`.
pub(crate) struct Group {
    pub(crate) type_name: &'static str,
    pub(crate) objects: Objects,
    pub(crate) count: usize,
}

impl Mixed {
    fn object<T: Send + Sync + 'static>(&mut self, type_name: &'static str, object: T) -> Slot {
        let position = self.groups.iter().position(|g| g.type_name == type_name);
        let group = match position {
            Some(group) => group,
            None => {
                self.groups.push(Group {
                    type_name,
                    objects: Box::new(Vec::<T>::new()),
                    count: 0,
                });
                self.groups.len() - 1
            }
        };
        let entry = &mut self.groups[group];
        match entry.objects.downcast_mut::<Vec<T>>() {
            Some(objects) => {
                objects.push(object);
                entry.count += 1;
                Slot::Typed(group as u16, entry.count as u32 - 1)
            }
            // One type name given two Rust types: a registration bug, answered as such.
            None => Slot::Error(ApiError::Internal(format!(
                "{type_name} objects of two Rust types"
            ))),
        }
    }

    /// The next parent's child, an object of type `type_name`.
    pub fn push<T: Send + Sync + 'static>(&mut self, type_name: &'static str, object: T) {
        let slot = self.object(type_name, object);
        self.slots.push(slot);
    }

    /// The next parent's child is null.
    pub fn push_null(&mut self) {
        self.slots.push(Slot::Null);
    }

    /// The next parent's field failed.
    pub fn push_error(&mut self, error: ApiError) {
        self.slots.push(Slot::Error(error));
    }

    /// The next parent's list, filled by `fill` item by item.
    pub fn push_list(&mut self, fill: impl FnOnce(&mut MixedList<'_>)) {
        let mut list = MixedList {
            mixed: self,
            items: Vec::new(),
        };
        fill(&mut list);
        let items = list.items;
        self.slots.push(Slot::List(items));
    }
}

/// A list of a `Mixed` being filled.
pub struct MixedList<'m> {
    mixed: &'m mut Mixed,
    items: Vec<Slot>,
}

impl MixedList<'_> {
    /// An object of type `type_name`.
    pub fn push<T: Send + Sync + 'static>(&mut self, type_name: &'static str, object: T) {
        let slot = self.mixed.object(type_name, object);
        self.items.push(slot);
    }

    /// A null item.
    pub fn push_null(&mut self) {
        self.items.push(Slot::Null);
    }
}

/// One parent's scalar value, for scalar fields that need a backend.
#[derive(Debug)]
pub(crate) enum ScalarSlot {
    /// A range of `Scalars::out`.
    Value(u32, u32),
    Null,
    Error(ApiError),
}

/// Scalar values of a level's parents, one slot per parent, written as JSON.
#[derive(Default)]
pub struct Scalars {
    pub(crate) out: Out,
    pub(crate) slots: Vec<ScalarSlot>,
}

impl Scalars {
    /// Room for `parents` parents.
    pub fn with_capacity(parents: usize) -> Self {
        Self {
            out: Out::with_capacity(parents * 8),
            slots: Vec::with_capacity(parents),
        }
    }

    /// The next parent's value, written by `write`.
    pub fn push(&mut self, write: impl FnOnce(&mut Out)) {
        let start = self.out.bytes.len() as u32;
        write(&mut self.out);
        let end = self.out.bytes.len() as u32;
        self.slots.push(ScalarSlot::Value(start, end));
    }

    /// The next parent's value is null.
    pub fn push_null(&mut self) {
        self.slots.push(ScalarSlot::Null);
    }

    /// The next parent's field failed.
    pub fn push_error(&mut self, error: ApiError) {
        self.slots.push(ScalarSlot::Error(error));
    }
}

/// A resolver's answer for a level.
pub(crate) enum Resolved {
    Children {
        objects: Objects,
        count: usize,
        slots: Vec<Slot>,
    },
    Mixed(Mixed),
    Scalars(Scalars),
    /// The field failed for every parent.
    Failed(ApiError),
}
