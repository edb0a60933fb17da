//! The elections domain: lifecycle, ballots, rolls and eligibility, independent of the wire.

mod candidates;
mod notifications;
mod rolls;

use std::{collections::HashSet, sync::Arc};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use kit::{bus::Event, ServiceError};
use prost::Message;
use proto_gen::{
    election::v1::{
        AddCandidateRequest, Candidate, CheckEligibilityResponse, CreateElectionRequest, Election,
        ElectionStatus, ImportRollResponse, ListElectionsResponse, ListRollResponse, Question,
        ReorderCandidatesRequest, RollEntry, RollRowError, UpdateCandidateRequest,
        UpdateElectionRequest,
    },
    events::v1::ElectionStatusChanged,
};

use crate::{
    convert::{self, millis},
    questions, roll,
    store::{
        CandidateChange, CandidateRecord, DraftFields, ElectionRecord, ElectionStore, Guard,
        OpeningChecks, Status, StoreError,
    },
    validate::{self, ElectionInput},
    voters::VoterEmails,
};
use kit::time::now_ms;

const MIN_CANDIDATES_TO_OPEN: usize = 2;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;
const DEFAULT_ROLL_PAGE: u32 = 100;
const MAX_ROLL_PAGE: u32 = 1000;

pub struct Elections {
    store: Arc<dyn ElectionStore>,
    roll_limit: usize,
    topics: Topics,
    voters: Arc<dyn VoterEmails>,
    /// k: the fewest entries a roll weight must be shared by not to single ballots out.
    min_weight_group: u64,
}

/// Where svc-candidate's events go.
#[derive(Clone, Debug)]
pub struct Topics {
    /// ElectionStatusChanged.
    pub status: String,
    /// NotificationsRequested (roll invitations and reminders), for svc-notify.
    pub notifications: String,
}

/// Store outcomes in the client's terms; `action` says what was refused.
fn refused(error: StoreError, action: &str) -> ServiceError {
    match error {
        StoreError::NotFound => ServiceError::NotFound("election_id: no such election".into()),
        StoreError::WrongStatus(status) => {
            ServiceError::FailedPrecondition(format!("election is {}; cannot {action}", status.label()))
        }
        StoreError::Stale { current } => ServiceError::Aborted(format!(
            "election changed since it was read; current version is {current}"
        )),
        StoreError::TooFewCandidates(count) => ServiceError::FailedPrecondition(format!(
            "election is DRAFT with {count} candidate(s); at least {MIN_CANDIDATES_TO_OPEN} are needed to open"
        )),
        StoreError::CandidateNotFound => ServiceError::NotFound("candidate_id: no such candidate in this election".into()),
        StoreError::BadOrder => ServiceError::invalid(
            "candidate_ids",
            "must name every candidate of the election exactly once",
        ),
        StoreError::UnknownQuestion => ServiceError::invalid(
            "candidate.question_id",
            "not a question of this election",
        ),
        StoreError::IdentifyingWeights { weights, min } => ServiceError::FailedPrecondition(format!(
            "election is DRAFT and its roll has weights shared by fewer than {min} entries ({}), which would single out those ballots; open with acknowledge_identifying_weights to accept that",
            weights.join(", ")
        )),
        StoreError::NotReady(why) => ServiceError::FailedPrecondition(format!("election is DRAFT and {why}")),
        StoreError::RollEntryNotFound => ServiceError::NotFound("email: not on this election's roll".into()),
        StoreError::Database(error) => ServiceError::internal(error),
    }
}

fn page_limit(requested: u32, default: u32, max: u32) -> Result<u64, ServiceError> {
    match requested {
        0 => Ok(u64::from(default)),
        n if n > max => Err(ServiceError::invalid(
            "page_size",
            format!("must be at most {max}"),
        )),
        n => Ok(u64::from(n)),
    }
}

fn decode_token(token: &str) -> Result<Option<String>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| ServiceError::invalid("page_token", "not a token from this API"))
}

