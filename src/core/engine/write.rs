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

use async_graphql::{Name, PathSegment, ServerError, Value as ConstValue, Variables};

use super::answers::{ScalarSlot, Slot};
use super::out::Out;
use super::plan::{FieldPlan, Selection, variable};
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

/// What a field resolved to, through a deferred field's answer and a shared answer (a
/// deferred field may share the answer of another deferred field).
fn settled<'l>(mut resolved: &'l FieldOut, level: &'l Level) -> &'l FieldOut {
    for _ in 0..3 {
        resolved = match resolved {
            FieldOut::Deferred(answer) => match answer.get() {
                Some(answer) => answer,
                None => return resolved,
            },
            FieldOut::SameAs(index) => match level.fields.get(*index) {
                Some(shared) => shared,
                None => return resolved,
            },
            other => return other,
        };
    }
    resolved
}

/// One step of the path to the value being written.
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

/// A payload's entry after the first: a deferred group's fields of one object, or the
/// items of a streamed list after its first.
pub struct Entry {
    /// The fields (`{…}`, as JSON text), or `null` when they did not arrive in time.
    pub data: Option<String>,
    /// The list's items after the first (`[…]`, as JSON text).
    pub items: Option<String>,
    /// Where: the object's path, or the list's path and its first item's index.
    pub path: Vec<PathSegment>,
    /// The `label` of its `@defer` or `@stream`.
    pub label: Option<String>,
    /// The errors of the entry's own paths.
    pub errors: Vec<ServerError>,
}

