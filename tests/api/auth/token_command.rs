//! `ogrom token`, run as a binary against the fixture database: the token it prints is
//! accepted by the HS256 check and names the user SQL finds; without a secret or for an
//! unknown user it fails and says why.

use std::process::Command;

use ogrom::protocols::auth::{Authenticator, ViewerId};

use super::{SECRET, authenticator};
use crate::helpers::{database_url, fixture_database, sql};

/// The binary, with only the OGROM_* variables a test sets.
fn ogrom() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ogrom"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OGROM_") {
            command.env_remove(key);
        }
    }
    command
}

#[tokio::test]
async fn ogrom_token_prints_a_token_the_hs256_check_accepts() {
    let database = fixture_database();
    let (id, username): (i32, String) =
        sqlx::query_as("SELECT id, username FROM users ORDER BY id LIMIT 1 OFFSET 2")
            .fetch_one(&sql(database).await)
            .await
            .unwrap();
    let output = ogrom()
        .args(["token", "--user", &username])
        .env("OGROM_DATABASE_URL", database_url(database))
        .env("OGROM_JWT_HS256_SECRET", SECRET)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        1,
        "stdout holds the token alone: {stdout}"
    );
    assert!(stderr.contains(r#""Authorization": "Bearer "#), "{stderr}");
    let hs256_only = authenticator(&["--jwt-hs256-secret", SECRET]);
    assert_eq!(
        hs256_only.authenticate(stdout.trim()).await,
        Ok(ViewerId(id))
    );
}

fn looks_like_a_token(line: &str) -> bool {
    let parts: Vec<&str> = line.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[test]
fn ogrom_token_without_a_secret_or_for_a_stranger_fails_saying_why() {
    let output = ogrom()
        .args(["token", "--user", "anyone"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("OGROM_JWT_HS256_SECRET"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.lines().any(looks_like_a_token), "{stdout}");

    let database = fixture_database();
    let output = ogrom()
        .args(["token", "--user", "no-such-user-here"])
        .env("OGROM_DATABASE_URL", database_url(database))
        .env("OGROM_JWT_HS256_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("no-such-user-here"), "{stderr}");
}
