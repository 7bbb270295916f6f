//! Run layer, `ogrom schema`: prints the schema of the code (SDL), or, as `schema diff`,
//! compares two schemas and classifies each change for clients ([`diff`]), each read as
//! async-graphql exports it or as graphql-js prints it from introspection (module `sdl`).
//!
//! Stdout is the product and nothing logs; `main` runs this before logging starts. The exit
//! status of `schema diff` is its verdict, so CI gates on it (`scripts/schema-check`): 0 no
//! breaking change, 1 a breaking change, 2 a schema that cannot be read.

mod diff;
mod inputs;
mod members;
mod sdl;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;

pub use diff::{Change, Level, diff};
use sdl::parse;

use crate::config::{SchemaArgs, SchemaCommand, SchemaDiffArgs};
use crate::core;

/// What a run of `ogrom schema` concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Printed the schema, or found no breaking change.
    Compatible,
    /// Found at least one breaking change.
    Breaking,
}

/// Runs `ogrom schema` and turns its verdict into the process exit status.
pub fn main(args: &SchemaArgs) -> ExitCode {
    match run(args) {
        Ok(Verdict::Compatible) => ExitCode::SUCCESS,
        Ok(Verdict::Breaking) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs `ogrom schema`, printing to stdout. An error is a schema that cannot be read.
pub fn run(args: &SchemaArgs) -> anyhow::Result<Verdict> {
    match &args.command {
        None => {
            print!("{}", core::sdl().map_err(anyhow::Error::msg)?);
            Ok(Verdict::Compatible)
        }
        Some(SchemaCommand::Diff(args)) => compare(args),
    }
}

/// Prints one line per change, breaking first, then a summary line.
fn compare(args: &SchemaDiffArgs) -> anyhow::Result<Verdict> {
    let old = parse(&read(&args.old)?, &args.old.display().to_string())?;
    let new = match &args.new {
        Some(path) => parse(&read(path)?, &path.display().to_string())?,
        None => parse(
            &core::sdl().map_err(anyhow::Error::msg)?,
            "the schema of the code",
        )?,
    };
    let changes = diff(&old, &new);
    for change in &changes {
        println!("{change}");
    }
    println!("{}", summary(&changes));
    let breaking = changes.iter().any(|change| change.level == Level::Breaking);
    Ok(if breaking {
        Verdict::Breaking
    } else {
        Verdict::Compatible
    })
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `3 changes: 1 breaking, 1 dangerous, 1 safe`, or `no changes`.
fn summary(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "no changes".to_owned();
    }
    let count = |level| {
        changes
            .iter()
            .filter(|change| change.level == level)
            .count()
    };
    format!(
        "{} change{}: {} breaking, {} dangerous, {} safe",
        changes.len(),
        if changes.len() == 1 { "" } else { "s" },
        count(Level::Breaking),
        count(Level::Dangerous),
        count(Level::Safe),
    )
}
