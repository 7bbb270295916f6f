//! What a field's value looks like, as the schema writes its type (`[Collage!]!`): the
//! writer reads it to know where a list is and where null is allowed.

/// What a field's value looks like: named, or a list, each nullable or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    Named { non_null: bool },
    List { non_null: bool, item: Box<Shape> },
}

impl Shape {
    /// The shape of a type reference as the schema writes it (`[Collage!]!`).
    pub(crate) fn parse(ty: &str) -> Self {
        let (ty, non_null) = match ty.strip_suffix('!') {
            Some(inner) => (inner, true),
            None => (ty, false),
        };
        match ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(item) => Shape::List {
                non_null,
                item: Box::new(Shape::parse(item)),
            },
            None => Shape::Named { non_null },
        }
    }

    pub(crate) fn non_null(&self) -> bool {
        match self {
            Shape::Named { non_null } | Shape::List { non_null, .. } => *non_null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shape;

    #[test]
    fn shapes_are_read_from_type_references() {
        assert_eq!(Shape::parse("Int"), Shape::Named { non_null: false });
        assert_eq!(
            Shape::parse("[Collage!]!"),
            Shape::List {
                non_null: true,
                item: Box::new(Shape::Named { non_null: true })
            }
        );
        assert_eq!(
            Shape::parse("[Node]!"),
            Shape::List {
                non_null: true,
                item: Box::new(Shape::Named { non_null: false })
            }
        );
    }
}
