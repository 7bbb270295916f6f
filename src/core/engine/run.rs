//! Breadth-first resolution: all objects of a level resolve together, one resolver call per
//! (field, arguments) per level, and sibling fields' calls run concurrently, so their loader
//! batches close in the same turn. There is no future per object; there is one per field
//! of a level.

use std::sync::OnceLock;

use async_graphql::{Value as ConstValue, Variables};
use futures::future::{BoxFuture, join_all};

use super::answers::{Mixed, Objects, Resolved, Scalars, Slot};
use super::args::Args;
use super::plan::{Argument, FieldPlan, Selection, variable};
use super::registry::{FieldDef, Registry};
use super::{Ctx, Introspected};
use crate::core::cost::returned_fields;
use crate::core::errors::ApiError;

/// A level's objects with what their fields resolved to, aligned with the plan's fields.
pub(crate) struct Level {
    pub(crate) objects: Objects,
    pub(crate) count: usize,
    pub(crate) fields: Vec<FieldOut>,
}

/// What a field of a level resolved to.
pub(crate) enum FieldOut {
    /// Written from the object when the answer is written (leaves and `__typename`).
    Inline,
    Children {
        slots: Vec<Slot>,
        level: Level,
    },
    /// Objects of several types (a field of an interface type): per group of `slots`, the
    /// index of its type's selection in `FieldPlan::abstract_selections`, and its level.
    Mixed {
        slots: Vec<Slot>,
        levels: Vec<(usize, Level)>,
    },
    Scalars(Scalars),
    /// Failed for every object of the level.
    Failed(ApiError),
    /// To be resolved after the rest of the operation (`FieldPlan::late`).
    Late,
    /// Delivered with a deferred group (`FieldPlan::deferred`): set when the group has
    /// resolved, while the earlier payloads' levels are shared.
    Deferred(OnceLock<Box<FieldOut>>),
    /// The answer of the selection's field at this index (`FieldPlan::same_as`).
    SameAs(usize),
    /// An introspection field's answer as JSON, and the values it holds.
    Json {
        text: Box<str>,
        returned: u64,
    },
}

/// A late field waiting for its turn: where it is and where its answer goes.
type Waiting<'p, 'l> = (
    &'p Selection,
    &'p FieldPlan,
    &'l (dyn std::any::Any + Send + Sync),
    usize,
    &'l mut FieldOut,
);

/// A deferred field of a level: where it is and where its answer goes.
type Pending<'p, 'l> = (
    &'p Selection,
    &'p FieldPlan,
    &'l (dyn std::any::Any + Send + Sync),
    usize,
    &'l OnceLock<Box<FieldOut>>,
);

/// What every level of one execution shares.
pub(crate) struct Run<'a> {
    pub(crate) ctx: &'a Ctx,
    pub(crate) registry: &'a Registry,
    pub(crate) variables: &'a Variables,
    pub(crate) defaults: &'a [(async_graphql::Name, ConstValue)],
}

