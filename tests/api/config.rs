//! The binary's configuration: bad values stop it with a message naming the variable, and
//! `ogrom schema` prints the SDL.

use std::process::Command;

fn ogrom() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ogrom"));
    // Only what a test sets: an operator's OGROM_* variables must not leak in.
    for (key, _) in std::env::vars() {
        if key.starts_with("OGROM_") {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn a_bad_environment_value_names_the_variable_and_exits_non_zero() {
    let output = ogrom()
        .args(["serve"])
        .env("OGROM_MAX_PAGE_SIZE", "lots")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OGROM_MAX_PAGE_SIZE"), "{stderr}");
    assert!(stderr.contains("--max-page-size"), "{stderr}");
}

#[test]
fn values_that_contradict_each_other_are_refused_at_start() {
    let output = ogrom()
        .args([
            "serve",
            "--default-page-size",
            "50",
            "--max-page-size",
            "10",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OGROM_DEFAULT_PAGE_SIZE"), "{stderr}");
}

#[test]
fn a_malformed_database_url_is_refused_without_echoing_it() {
    let output = ogrom()
        .args(["migrate"])
        .env("OGROM_DATABASE_URL", "postgres://user:hunter2@db/x")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OGROM_DATABASE_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the secret leaked: {stderr}");
}

#[test]
fn help_documents_every_setting_with_its_variable() {
    let output = ogrom().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    for variable in [
        "OGROM_LISTEN",
        "OGROM_DATABASE_URL",
        "OGROM_ELASTICSEARCH_URL",
        "OGROM_MAX_PAGE_SIZE",
        "OGROM_REDIS_URL",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
}

#[test]
fn the_schema_subcommand_prints_the_sdl() {
    let output = ogrom().args(["schema"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        ogrom::core::sdl().unwrap()
    );
}

#[test]
fn secrets_never_show_in_a_debug_dump_of_the_configuration() {
    use clap::Parser;
    let cli = ogrom::config::Cli::try_parse_from([
        "ogrom",
        "serve",
        "--partner-api-key",
        "pk-very-secret",
        "--database-url",
        "mysql://u:db-very-secret@127.0.0.1/x",
        "--redis-url",
        "redis://:redis-very-secret@127.0.0.1:6379",
    ])
    .unwrap();
    let dump = format!("{cli:?}");
    assert!(!dump.contains("redis-very-secret"), "{dump}");
    assert!(!dump.contains("pk-very-secret"), "{dump}");
    assert!(!dump.contains("db-very-secret"), "{dump}");
}

#[test]
fn a_redis_url_that_is_not_one_is_refused_without_echoing_it() {
    let output = ogrom()
        .args(["serve"])
        .env("OGROM_REDIS_URL", "http://:hunter2@redis:6379")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("OGROM_REDIS_URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "the secret leaked: {stderr}");
}
