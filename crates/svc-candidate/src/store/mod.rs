//! The election store port, and its sea-orm adapter for PostgreSQL and SQLite.

mod candidates;
mod entities;
mod migrations;
mod notifications;
mod opening;
mod rolls;
mod sea;

use async_trait::async_trait;
use proto_gen::election::v1::Question;

pub use migrations::MIGRATIONS;
pub use sea::SeaElectionStore;

/// Lifecycle status as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Draft,
    Open,
    Closed,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Self {
        match text {
            "open" => Self::Open,
            "closed" => Self::Closed,
            "archived" => Self::Archived,
            _ => Self::Draft,
        }
    }

    /// The name clients see, as in the proto enum.
    pub fn label(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Open => "OPEN",
            Self::Closed => "CLOSED",
            Self::Archived => "ARCHIVED",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionRecord {
    pub id: String,
    pub title: String,
    pub description: String,
    pub method: String,
    pub max_choices: i64,
    pub opens_at_ms: i64,
    pub closes_at_ms: i64,
    pub results_visibility: String,
    pub eligibility: String,
    pub status: Status,
    pub version: i64,
    pub created_at_ms: i64,
    /// How long before closing the automatic reminder round goes out; `None` for never.
    pub remind_before_close_ms: Option<i64>,
    /// `admins` or `public`.
    pub ballot_export: String,
    /// At least one; the first's id is the election's.
    pub questions: Vec<Question>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateRecord {
    pub id: String,
    pub election_id: String,
    pub name: String,
    pub party: String,
    pub description: String,
    pub image_url: String,
    pub ballot_position: i64,
    /// The question it stands in, never empty.
    pub question_id: String,
}

/// Builds the event for a change from the record the change produced, inside its
/// transaction; it goes to the outbox in that transaction.
pub type EventFor = Box<dyn FnOnce(&ElectionRecord) -> kit::bus::Event + Send>;

/// Builds the notification events for an election's whole roll (the election, its emails in
/// order) inside the transaction that read them; they go to the outbox in it.
pub type NotificationsFor =
    Box<dyn FnOnce(&ElectionRecord, &[String]) -> Vec<kit::bus::Event> + Send>;

/// What opening an election checks, in the transaction that opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpeningChecks {
    /// The fewest candidates an election opens with (each question is checked too).
    pub min_candidates: usize,
    /// k: a roll weight shared by fewer entries refuses the opening (0: accepted by an admin).
    pub min_weight_group: u64,
}

/// Optimistic concurrency: write only over the version the caller read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    Any,
    Version(i64),
}

impl Guard {
    /// 0 means "no check", as in the protos.
    pub fn from_expected(expected: u64) -> Self {
        if expected == 0 {
            Self::Any
        } else {
            Self::Version(expected as i64)
        }
    }
}

/// The editable fields of a DRAFT election after an edit, already validated.
#[derive(Clone, Debug)]
pub struct DraftFields {
    pub title: String,
    pub description: String,
    pub method: String,
    pub max_choices: i64,
    pub opens_at_ms: i64,
    pub closes_at_ms: i64,
    pub results_visibility: String,
    pub eligibility: String,
    pub remind_before_close_ms: Option<i64>,
    /// `admins` or `public`.
    pub ballot_export: String,
    /// Checked, with their ids; candidates of questions not among them are removed.
    pub questions: Vec<Question>,
}

