//! Walks over a plan once it is made: the pairs of types and fields it selects (so loaders
//! read only what is shown), the fields gathered across levels, and what a field selects
//! below it (for `Args::selects`).

use async_graphql::Name;

use super::plan::{FieldPlan, Selection};
use super::registry::{FieldDef, Registry};

/// Adds the `(type, field)` pairs of `selection` and below to `out`, once each.
pub(super) fn every_field(selection: &Selection, out: &mut Vec<(Name, Name)>) {
    for field in &selection.fields {
        let pair = (selection.type_name.clone(), field.name.clone());
        if !out.contains(&pair) {
            out.push(pair);
        }
        for child in field.selection.iter().chain(&field.abstract_selections) {
            every_field(child, out);
        }
    }
}

/// Marks the gathered fields that the plan selects in more than one place as late, so
/// their levels resolve together.
pub(super) fn gather(registry: &Registry, root: &mut Selection) {
    fn walk(
        registry: &Registry,
        selection: &mut Selection,
        visit: &mut dyn FnMut(&Registry, &Name, &mut FieldPlan),
    ) {
        for field in &mut selection.fields {
            visit(registry, &selection.type_name, field);
            let children = field.selection.iter_mut();
            for child in children.chain(field.abstract_selections.iter_mut()) {
                walk(registry, child, visit);
            }
        }
    }
    let gathered = |registry: &Registry, type_name: &Name, field: &FieldPlan| {
        matches!(
            registry
                .objects
                .get(type_name.as_str())
                .and_then(|t| t.fields.get(field.name.as_str())),
            Some(FieldDef::Resolve { gathered: true, .. })
        )
    };
    let mut places: Vec<(Name, Name)> = Vec::new();
    walk(registry, root, &mut |registry, type_name, field| {
        if gathered(registry, type_name, field) {
            places.push((type_name.clone(), field.name.clone()));
        }
    });
    walk(registry, root, &mut |registry, type_name, field| {
        let key = (type_name.clone(), field.name.clone());
        if gathered(registry, type_name, field) && places.iter().filter(|p| **p == key).count() > 1
        {
            field.late = true;
        }
    });
}

/// The names selected in `selection` and one level below it (`facets`, `facets.brands`).
pub(super) fn selected_below(selection: &Selection) -> Vec<String> {
    let mut names = Vec::new();
    for field in &selection.fields {
        names.push(field.name.to_string());
        for child in field.selection.iter().chain(&field.abstract_selections) {
            for below in &child.fields {
                names.push(format!("{}.{}", field.name, below.name));
            }
        }
    }
    names
}