fn encode_token(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text.as_bytes())
}

fn status_event(topic: &str, election: &ElectionRecord) -> Event {
    let event_id = uuid::Uuid::new_v4().to_string();
    let payload = ElectionStatusChanged {
        event_id: event_id.clone(),
        election_id: election.id.clone(),
        status: convert::status_of(election.status) as i32,
        version: election.version as u64,
        occurred_at: Some(convert::timestamp(now_ms())),
    };
    Event {
        id: event_id,
        topic: topic.to_owned(),
        key: election.id.clone(),
        payload: payload.encode_to_vec(),
    }
}

impl Elections {
    pub fn new(
        store: Arc<dyn ElectionStore>,
        roll_limit: usize,
        topics: Topics,
        voters: Arc<dyn VoterEmails>,
        min_weight_group: u64,
    ) -> Self {
        Self {
            store,
            roll_limit,
            topics,
            voters,
            min_weight_group,
        }
    }

    fn event_for(&self) -> crate::store::EventFor {
        let topic = self.topics.status.clone();
        Box::new(move |election| status_event(&topic, election))
    }

    async fn current(&self, election_id: &str) -> Result<ElectionRecord, ServiceError> {
        let id = validate::id("election_id", election_id)?;
        self.store
            .election(&id)
            .await
            .map_err(|e| refused(e, "read it"))?
            .ok_or_else(|| ServiceError::NotFound("election_id: no such election".into()))
    }

