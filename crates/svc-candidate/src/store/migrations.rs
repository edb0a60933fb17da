//! svc-candidate's schema. Times are unix milliseconds so both backends store them alike.

use kit::db::Migration;

const INITIAL: &[&str] = &[
    "CREATE TABLE elections (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL,
        method TEXT NOT NULL,
        max_choices {bigint} NOT NULL,
        opens_at_ms {bigint} NOT NULL,
        closes_at_ms {bigint} NOT NULL,
        results_visibility TEXT NOT NULL,
        eligibility TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('draft', 'open', 'closed', 'archived')),
        version {bigint} NOT NULL,
        created_at_ms {bigint} NOT NULL,
        updated_at_ms {bigint} NOT NULL
    )",
    "CREATE INDEX elections_due ON elections (status, opens_at_ms, closes_at_ms)",
    "CREATE INDEX elections_by_age ON elections (created_at_ms DESC, id DESC)",
    "CREATE TABLE candidates (
        id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL REFERENCES elections (id),
        name TEXT NOT NULL,
        party TEXT NOT NULL,
        description TEXT NOT NULL,
        image_url TEXT NOT NULL,
        ballot_position {bigint} NOT NULL
    )",
    "CREATE INDEX candidates_by_election ON candidates (election_id, ballot_position)",
    "CREATE TABLE roll_entries (
        election_id TEXT NOT NULL REFERENCES elections (id),
        email TEXT NOT NULL,
        PRIMARY KEY (election_id, email)
    )",
    kit::outbox::TABLE,
    // Superseded by version 2's `outbox_waiting` on the same rows; version 3 drops it.
    "CREATE INDEX outbox_unpublished ON outbox (created_at_ms) WHERE published_at_ms IS NULL",
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "elections, candidates, voter rolls, outbox",
        statements: INITIAL,
        postgres_only: &[],
        sqlite_only: &[],
    },
    kit::outbox::queue_tuning(2),
    Migration {
        version: 3,
        name: "drop outbox_unpublished, a duplicate of outbox_waiting",
        statements: &["DROP INDEX IF EXISTS outbox_unpublished"],
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 4,
        name: "automatic reminders before closing",
        statements: &[
            // NULL: no automatic reminder.
            "ALTER TABLE elections ADD COLUMN remind_before_close_ms {bigint}",
            // Set, once, by whoever requested the automatic reminder round.
            "ALTER TABLE elections ADD COLUMN auto_reminder_requested_at_ms {bigint}",
        ],
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 5,
        name: "who may export the ballots",
        statements: &[
            "ALTER TABLE elections ADD COLUMN ballot_export TEXT NOT NULL DEFAULT 'admins'",
        ],
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 6,
        name: "questions, candidates per question, weighted roll entries",
        statements: &[
            // An encoded QuestionList; NULL for an election from before questions, whose one
            // question is its method and max_choices.
            "ALTER TABLE elections ADD COLUMN questions {blob}",
            // Empty for a candidate from before questions: the election's first question.
            "ALTER TABLE candidates ADD COLUMN question_id TEXT NOT NULL DEFAULT ''",
            // Millionths of a vote.
            "ALTER TABLE roll_entries ADD COLUMN weight {bigint} NOT NULL DEFAULT 1000000",
        ],
        postgres_only: &[],
        sqlite_only: &[],
    },
];
