//! svc-user's schema. Times are unix milliseconds so both backends store them alike.

use kit::db::Migration;

const INITIAL: &[&str] = &[
    "CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        phone TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('voter', 'admin')),
        notification_channel TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        disabled {bool} NOT NULL DEFAULT {false},
        created_at_ms {bigint} NOT NULL,
        updated_at_ms {bigint} NOT NULL
    )",
    "CREATE TABLE refresh_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        family_id TEXT NOT NULL,
        expires_at_ms {bigint} NOT NULL,
        revoked {bool} NOT NULL DEFAULT {false},
        created_at_ms {bigint} NOT NULL
    )",
    "CREATE INDEX refresh_tokens_by_user ON refresh_tokens (user_id)",
    "CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id)",
    "CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        secret_key {blob} NOT NULL,
        created_at_ms {bigint} NOT NULL
    )",
];

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "users, refresh tokens, signing keys",
    statements: INITIAL,
    postgres_only: &[],
}];
