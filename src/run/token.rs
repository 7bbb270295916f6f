//! `ogrom token`: mints a development token for a user.

use crate::config::TokenArgs;

/// Runs the subcommand.
pub async fn run(_args: &TokenArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
