//! `ogrom index`: builds a new versioned products index from MySQL and moves the search
//! alias to it atomically.

use crate::config::IndexArgs;

/// Runs the subcommand.
pub async fn run(_args: &IndexArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
