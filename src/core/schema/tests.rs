use super::*;

fn fragment(module: &'static str, sdl: &'static str) -> Fragment {
    Fragment { module, sdl }
}

const BASE: &str = r#"
"The root."
type Query
"""
A thing.
"""
type Thing @cacheControl(maxAge: 60) {
  name: String!
}
"#;

fn built(fragments: &[Fragment]) -> Result<(String, Hints), String> {
    let (builder, hints) = build(fragments)?;
    let schema = builder.finish().map_err(|e| e.0)?;
    Ok((schema.sdl(), hints))
}

#[test]
fn modules_extend_each_others_types_in_registration_order() {
    let (sdl, hints) = built(&[
        fragment("base", BASE),
        fragment(
            "a",
            "extend type Query { things(first: Int = 3): [Thing!]! @listSize(slicingArguments: [\"first\"]) @cost(weight: 4) }",
        ),
        fragment(
            "b",
            "extend type Thing { secret: String @cacheControl(scope: PRIVATE) }",
        ),
    ])
    .unwrap();
    let thing = sdl.find("type Thing").unwrap();
    let name = sdl[thing..].find("name: String!").unwrap();
    let secret = sdl[thing..].find("secret: String").unwrap();
    assert!(name < secret, "{sdl}");
    assert!(sdl.contains("things(first: Int = 3): [Thing!]!"), "{sdl}");
    // Cache hints are the gateway's; costs are published, for clients to compute.
    assert!(!sdl.contains("@cacheControl"), "{sdl}");
    assert!(
        sdl.contains("things(first: Int = 3): [Thing!]! @cost(weight: 4) @listSize(slicingArguments: [\"first\"])"),
        "{sdl}"
    );
    assert_eq!(hints.type_cache("Thing").unwrap().max_age, 60);
    let secret = hints.field_cache("Thing", "secret").unwrap();
    assert!(!secret.public);
    let cost = hints.cost("Query", "things").unwrap();
    assert_eq!(cost.weight, Some(4));
    assert_eq!(cost.slicing_arguments, ["first"]);
    assert_eq!(cost.assumed_size, None);
}

#[test]
fn a_type_weighs_each_of_its_objects_and_publishes_its_weight() {
    let (sdl, hints) = built(&[
        fragment("base", BASE),
        fragment(
            "a",
            "type Heavy @cost(weight: 7) { name: String! } \
             extend type Query { heavies(first: Int = 2): [Heavy!]! @listSize(slicingArguments: [\"first\"]) }",
        ),
    ])
    .unwrap();
    assert!(sdl.contains("type Heavy @cost(weight: 7)"), "{sdl}");
    assert_eq!(hints.type_weight("Heavy"), 7);
    assert_eq!(hints.type_weight("Thing"), 0, "undeclared: nothing");
}

#[test]
fn mistakes_in_a_modules_sdl_are_refused_with_the_module_named() {
    let cases = [
        ("extend type Nothing { a: Int }", "extends Nothing"),
        ("type Thing { again: Int }", "defines Thing"),
        (
            "extend type Thing { a: Int @weight(n: 1) }",
            "unknown directive @weight",
        ),
        (
            "extend type Thing { a(n: Int): [Int] @listSize(slicingArguments: [\"first\"]) }",
            "sized by first",
        ),
        ("extend type Thing { a: Int @cost }", "needs a weight"),
        (
            "extend type Thing { a(first: Int): [Int] @listSize(slicingArguments: [\"first\"]) }",
            "requireOneSlicingArgument: false",
        ),
        (
            "extend type Query { t(first: Int = 2): Thing @listSize(slicingArguments: [\"first\"]) }",
            "sizedFields exactly when",
        ),
        (
            "extend type Query { t(first: Int = 2): Thing @listSize(slicingArguments: [\"first\"], sizedFields: [\"name\"]) }",
            "Thing.name is not a list",
        ),
        ("type Thing {", "late's schema"),
        ("directive @x on FIELD", "only types"),
    ];
    for (sdl, expected) in cases {
        let error = built(&[fragment("base", BASE), fragment("late", sdl)])
            .map(|_| ())
            .unwrap_err();
        assert!(error.contains(expected), "{sdl}: {error}");
    }
    let error = built(&[fragment("late", "type Thing { a: Int }")])
        .map(|_| ())
        .unwrap_err();
    assert!(error.contains("Query"), "{error}");
}

#[test]
fn the_modules_declare_the_costs_and_hints_the_gateway_relies_on() {
    let (_, hints) = build(&crate::core::fragments(crate::core::MODULES)).unwrap();
    let page = crate::core::pagination::PageLimits::default().default_size as u64;
    // A page without `first` is a default page.
    for (type_name, field, cost) in hints.costs() {
        if cost.slicing_arguments == ["first"]
            && let Some(size) = cost.assumed_size
        {
            assert_eq!(size, page, "{type_name}.{field}");
        }
    }
    // Lists without pagination are costed at an assumed size, not as one element.
    for (type_name, field) in [
        ("Query", "categories"),
        ("Category", "children"),
        ("Category", "path"),
    ] {
        let cost = hints.cost(type_name, field).expect("an assumed size");
        assert!(cost.slicing_arguments.is_empty() && cost.assumed_size > Some(1));
    }
    let brands = hints.cost("Query", "brands").unwrap();
    assert_eq!(brands.assumed_size, Some(page));
    assert_eq!(hints.type_cache("Product").unwrap().max_age, 60);
    assert_eq!(hints.type_cache("ProductOffers").unwrap().max_age, 30);
    let viewer = hints.field_cache("Query", "viewer").unwrap();
    assert!(!viewer.public);
    let nodes = hints.cost("Query", "nodes").unwrap();
    assert_eq!(nodes.slicing_arguments, ["ids"]);
}