impl<'a> Run<'a> {
    /// Resolves `selection` for `count` objects, then the levels below it.
    pub(crate) fn level(
        &'a self,
        selection: &'a Selection,
        objects: Objects,
        count: usize,
    ) -> BoxFuture<'a, Level> {
        Box::pin(async move {
            let fields = {
                let objects = &*objects;
                let resolving = selection
                    .fields
                    .iter()
                    .map(|field| self.field(selection, field, objects, count));
                join_all(resolving).await
            };
            Level {
                objects,
                count,
                fields,
            }
        })
    }

    /// Resolves the root fields of a mutation one after the other, each with everything
    /// below it, in document order, as the specification runs mutations.
    pub(crate) async fn serial(&'a self, selection: &'a Selection, objects: Objects) -> Level {
        let mut fields = Vec::with_capacity(selection.fields.len());
        for field in &selection.fields {
            fields.push(self.field(selection, field, &*objects, 1).await);
        }
        Level {
            objects,
            count: 1,
            fields,
        }
    }

    /// Resolves the late fields of a resolved operation, all levels together, so they share
    /// their batches; repeated while resolving them reveals more.
    pub(crate) async fn late(&'a self, selection: &'a Selection, level: &mut Level) {
        self.late_in(vec![(selection, level)]).await;
    }

    /// `late` for several resolved levels at once.
    async fn late_in(&'a self, mut roots: Vec<(&'a Selection, &mut Level)>) {
        for _ in 0..4 {
            let mut waiting = Vec::new();
            for (selection, level) in &mut roots {
                waiting_in(selection, level, &mut waiting);
            }
            if waiting.is_empty() {
                return;
            }
            let resolving =
                waiting
                    .into_iter()
                    .map(|(selection, field, objects, count, out)| async move {
                        *out = self.resolve(selection, field, objects, count).await;
                    });
            join_all(resolving).await;
        }
    }

    /// Resolves the fields of deferred group `group` wherever the levels resolved so far
    /// (`tree`, on `root`) hold them, all together, with everything below them.
    pub(crate) async fn group(&'a self, root: &'a Selection, tree: &'a Level, group: u16) {
        let mut pending = Vec::new();
        pending_in(root, tree, group, &mut pending);
        let resolving =
            pending
                .into_iter()
                .map(|(selection, field, objects, count, answer)| async move {
                    let mut out = self.now(selection, field, objects, count).await;
                    let roots = match &mut out {
                        FieldOut::Children { level, .. } => {
                            field.selection.iter().zip([level]).collect()
                        }
                        FieldOut::Mixed { levels, .. } => levels
                            .iter_mut()
                            .filter_map(|(index, level)| {
                                Some((field.abstract_selections.get(*index)?, level))
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    self.late_in(roots).await;
                    let _ = answer.set(Box::new(out));
                });
        join_all(resolving).await;
    }

    async fn field(
        &'a self,
        selection: &'a Selection,
        field: &'a FieldPlan,
        objects: &'a (dyn std::any::Any + Send + Sync),
        count: usize,
    ) -> FieldOut {
        if field.deferred.is_some() {
            return FieldOut::Deferred(OnceLock::new());
        }
        if field.late {
            return FieldOut::Late;
        }
        self.now(selection, field, objects, count).await
    }

    /// Resolves a field now, whether it is late or deferred.
    async fn now(
        &'a self,
        selection: &'a Selection,
        field: &'a FieldPlan,
        objects: &'a (dyn std::any::Any + Send + Sync),
        count: usize,
    ) -> FieldOut {
        if let Some(index) = field.same_as {
            return FieldOut::SameAs(index);
        }
        if field.introspected {
            return self.introspected(field);
        }
        self.resolve(selection, field, objects, count).await
    }

    /// What async-graphql answered for an introspection field.
    fn introspected(&self, field: &FieldPlan) -> FieldOut {
        let found = self
            .ctx
            .data::<Introspected>()
            .and_then(|answered| match &answered.0 {
                ConstValue::Object(fields) => fields.get(&field.key).ok_or_else(|| {
                    ApiError::Internal(format!("{} was not introspected", field.key))
                }),
                _ => Err(ApiError::Internal(
                    "introspection did not answer".to_owned(),
                )),
            });
        match found.and_then(|value| {
            let text = serde_json::to_string(value)
                .map_err(|e| ApiError::Internal(format!("introspection's answer: {e}")))?;
            Ok((text, returned_fields(value)))
        }) {
            Ok((text, returned)) => FieldOut::Json {
                text: text.into(),
                returned,
            },
            Err(error) => FieldOut::Failed(error),
        }
    }

    async fn resolve(
        &'a self,
        selection: &'a Selection,
        field: &'a FieldPlan,
        objects: &(dyn std::any::Any + Send + Sync),
        count: usize,
    ) -> FieldOut {
        if field.name.as_str() == "__typename" {
            return FieldOut::Inline;
        }
        let def = self
            .registry
            .objects
            .get(selection.type_name.as_str())
            .and_then(|t| t.fields.get(field.name.as_str()));
        let Some(def) = def else {
            return FieldOut::Failed(ApiError::Internal(format!(
                "{}.{} has no resolver",
                selection.type_name, field.name
            )));
        };
        let resolve = match def {
            FieldDef::Leaf(_) => return FieldOut::Inline,
            FieldDef::Resolve { resolve, .. } => resolve,
        };
        if count == 0 {
            return FieldOut::Scalars(Scalars::default());
        }
        let args = match self.args(field) {
            Ok(args) => args,
            Err(error) => return FieldOut::Failed(error),
        };
        match resolve(self.ctx, objects, &args).await {
            Resolved::Children {
                objects,
                count,
                slots,
            } => match &field.selection {
                Some(child) => FieldOut::Children {
                    slots,
                    level: self.level(child, objects, count).await,
                },
                None => FieldOut::Failed(ApiError::Internal(format!(
                    "{} gave objects without a selection",
                    field.name
                ))),
            },
            Resolved::Mixed(mixed) => self.mixed(field, mixed).await,
            Resolved::Scalars(scalars) => FieldOut::Scalars(scalars),
            Resolved::Failed(error) => FieldOut::Failed(error),
        }
    }

    /// Resolves each type's objects of a mixed answer with that type's selection, all types
    /// together.
    async fn mixed(&'a self, field: &'a FieldPlan, mixed: Mixed) -> FieldOut {
        let mut resolving = Vec::with_capacity(mixed.groups.len());
        for group in mixed.groups {
            let Some(index) = (field.abstract_selections.iter())
                .position(|s| s.type_name.as_str() == group.type_name)
            else {
                return FieldOut::Failed(ApiError::Internal(format!(
                    "{} gave {} objects, which its type does not have",
                    field.name, group.type_name
                )));
            };
            let selection = &field.abstract_selections[index];
            resolving.push(async move {
                (
                    index,
                    self.level(selection, group.objects, group.count).await,
                )
            });
        }
        FieldOut::Mixed {
            slots: mixed.slots,
            levels: join_all(resolving).await,
        }
    }

    /// The field's arguments with the request's variables put in.
    fn args(&self, field: &FieldPlan) -> Result<Args, ApiError> {
        let mut values = Vec::with_capacity(field.args.len());
        for (name, argument) in &field.args {
            let value = match argument {
                Argument::Default(value) => value.clone(),
                Argument::Given(value) => value
                    .clone()
                    .into_const_with(|var| variable(self.variables, self.defaults, &var).ok_or(()))
                    .map_err(|()| {
                        ApiError::BadUserInput(format!("argument {name} uses an unknown variable"))
                    })?,
            };
            values.push((name.clone(), value));
        }
        Ok(Args {
            values,
            selected: field.selected.clone(),
        })
    }
}

/// The late fields of `level` and the levels below it.
fn waiting_in<'p, 'l>(
    selection: &'p Selection,
    level: &'l mut Level,
    out: &mut Vec<Waiting<'p, 'l>>,
) {
    let Level {
        objects,
        count,
        fields,
    } = level;
    for (field, resolved) in selection.fields.iter().zip(fields.iter_mut()) {
        match resolved {
            FieldOut::Late => out.push((selection, field, &**objects, *count, resolved)),
            FieldOut::Children { level: child, .. } => {
                if let Some(child_selection) = &field.selection {
                    waiting_in(child_selection, child, out);
                }
            }
            FieldOut::Mixed { levels, .. } => {
                for (index, child) in levels {
                    if let Some(child_selection) = field.abstract_selections.get(*index) {
                        waiting_in(child_selection, child, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The unresolved fields of deferred group `group` in `level` and below, through the
/// deferred fields already resolved.
fn pending_in<'p, 'l>(
    selection: &'p Selection,
    level: &'l Level,
    group: u16,
    out: &mut Vec<Pending<'p, 'l>>,
) {
    for (field, resolved) in selection.fields.iter().zip(&level.fields) {
        let resolved = match resolved {
            FieldOut::Deferred(answer) => match answer.get() {
                Some(answer) => &**answer,
                None if field.deferred == Some(group) => {
                    out.push((selection, field, &*level.objects, level.count, answer));
                    continue;
                }
                None => continue,
            },
            other => other,
        };
        match resolved {
            FieldOut::Children { level: child, .. } => {
                if let Some(child_selection) = &field.selection {
                    pending_in(child_selection, child, group, out);
                }
            }
            FieldOut::Mixed { levels, .. } => {
                for (index, child) in levels {
                    if let Some(child_selection) = field.abstract_selections.get(*index) {
                        pending_in(child_selection, child, group, out);
                    }
                }
            }
            _ => {}
        }
    }
}
