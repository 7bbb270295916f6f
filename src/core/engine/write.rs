//! Writing the answer: a depth-first walk of the plan over the resolved levels, scalars
//! written straight into the response bytes, fields in document order.
//!
//! A field that fails is `null` where it stands, with its error at its response path and
//! location, and the rest of the answer is kept: one backend failing degrades only the
//! fields that need it (a product page without its similar products while search is down).
//! This is what the gateway has always answered, and what its tests hold it to; it differs
//! from the specification's rule for non-null fields, which would null the nearest nullable
//! parent (the whole product). A non-null field that resolves to null without an error is a
//! bug of ours: it is reported as `INTERNAL` at its path.

use async_graphql::{PathSegment, ServerError};

use super::answers::{ScalarSlot, Slot};
use super::out::Out;
use super::plan::{FieldPlan, Selection};
use super::registry::{FieldDef, Registry};
use super::run::{FieldOut, Level};
use super::shape::Shape;
use crate::core::errors::ApiError;
use crate::core::tags::Tag;

/// Where a field's child objects are: one level, or one level per object type.
#[derive(Clone, Copy)]
enum Child<'l> {
    One(&'l Level),
    Typed(&'l [(usize, Level)]),
}

/// One step of the path to the value being written.
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

pub(crate) struct Writer<'p> {
    pub(crate) out: Out,
    pub(crate) errors: Vec<ServerError>,
    /// The actual cost: fields written, each its weight (1 unless declared; as
    /// `cost::returned_fields` counts them when none is), and the weights of the objects
    /// written whose type declares one.
    pub(crate) returned: u64,
    /// The tagged objects written (see `core::tags`), repeats included; noted only when
    /// `tagging`.
    pub(crate) tags: Vec<Tag>,
    tagging: bool,
    registry: &'p Registry,
    path: Vec<Step<'p>>,
}

impl<'p> Writer<'p> {
    pub(crate) fn new(registry: &'p Registry, capacity: usize, tagging: bool) -> Self {
        Self {
            out: Out::with_capacity(capacity),
            errors: Vec::new(),
            returned: 0,
            tags: Vec::new(),
            tagging,
            registry,
            path: Vec::with_capacity(16),
        }
    }

    /// Writes object `index` of `level` with the fields of `selection`.
    pub(crate) fn object(&mut self, selection: &'p Selection, level: &Level, index: usize) {
        let def = (self.registry.objects).get_key_value(selection.type_name.as_str());
        if self.tagging
            && let Some((&type_name, def)) = def
            && let Some(tag) = &def.tag
            && let Some(id) = tag(&*level.objects, index)
        {
            self.tags.push(Tag { type_name, id });
        }
        let leaves = def.map(|(_, def)| def);
        self.returned += selection.weight;
        self.out.bytes.push(b'{');
        for (n, (field, resolved)) in selection.fields.iter().zip(&level.fields).enumerate() {
            if n > 0 {
                self.out.bytes.push(b',');
            }
            self.out.raw(&field.key_json);
            // A field that failed for the whole level did not do what its weight is for.
            self.returned += match resolved {
                FieldOut::Failed(_) => 1,
                _ => field.weight,
            };
            self.path.push(Step::Key(field.key.as_str()));
            let resolved = match resolved {
                FieldOut::SameAs(index) => level.fields.get(*index).unwrap_or(resolved),
                other => other,
            };
            match resolved {
                FieldOut::Inline if field.name.as_str() == "__typename" => {
                    self.out.str(selection.type_name.as_str());
                }
                FieldOut::Inline => match leaves.and_then(|t| t.fields.get(field.name.as_str())) {
                    Some(FieldDef::Leaf(write)) => write(&*level.objects, index, &mut self.out),
                    _ => self.null(field, &field.shape),
                },
                FieldOut::Scalars(scalars) => match scalars.slots.get(index) {
                    Some(ScalarSlot::Value(start, end)) => {
                        let bytes = &scalars.out.bytes[*start as usize..*end as usize];
                        self.out.raw(bytes);
                    }
                    Some(ScalarSlot::Error(error)) => self.fail(error.clone(), field),
                    Some(ScalarSlot::Null) | None => self.null(field, &field.shape),
                },
                FieldOut::Children {
                    slots,
                    level: child,
                } => match slots.get(index) {
                    Some(slot) => self.value(slot, &field.shape, field, Child::One(child)),
                    None => self.null(field, &field.shape),
                },
                FieldOut::Mixed { slots, levels } => match slots.get(index) {
                    Some(slot) => self.value(slot, &field.shape, field, Child::Typed(levels)),
                    None => self.null(field, &field.shape),
                },
                FieldOut::Failed(error) => self.fail(error.clone(), field),
                FieldOut::Json { text, returned } => {
                    self.out.raw(text.as_bytes());
                    self.returned += returned;
                }
                FieldOut::Late | FieldOut::SameAs(_) => {
                    let error = ApiError::Internal(format!("{} was never resolved", field.name));
                    self.fail(error, field);
                }
            }
            self.path.pop();
        }
        self.out.bytes.push(b'}');
    }

    /// Writes one slot of a field with child objects.
    fn value(&mut self, slot: &Slot, shape: &Shape, field: &'p FieldPlan, child: Child<'_>) {
        match (slot, shape) {
            (Slot::Null, _) => self.null(field, shape),
            (Slot::Error(error), _) => self.fail(error.clone(), field),
            (Slot::Obj(index), _) => match (&field.selection, child) {
                (Some(selection), Child::One(level)) => {
                    self.object(selection, level, *index as usize)
                }
                _ => self.null(field, shape),
            },
            (Slot::Typed(group, index), _) => {
                let typed = match child {
                    Child::Typed(levels) => levels.get(*group as usize),
                    Child::One(_) => None,
                };
                let selection = typed.and_then(|(s, _)| field.abstract_selections.get(*s));
                match (selection, typed) {
                    (Some(selection), Some((_, level))) => {
                        self.object(selection, level, *index as usize)
                    }
                    _ => self.null(field, shape),
                }
            }
            (Slot::List(items), Shape::List { item, .. }) => {
                self.out.bytes.push(b'[');
                for (n, slot) in items.iter().enumerate() {
                    if n > 0 {
                        self.out.bytes.push(b',');
                    }
                    self.path.push(Step::Index(n));
                    self.value(slot, item, field, child);
                    self.path.pop();
                }
                self.out.bytes.push(b']');
            }
            (Slot::List(_), Shape::Named { .. }) => {
                let error = ApiError::Internal(format!("{} gave a list", field.name));
                self.fail(error, field);
            }
        }
    }

    /// A null without an error of its own; where the schema forbids one, that is our bug.
    fn null(&mut self, field: &'p FieldPlan, shape: &Shape) {
        if shape.non_null() {
            let error = ApiError::Internal(format!("{} resolved to null", field.name));
            self.report(error, field);
        }
        self.out.null();
    }

    /// A failed field: null in place, its error reported at its path.
    fn fail(&mut self, error: ApiError, field: &'p FieldPlan) {
        self.report(error, field);
        self.out.null();
    }

    /// Reports `error` at the current path, with every location of the field's selections.
    fn report(&mut self, error: ApiError, field: &FieldPlan) {
        let first = field.locations.first().copied().unwrap_or_default();
        let mut error = async_graphql::Error::from(error).into_server_error(first);
        error.locations = field.locations.clone();
        error.path = self
            .path
            .iter()
            .map(|step| match step {
                Step::Key(key) => PathSegment::Field((*key).to_owned()),
                Step::Index(index) => PathSegment::Index(*index),
            })
            .collect();
        self.errors.push(error);
    }
}
