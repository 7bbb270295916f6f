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

/// Marks the gathered fields that the plan selects in more than one place of one payload
/// as late, so their levels resolve together.
pub(super) fn gather(registry: &Registry, root: &mut Selection) {
    /// A field's place: its type, its name and the group it is delivered with.
    type Place = (Name, Name, u16);
    fn walk(
        registry: &Registry,
        selection: &mut Selection,
        group: u16,
        visit: &mut dyn FnMut(&Registry, Place, &mut FieldPlan),
    ) {
        for field in &mut selection.fields {
            let field_group = field.deferred.unwrap_or(group);
            let place = (selection.type_name.clone(), field.name.clone(), field_group);
            visit(registry, place, field);
            let children = field.selection.iter_mut();
            for child in children.chain(field.abstract_selections.iter_mut()) {
                walk(registry, child, field_group, visit);
            }
        }
    }
    let gathered = |registry: &Registry, (type_name, field, _): &Place| {
        matches!(
            registry
                .objects
                .get(type_name.as_str())
                .and_then(|t| t.fields.get(field.as_str())),
            Some(FieldDef::Resolve { gathered: true, .. })
        )
    };
    let mut places: Vec<Place> = Vec::new();
    walk(registry, root, 0, &mut |registry, place, _| {
        if gathered(registry, &place) {
            places.push(place);
        }
    });
    walk(registry, root, 0, &mut |registry, place, field| {
        if gathered(registry, &place) && places.iter().filter(|p| **p == place).count() > 1 {
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
