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

/// Verified contacts (issue #10): when each address was proven, and the one pending code per
/// address, kept only as a keyed hash.
const CONTACTS: &[&str] = &[
    "ALTER TABLE users ADD COLUMN email_verified_at_ms {bigint}",
    "ALTER TABLE users ADD COLUMN phone_verified_at_ms {bigint}",
    "CREATE TABLE contact_codes (
        user_id TEXT NOT NULL REFERENCES users (id),
        kind TEXT NOT NULL CHECK (kind IN ('email', 'phone')),
        address TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        expires_at_ms {bigint} NOT NULL,
        tries_left INTEGER NOT NULL,
        created_at_ms {bigint} NOT NULL,
        PRIMARY KEY (user_id, kind)
    )",
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "users, refresh tokens, signing keys",
        statements: INITIAL,
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 2,
        name: "verified contacts and their codes",
        statements: CONTACTS,
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 3,
        name: "outbox",
        statements: &[kit::outbox::TABLE],
        postgres_only: &[],
        sqlite_only: &[],
    },
    kit::outbox::queue_tuning(4),
];
