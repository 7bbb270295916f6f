//! Parsed documents, kept by text: a client sends the same few documents again and again
//! (its generated or persisted operations), and parsing is the largest part of what
//! async-graphql does for a request (a tenth of a home feed's CPU, a sixth of a product
//! page's, measured with perf). A repeated document is cloned from here instead.
//!
//! Only documents that parsed and passed the document limits are kept (see
//! `prepare::check`), so a text found here skips the scan and the limit checks too. An
//! entry is checked against the whole text, so a hash collision costs a parse, never a
//! wrong document. Bounded: past its capacity the cache starts over.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;

/// How many documents are kept.
const CAPACITY: usize = 512;
/// Longest document kept, in bytes: larger ones are rare (introspection) and parsed anew.
const MAX_TEXT: usize = 64 * 1024;

/// A kept document and the text it was parsed from.
type Entry = (Arc<str>, Arc<ExecutableDocument>);

/// Parsed documents by text.
pub struct ParsedDocuments {
    entries: Mutex<HashMap<u64, Entry>>,
    /// Random per process, so texts cannot be chosen to collide.
    hasher: std::hash::RandomState,
}

impl Default for ParsedDocuments {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl ParsedDocuments {
    /// The document of `text`, if it was parsed before.
    pub fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        let key = self.hasher.hash_one(text);
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (known, document) = entries.get(&key)?;
        (**known == *text).then(|| document.clone())
    }

    /// Keeps the parsed `document` of `text`.
    pub fn put(&self, text: &str, document: &ExecutableDocument) {
        if text.len() > MAX_TEXT {
            return;
        }
        let key = self.hasher.hash_one(text);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (text.into(), Arc::new(document.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_kept_by_its_whole_text() {
        let documents = ParsedDocuments::default();
        let text = "{ brands { totalCount } }";
        assert!(documents.get(text).is_none());
        let parsed = async_graphql::parser::parse_query(text).unwrap();
        documents.put(text, &parsed);
        let kept = documents.get(text).expect("kept");
        assert_eq!(format!("{kept:?}"), format!("{parsed:?}"));
        assert!(documents.get("{ brands { totalCount }}").is_none());
    }
}
