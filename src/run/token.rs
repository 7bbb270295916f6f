//! Run layer, `ogrom token`: mints a development token for a user, so that GraphiQL users
//! can act as someone. Needs the HS256 secret the gateway checks tokens with.
//!
//! The token alone goes to stdout, so that `TOKEN=$(ogrom token --user ada)` works; the
//! hint for people goes to stderr. Nothing here logs: the log writes to stdout too.

use secrecy::ExposeSecret;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::ConnectOptions as _;
use sqlx::mysql::MySqlPoolOptions;

use crate::config::TokenArgs;
use crate::sources::auth::mint_hs256;

/// Runs the subcommand.
pub(super) async fn run(args: &TokenArgs) -> anyhow::Result<()> {
    let secret = args.auth.jwt_hs256_secret.as_ref().context(
        "no HS256 secret: set OGROM_JWT_HS256_SECRET (or --jwt-hs256-secret) to the secret \
         the gateway checks tokens with",
    )?;
    let id = user_id(args).await?;
    let ttl = Duration::from_secs(args.ttl_s);
    let token = mint_hs256(
        secret.expose_secret(),
        &args.auth.jwt_issuer,
        &args.auth.jwt_audience,
        id,
        &args.user,
        ttl,
    )?;
    println!("{token}");
    eprintln!(
        "A token for {} (user {id}), valid for {} s. In GraphiQL, put in the Headers tab:\n  \
         {{\"Authorization\": \"Bearer <the token above>\"}}",
        args.user, args.ttl_s
    );
    Ok(())
}

async fn user_id(args: &TokenArgs) -> anyhow::Result<i32> {
    // Statement logging off: with a debug log filter, log lines would land on stdout next
    // to the token.
    let options = args
        .database
        .database_url
        .0
        .clone()
        .disable_statement_logging();
    let pool = MySqlPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("cannot connect to MySQL (OGROM_DATABASE_URL)")?;
    let id: Option<i32> = sqlx::query_scalar("SELECT id FROM users WHERE username = ?")
        .bind(&args.user)
        .fetch_optional(&pool)
        .await
        .context("cannot look the user up: has `ogrom migrate` run?")?;
    pool.close().await;
    id.with_context(|| format!("there is no user named {:?}", args.user))
}
