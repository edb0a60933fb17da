//! svc-voting's schema, version by version.

use kit::db::Migration;

const INITIAL: &[&str] = &[
    "CREATE TABLE participations (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms {bigint} NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    )",
    "CREATE TABLE ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    )",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
    kit::outbox::TABLE,
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "participations, ballots, outbox",
        statements: INITIAL,
        postgres_only: &[],
        sqlite_only: &[],
    },
    kit::outbox::queue_tuning(2),
    Migration {
        version: 3,
        name: "voter and ballot tables keyed, without rowid",
        statements: &[],
        postgres_only: &[],
        sqlite_only: KEYED_ON_SQLITE,
    },
    Migration {
        version: 4,
        name: "the mix: sealed ballots and receipts apart from ballots",
        statements: MIX,
        postgres_only: &["ALTER TABLE ballots DROP COLUMN receipt_hash"],
        sqlite_only: BALLOTS_WITHOUT_RECEIPTS_ON_SQLITE,
    },
];

/// On SQLite a table's rowid counts insertions, so ordering participations and ballots by it
/// would pair them at low traffic. Keyed `WITHOUT ROWID`, each table is stored in the order
/// of its primary key: voters by id, ballots by their random id.
const KEYED_ON_SQLITE: &[&str] = &[
    "CREATE TABLE participations_keyed (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms INTEGER NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    ) WITHOUT ROWID",
    "INSERT INTO participations_keyed SELECT election_id, voter_id, cast_at_ms FROM participations",
    "DROP TABLE participations",
    "ALTER TABLE participations_keyed RENAME TO participations",
    "CREATE TABLE ballots_keyed (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    ) WITHOUT ROWID",
    "INSERT INTO ballots_keyed SELECT ballot_id, election_id, selection, receipt_hash FROM ballots",
    "DROP TABLE ballots",
    "ALTER TABLE ballots_keyed RENAME TO ballots",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
];

/// A cast writes its receipt and its sealed ballot beside its participation; the mix later
/// moves sealed ballots into `ballots` in shuffled batches, in transactions of its own. The
/// receipts of ballots cast before the mix move over, so they still verify.
const MIX: &[&str] = &[
    "CREATE TABLE receipts (
        receipt_hash TEXT PRIMARY KEY,
        election_id TEXT NOT NULL
    ) {keyed}",
    "CREATE INDEX receipts_by_election ON receipts (election_id)",
    "CREATE TABLE sealed_ballots (
        receipt_hash TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        sealed {blob} NOT NULL
    ) {keyed}",
    "CREATE INDEX sealed_ballots_by_election ON sealed_ballots (election_id)",
    "INSERT INTO receipts (receipt_hash, election_id) SELECT receipt_hash, election_id FROM ballots",
];

/// SQLite rebuilds `ballots` without the receipt hash, still keyed by the random ballot id.
const BALLOTS_WITHOUT_RECEIPTS_ON_SQLITE: &[&str] = &[
    "CREATE TABLE ballots_mixed (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL
    ) WITHOUT ROWID",
    "INSERT INTO ballots_mixed SELECT ballot_id, election_id, selection FROM ballots",
    "DROP TABLE ballots",
    "ALTER TABLE ballots_mixed RENAME TO ballots",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
];