/// One change to a DRAFT election's candidates; positions are renumbered 1..n afterwards.
#[derive(Clone, Debug)]
pub enum CandidateChange {
    /// Insert at `ballot_position` (0 or beyond the end appends).
    Add(CandidateRecord),
    /// Replace the candidate with this id; its position is kept.
    Update(CandidateRecord),
    Remove(String),
    /// Every candidate id, in the new order.
    Reorder(Vec<String>),
    /// Removes the candidates of every question not named.
    RetainQuestions(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such election")]
    NotFound,
    #[error("election is {}", .0.label())]
    WrongStatus(Status),
    #[error("election changed since it was read (now version {current})")]
    Stale { current: i64 },
    #[error("election has {0} candidates; at least two are needed to open")]
    TooFewCandidates(usize),
    #[error("no such candidate in this election")]
    CandidateNotFound,
    #[error("candidate_ids must name every candidate of the election exactly once")]
    BadOrder,
    #[error("no such question in this election")]
    UnknownQuestion,
    #[error("{0}")]
    NotReady(String),
    #[error("roll weights {weights:?} are shared by fewer than {min} entries")]
    IdentifyingWeights { weights: Vec<String>, min: u64 },
    #[error("no such roll entry")]
    RollEntryNotFound,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

#[async_trait]
pub trait ElectionStore: Send + Sync {
    async fn create_election(&self, election: ElectionRecord)
        -> Result<ElectionRecord, StoreError>;
    /// Reads from the primary, so a read follows the caller's own writes.
    async fn election(&self, id: &str) -> Result<Option<ElectionRecord>, StoreError>;
    /// Newest first, after the (created_at_ms, id) cursor; served by the read replica.
    async fn list_elections(
        &self,
        status: Option<Status>,
        after: Option<(i64, String)>,
        limit: u64,
    ) -> Result<Vec<ElectionRecord>, StoreError>;
    async fn update_draft(
        &self,
        id: &str,
        guard: Guard,
        fields: DraftFields,
    ) -> Result<ElectionRecord, StoreError>;
    /// Moves `from` to `to`, after `checks` when opening. The event is written with it.
    async fn transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        guard: Guard,
        checks: Option<OpeningChecks>,
        event: EventFor,
    ) -> Result<ElectionRecord, StoreError>;
    async fn extend(
        &self,
        id: &str,
        guard: Guard,
        closes_at_ms: i64,
        event: EventFor,
    ) -> Result<ElectionRecord, StoreError>;

    /// In ballot order; served by the read replica.
    async fn candidates(&self, election_id: &str) -> Result<Vec<CandidateRecord>, StoreError>;
    async fn change_candidates(
        &self,
        election_id: &str,
        guard: Guard,
        change: CandidateChange,
    ) -> Result<(ElectionRecord, Vec<CandidateRecord>), StoreError>;

    /// DRAFT elections whose opening time has come (and closing time has not).
    async fn due_for_opening(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;
    /// OPEN elections whose closing time has come.
    async fn due_for_closing(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;

    /// Adds distinct, normalised emails with their weights (millionths) to a DRAFT
    /// election's roll; returns those already on it.
    async fn import_roll(
        &self,
        election_id: &str,
        entries: Vec<(String, i64)>,
    ) -> Result<Vec<String>, StoreError>;
    /// Emails with their weights, in order.
    async fn roll_page(
        &self,
        election_id: &str,
        email_contains: Option<String>,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<(String, i64)>, StoreError>;
    /// Each weight on the roll with how many entries carry it.
    async fn roll_weights(&self, election_id: &str) -> Result<Vec<(i64, u64)>, StoreError>;
    async fn roll_count(&self, election_id: &str) -> Result<u64, StoreError>;
    async fn remove_roll_entry(&self, election_id: &str, email: &str) -> Result<(), StoreError>;
    /// The entry's weight, when the email is on the roll.
    async fn on_roll(&self, election_id: &str, email: &str) -> Result<Option<i64>, StoreError>;

    /// Reads the election (which must be in one of `allowed`) and its whole roll, and appends
    /// the events `events` makes of them, in one transaction; returns the roll's size.
    async fn notify_roll(
        &self,
        election_id: &str,
        allowed: &[Status],
        events: NotificationsFor,
    ) -> Result<u64, StoreError>;
    /// OPEN roll elections inside their reminder lead time (`closes_at - remind_before_close
    /// <= now < closes_at`) whose automatic reminder round nobody has requested yet.
    async fn due_for_auto_reminder(&self, now_ms: i64) -> Result<Vec<String>, StoreError>;
    /// Marks the election's automatic reminder round requested and does what
    /// [`notify_roll`](Self::notify_roll) does, in one transaction, if it is still OPEN and
    /// unmarked; `None` when it is not (another replica, or an earlier pass, got it).
    async fn claim_auto_reminder(
        &self,
        election_id: &str,
        now_ms: i64,
        events: NotificationsFor,
    ) -> Result<Option<u64>, StoreError>;
}