    pub async fn create(&self, request: CreateElectionRequest) -> Result<Election, ServiceError> {
        let mut input = request
            .election
            .ok_or_else(|| ServiceError::invalid("election", "required"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let sent = std::mem::take(&mut input.questions);
        let questions = if sent.is_empty() {
            vec![questions::legacy(questions::only(
                &id,
                input.method,
                input.max_choices,
            ))?]
        } else {
            questions::checked(&id, sent, &[])?
        };
        let mut fields = validate::election(
            ElectionInput {
                title: &input.title,
                description: &input.description,
                first_question: &questions[0],
                opens_at: input.opens_at.as_ref(),
                closes_at: input.closes_at.as_ref(),
                results_visibility: input.results_visibility,
                eligibility: input.eligibility,
                remind_before_close: input.remind_before_close.as_ref(),
                ballot_export: input.ballot_export,
            },
            now_ms(),
        )?;
        fields.questions = questions;
        let record = ElectionRecord {
            questions: fields.questions,
            id,
            title: fields.title,
            description: fields.description,
            method: fields.method,
            max_choices: fields.max_choices,
            opens_at_ms: fields.opens_at_ms,
            closes_at_ms: fields.closes_at_ms,
            results_visibility: fields.results_visibility,
            eligibility: fields.eligibility,
            status: Status::Draft,
            version: 1,
            created_at_ms: now_ms(),
            remind_before_close_ms: fields.remind_before_close_ms,
            ballot_export: fields.ballot_export,
        };
        let created = self
            .store
            .create_election(record)
            .await
            .map_err(|e| refused(e, "create it"))?;
        tracing::info!(election_id = %created.id, "election created");
        Ok(convert::election(&created))
    }

    pub async fn get(&self, election_id: &str) -> Result<Election, ServiceError> {
        Ok(convert::election(&self.current(election_id).await?))
    }

    pub async fn list(
        &self,
        page_size: u32,
        page_token: &str,
        status: i32,
    ) -> Result<ListElectionsResponse, ServiceError> {
        let limit = page_limit(page_size, DEFAULT_PAGE, MAX_PAGE)?;
        let status = match ElectionStatus::try_from(status) {
            Ok(ElectionStatus::Unspecified) => None,
            Ok(ElectionStatus::Draft) => Some(Status::Draft),
            Ok(ElectionStatus::Open) => Some(Status::Open),
            Ok(ElectionStatus::Closed) => Some(Status::Closed),
            Ok(ElectionStatus::Archived) => Some(Status::Archived),
            Err(_) => return Err(ServiceError::invalid("status", "unknown status")),
        };
        let after = match decode_token(page_token)? {
            None => None,
            Some(token) => {
                let (created, id) = token
                    .split_once('/')
                    .and_then(|(c, id)| Some((c.parse::<i64>().ok()?, id.to_owned())))
                    .ok_or_else(|| {
                        ServiceError::invalid("page_token", "not a token from this API")
                    })?;
                Some((created, id))
            }
        };
        let mut records = self
            .store
            .list_elections(status, after, limit + 1)
            .await
            .map_err(|e| refused(e, "list"))?;
        let next_page_token = if records.len() as u64 > limit {
            records.truncate(limit as usize);
            records
                .last()
                .map(|r| encode_token(&format!("{}/{}", r.created_at_ms, r.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListElectionsResponse {
            elections: records.iter().map(convert::election).collect(),
            next_page_token,
        })
    }

    pub async fn update(&self, request: UpdateElectionRequest) -> Result<Election, ServiceError> {
        let current = self.current(&request.election_id).await?;
        if current.status != Status::Draft {
            return Err(refused(StoreError::WrongStatus(current.status), "edit it"));
        }
        let guard = match Guard::from_expected(request.expected_version) {
            Guard::Any => Guard::Version(current.version),
            explicit => explicit,
        };
        let stored = convert::election(&current);
        let questions = match request.questions {
            Some(list) => questions::checked(&current.id, list.questions, &current.questions)?,
            None => {
                // The one-question shape edits the first question.
                let mut kept = current.questions.clone();
                let first = kept[0].clone();
                kept[0] = questions::legacy(Question {
                    method: request.method.unwrap_or(first.method),
                    max_choices: request.max_choices.unwrap_or(first.max_choices),
                    ..first
                })?;
                kept
            }
        };
        let merged = Election {
            title: request.title.unwrap_or(stored.title),
            description: request.description.unwrap_or(stored.description),
            opens_at: request.opens_at.or(stored.opens_at),
            closes_at: request.closes_at.or(stored.closes_at),
            results_visibility: request
                .results_visibility
                .unwrap_or(stored.results_visibility),
            eligibility: request.eligibility.unwrap_or(stored.eligibility),
            // A zero duration here clears the stored one (see validate::remind_before_close).
            remind_before_close: request.remind_before_close.or(stored.remind_before_close),
            ballot_export: request.ballot_export.unwrap_or(stored.ballot_export),
            ..Default::default()
        };
        let mut fields: DraftFields = validate::election(
            ElectionInput {
                title: &merged.title,
                description: &merged.description,
                first_question: &questions[0],
                opens_at: merged.opens_at.as_ref(),
                closes_at: merged.closes_at.as_ref(),
                results_visibility: merged.results_visibility,
                eligibility: merged.eligibility,
                remind_before_close: merged.remind_before_close.as_ref(),
                ballot_export: merged.ballot_export,
            },
            now_ms(),
        )?;
        fields.questions = questions;
        let updated = self
            .store
            .update_draft(&current.id, guard, fields)
            .await
            .map_err(|e| refused(e, "edit it"))?;
        Ok(convert::election(&updated))
    }

    /// Moves an election along DRAFT → OPEN → CLOSED → ARCHIVED.
    pub async fn transition(
        &self,
        election_id: &str,
        target: i32,
        expected_version: u64,
        acknowledge_identifying_weights: bool,
    ) -> Result<Election, ServiceError> {
        let current = self.current(election_id).await?;
        let target = ElectionStatus::try_from(target).unwrap_or(ElectionStatus::Unspecified);
        let (from, to, action) = match target {
            ElectionStatus::Open => (Status::Draft, Status::Open, "open it"),
            ElectionStatus::Closed => (Status::Open, Status::Closed, "close it"),
            ElectionStatus::Archived => (Status::Closed, Status::Archived, "archive it"),
            ElectionStatus::Draft | ElectionStatus::Unspecified => {
                return Err(ServiceError::invalid(
                    "target",
                    "must be OPEN, CLOSED or ARCHIVED",
                ))
            }
        };
        if current.status != from {
            return Err(refused(StoreError::WrongStatus(current.status), action));
        }
        if to == Status::Open && current.closes_at_ms <= now_ms() {
            return Err(ServiceError::FailedPrecondition(
                "election is DRAFT and its closes_at has passed; move closes_at first".into(),
            ));
        }
        let guard = Guard::from_expected(expected_version);
        let moved = self
            .apply_transition(
                &current.id,
                from,
                to,
                guard,
                acknowledge_identifying_weights,
            )
            .await
            .map_err(|e| refused(e, action))?;
        Ok(convert::election(&moved))
    }

    /// `acknowledged`: an admin accepts roll weights that single ballots out.
    async fn apply_transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        guard: Guard,
        acknowledged: bool,
    ) -> Result<ElectionRecord, StoreError> {
        let opening = OpeningChecks {
            min_candidates: MIN_CANDIDATES_TO_OPEN,
            min_weight_group: if acknowledged {
                0
            } else {
                self.min_weight_group
            },
        };
        let checks = (to == Status::Open).then_some(opening);
        let moved = self
            .store
            .transition(id, from, to, guard, checks, self.event_for())
            .await?;
        tracing::info!(election_id = %id, from = from.label(), to = to.label(), "election status changed");
        Ok(moved)
    }

    pub async fn extend(
        &self,
        election_id: &str,
        closes_at: Option<&prost_types::Timestamp>,
        expected_version: u64,
    ) -> Result<Election, ServiceError> {
        let current = self.current(election_id).await?;
        if current.status != Status::Open {
            return Err(refused(
                StoreError::WrongStatus(current.status),
                "extend it",
            ));
        }
        let closes_at = closes_at
            .map(millis)
            .ok_or_else(|| ServiceError::invalid("closes_at", "required"))?;
        if closes_at <= current.closes_at_ms || closes_at <= now_ms() {
            return Err(ServiceError::invalid(
                "closes_at",
                "must be later than the current closing time",
            ));
        }
        let extended = self
            .store
            .extend(
                &current.id,
                Guard::from_expected(expected_version),
                closes_at,
                self.event_for(),
            )
            .await
            .map_err(|e| refused(e, "extend it"))?;
        Ok(convert::election(&extended))
    }

    /// Applies every transition whose time has come, and requests the automatic reminder
    /// rounds that are due; returns elections that could not open.
    pub async fn apply_due_transitions(&self) -> Result<Vec<String>, ServiceError> {
        let now = now_ms();
        let mut stuck = Vec::new();
        let store_error = |e| refused(e, "schedule it");
        for id in self.store.due_for_opening(now).await.map_err(store_error)? {
            // Only an admin may accept weights that single ballots out.
            match self
                .apply_transition(&id, Status::Draft, Status::Open, Guard::Any, false)
                .await
            {
                Ok(_) => {}
                Err(
                    StoreError::TooFewCandidates(_)
                    | StoreError::NotReady(_)
                    | StoreError::IdentifyingWeights { .. },
                ) => stuck.push(id),
                // Another replica, or an admin, moved it first.
                Err(StoreError::WrongStatus(_) | StoreError::Stale { .. }) => {}
                Err(error) => return Err(refused(error, "open it")),
            }
        }
        // Before the closings, so a round due in this tick still goes out; a failure here
        // must not hold a closing back.
        if let Err(error) = self.request_due_reminders(now).await {
            tracing::warn!(%error, "automatic reminders failed; retrying next tick");
        }
        for id in self.store.due_for_closing(now).await.map_err(store_error)? {
            match self
                .apply_transition(&id, Status::Open, Status::Closed, Guard::Any, false)
                .await
            {
                Ok(_) | Err(StoreError::WrongStatus(_) | StoreError::Stale { .. }) => {}
                Err(error) => return Err(refused(error, "close it")),
            }
        }
        Ok(stuck)
    }
}
