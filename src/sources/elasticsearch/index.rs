//! Index lifecycle: create a versioned index, bulk-load it, move the alias, drop old
//! versions.