/// What incremental delivery needs to write a payload.
pub(crate) struct Parts<'p> {
    /// For `@stream`'s `initialCount`.
    pub(crate) variables: &'p Variables,
    pub(crate) defaults: &'p [(Name, ConstValue)],
    /// The items after the first of the streamed lists written, for the next payload.
    pub(crate) streamed: Vec<Entry>,
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
    /// Set when the answer is delivered in parts.
    pub(crate) parts: Option<Parts<'p>>,
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
            parts: None,
        }
    }

    /// Writes object `index` of `level` with the fields of `selection` delivered with it.
    pub(crate) fn object(&mut self, selection: &'p Selection, level: &Level, index: usize) {
        self.fields(selection, level, index, None);
    }

    /// Writes object `index` of `level` with the fields of `selection` that deferred group
    /// `only` delivers, or, without one, the fields delivered with the object.
    fn fields(&mut self, selection: &'p Selection, level: &Level, index: usize, only: Option<u16>) {
        let def = (self.registry.objects).get_key_value(selection.type_name.as_str());
        if self.tagging
            && let Some((&type_name, def)) = def
            && let Some(tag) = &def.tag
            && let Some(id) = tag(&*level.objects, index)
        {
            self.tags.push(Tag { type_name, id });
        }
        let leaves = def.map(|(_, def)| def);
        if only.is_none() {
            self.returned += selection.weight;
        }
        self.out.bytes.push(b'{');
        let mut first = true;
        for (field, resolved) in selection.fields.iter().zip(&level.fields) {
            if field.deferred != only {
                continue;
            }
            if !first {
                self.out.bytes.push(b',');
            }
            first = false;
            self.out.raw(&field.key_json);
            // A field that failed for the whole level did not do what its weight is for.
            self.returned += match resolved {
                FieldOut::Failed(_) => 1,
                _ => field.weight,
            };
            self.path.push(Step::Key(field.key.as_str()));
            let resolved = settled(resolved, level);
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
                FieldOut::Late | FieldOut::SameAs(_) | FieldOut::Deferred(_) => {
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
                // A streamed list is its field's outermost, when the answer goes in parts.
                let first = match &field.stream {
                    Some(stream) if self.parts.is_some() && std::ptr::eq(shape, &field.shape) => {
                        self.initial_count(stream).min(items.len())
                    }
                    _ => items.len(),
                };
                self.out.bytes.push(b'[');
                for (n, slot) in items[..first].iter().enumerate() {
                    if n > 0 {
                        self.out.bytes.push(b',');
                    }
                    self.path.push(Step::Index(n));
                    self.value(slot, item, field, child);
                    self.path.pop();
                }
                self.out.bytes.push(b']');
                if first < items.len() {
                    self.stream_rest(items, first, item, field, child);
                }
            }
            (Slot::List(_), Shape::Named { .. }) => {
                let error = ApiError::Internal(format!("{} gave a list", field.name));
                self.fail(error, field);
            }
        }
    }

    /// `@stream`'s `initialCount`: a literal, or a variable's value; not a count is 0.
    fn initial_count(&self, stream: &super::plan::Stream) -> usize {
        let value = match (&stream.initial_count, &self.parts) {
            (async_graphql_value::Value::Variable(name), Some(parts)) => {
                variable(parts.variables, parts.defaults, name)
            }
            (other, _) => other.clone().into_const(),
        };
        match value {
            Some(ConstValue::Number(n)) => n.as_u64().map_or(0, |n| n as usize),
            _ => 0,
        }
    }

    /// Writes the items of a streamed list from `first` on as an entry for the next
    /// payload, with their errors.
    fn stream_rest(
        &mut self,
        items: &[Slot],
        first: usize,
        item: &Shape,
        field: &'p FieldPlan,
        child: Child<'_>,
    ) {
        let out = std::mem::replace(&mut self.out, Out::with_capacity(1024));
        let errors = std::mem::take(&mut self.errors);
        // Lists streamed inside these items come after them: their entries go after this one.
        let at = self.parts.as_ref().map_or(0, |parts| parts.streamed.len());
        self.out.bytes.push(b'[');
        for (n, slot) in items.iter().enumerate().skip(first) {
            if n > first {
                self.out.bytes.push(b',');
            }
            self.path.push(Step::Index(n));
            self.value(slot, item, field, child);
            self.path.pop();
        }
        self.out.bytes.push(b']');
        let items = std::mem::replace(&mut self.out, out);
        let errors = std::mem::replace(&mut self.errors, errors);
        self.path.push(Step::Index(first));
        let path = self.path();
        self.path.pop();
        if let Some(parts) = &mut self.parts {
            parts.streamed.insert(
                at,
                Entry {
                    data: None,
                    // The writer only writes valid UTF-8.
                    items: String::from_utf8(items.bytes).ok(),
                    path,
                    label: field.stream.as_ref().and_then(|s| s.label.clone()),
                    errors,
                },
            );
        }
    }

    /// The entries of deferred group `group` under object `index` of `level`: its fields
    /// of each object that has them, at the object's path; without `answered`, each is
    /// `null` with `timed_out` at its path.
    pub(crate) fn group(
        &mut self,
        selection: &'p Selection,
        level: &Level,
        index: usize,
        group: (u16, Option<&str>),
        timed_out: Option<&ApiError>,
        entries: &mut Vec<Entry>,
    ) {
        if selection.fields.iter().any(|f| f.deferred == Some(group.0)) {
            let out = std::mem::replace(&mut self.out, Out::with_capacity(1024));
            let errors = std::mem::take(&mut self.errors);
            if let Some(error) = timed_out {
                let first = selection
                    .fields
                    .iter()
                    .find(|f| f.deferred == Some(group.0));
                if let Some(field) = first {
                    self.path.push(Step::Key(field.key.as_str()));
                    self.report(error.clone(), field);
                    self.path.pop();
                }
                self.out.null();
            } else {
                self.fields(selection, level, index, Some(group.0));
            }
            let data = std::mem::replace(&mut self.out, out);
            entries.push(Entry {
                data: String::from_utf8(data.bytes).ok(),
                items: None,
                path: self.path(),
                label: group.1.map(str::to_owned),
                errors: std::mem::replace(&mut self.errors, errors),
            });
        }
        for (field, resolved) in selection.fields.iter().zip(&level.fields) {
            let resolved = match resolved {
                FieldOut::Deferred(_) if field.deferred == Some(group.0) => continue,
                FieldOut::Deferred(answer) => match answer.get() {
                    Some(answer) => &**answer,
                    None => continue,
                },
                other => other,
            };
            let child = match resolved {
                FieldOut::Children { slots, level } => (slots, Child::One(level)),
                FieldOut::Mixed { slots, levels } => (slots, Child::Typed(levels)),
                _ => continue,
            };
            if let Some(slot) = child.0.get(index) {
                self.path.push(Step::Key(field.key.as_str()));
                self.group_in(slot, field, child.1, group, timed_out, entries);
                self.path.pop();
            }
        }
    }

    /// `group` for the objects of one slot.
    fn group_in(
        &mut self,
        slot: &Slot,
        field: &'p FieldPlan,
        child: Child<'_>,
        group: (u16, Option<&str>),
        timed_out: Option<&ApiError>,
        entries: &mut Vec<Entry>,
    ) {
        match (slot, child) {
            (Slot::Obj(index), Child::One(level)) => {
                if let Some(selection) = &field.selection {
                    let index = *index as usize;
                    self.group(selection, level, index, group, timed_out, entries);
                }
            }
            (Slot::Typed(typed, index), Child::Typed(levels)) => {
                if let Some((at, level)) = levels.get(*typed as usize)
                    && let Some(selection) = field.abstract_selections.get(*at)
                {
                    let index = *index as usize;
                    self.group(selection, level, index, group, timed_out, entries);
                }
            }
            (Slot::List(items), _) => {
                for (n, slot) in items.iter().enumerate() {
                    self.path.push(Step::Index(n));
                    self.group_in(slot, field, child, group, timed_out, entries);
                    self.path.pop();
                }
            }
            _ => {}
        }
    }

    /// The current path, as errors and entries carry it.
    fn path(&self) -> Vec<PathSegment> {
        self.path
            .iter()
            .map(|step| match step {
                Step::Key(key) => PathSegment::Field((*key).to_owned()),
                Step::Index(index) => PathSegment::Index(*index),
            })
            .collect()
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
        error.path = self.path();
        self.errors.push(error);
    }
}
