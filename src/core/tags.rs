//! Tags: the objects an answer holds and the objects a write changed, by GraphQL type and
//! database id. The engine notes the tagged objects it writes into an answer (types say
//! how with `ObjectFields::tagged`); the community's mutations note what they changed
//! (`Changed`); the HTTP layer's response cache keeps the first with each answer and drops
//! the answers holding any of the second.

use std::fmt;
use std::sync::{Mutex, PoisonError};

/// One object: its GraphQL type and its database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The object's GraphQL type (`Product`, `Collage`).
    pub type_name: &'static str,
    /// Its database id.
    pub id: i32,
}

impl Tag {
    /// A product.
    pub fn product(id: i32) -> Self {
        Self {
            type_name: "Product",
            id,
        }
    }

    /// A collage.
    pub fn collage(id: i32) -> Self {
        Self {
            type_name: "Collage",
            id,
        }
    }
}

/// `Product:12`: how stores name a tag.
impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.type_name, self.id)
    }
}

/// The objects one request's writes changed, in the engine's context.
#[derive(Debug, Default)]
pub struct Changed(Mutex<Vec<Tag>>);

impl Changed {
    /// Notes objects a write changed.
    pub fn note(&self, tags: impl IntoIterator<Item = Tag>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(tags);
    }

    /// Everything noted, each tag once.
    pub fn take(&self) -> Vec<Tag> {
        let mut tags = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        tags.sort_unstable();
        tags.dedup();
        tags
    }
}
