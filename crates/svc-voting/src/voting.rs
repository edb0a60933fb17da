//! Casting ballots: one voter, one vote, decided by the database; the receipt lets a voter
//! check their ballot is recorded without revealing anything else.

use std::{sync::Arc, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use kit::{auth::Caller, bus::Event, ServiceError};
use prost::Message;
use proto_gen::{
    election::v1::ElectionStatus,
    events::v1::VoteRecorded,
    voting::v1::{
        CastBallotRequest, CastBallotResponse, CheckParticipationResponse,
        GetMyParticipationResponse, RecordedCountResponse, VerifyReceiptResponse,
    },
};
use sha2::Sha256;

use crate::{
    ballot::Ballot,
    directory::ElectionDirectory,
    lock::CastLock,
    mix::seal::BallotSeal,
    selection,
    store::{Cast, CastError, VotingStore, MAX_PARTICIPATION_CHECK},
};
use kit::time::{now_ms, timestamp};

/// Topic names for the two events of a cast.
#[derive(Clone, Debug)]
pub struct Topics {
    pub ballots: String,
    pub votes: String,
}

pub struct Voting {
    pub store: Arc<dyn VotingStore>,
    pub lock: Arc<dyn CastLock>,
    pub directory: ElectionDirectory,
    pub receipt_key: Vec<u8>,
    pub topics: Topics,
    pub lock_ttl: Duration,
    /// Test-only: abort the process right after a commit, before anything is published.
    pub crash_after_commit: bool,
    /// Told after each commit, so the relay publishes at once.
    pub outbox_written: Arc<tokio::sync::Notify>,
    /// Seals each ballot at the cast; only the mix opens it.
    pub seal: BallotSeal,
    /// Told after each commit, so the mix releases a batch as soon as one is due.
    pub mix_wake: tokio::sync::Notify,
    /// Asked afresh when a caller arrives unverified: standings are cached for seconds, and
    /// a voter who has just entered their code must not be turned away for that.
    pub users: clients::UserClient,
}

/// Why a caller whose email is not proven may not cast, and what to do about it.
pub const UNVERIFIED_EMAIL: &str =
    "verify your email address before voting: enter the code sent to it (VerifyContact)";

fn millis(t: &prost_types::Timestamp) -> i64 {
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

fn election_id(value: &str) -> Result<String, ServiceError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| ServiceError::invalid("election_id", "not a valid id"))
}

impl Voting {
    fn receipt_hash(&self, code: &str) -> String {
        // Keyed, so a receipt code alone (as in a VoteRecorded event) cannot find its ballot.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.receipt_key).expect("HMAC takes any key length");
        mac.update(code.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether svc-user says now that the caller's email is proven; no answer counts as no.
    async fn proven_now(&self, user_id: &str) -> bool {
        match self.users.get_account_status(user_id).await {
            Ok(status) => status.exists && !status.disabled && status.email_verified,
            Err(error) => {
                tracing::warn!(%error, "cannot confirm the caller's email; refusing the cast");
                false
            }
        }
    }

    pub async fn cast(
        &self,
        caller: &Caller,
        request: CastBallotRequest,
    ) -> Result<CastBallotResponse, ServiceError> {
        let election_id = election_id(&request.election_id)?;
        // Before the election is looked up, the lock taken or anything written: an
        // unproven address may belong to someone else, and one person must not vote as many.
        if !caller.email_verified && !self.proven_now(&caller.user_id).await {
            return Err(ServiceError::FailedPrecondition(UNVERIFIED_EMAIL.into()));
        }
        let view = self.directory.view(&election_id, &caller.user_id).await?;
        let now = now_ms();
        let election = &view.sheet.election;
        let status =
            ElectionStatus::try_from(election.status).unwrap_or(ElectionStatus::Unspecified);
        let closes = election.closes_at.as_ref().map(millis).unwrap_or(0);
        if status != ElectionStatus::Open || now >= closes {
            let label = status.as_str_name().trim_start_matches("ELECTION_STATUS_");
            return Err(ServiceError::FailedPrecondition(format!(
                "election is {label}; it is not accepting ballots"
            )));
        }
        if !view.eligible {
            return Err(ServiceError::PermissionDenied(
                "you are not on this election's voter roll".into(),
            ));
        }
        let ballot = Ballot {
            answers: selection::validate(&view.sheet, &request)?,
            weight: view.weight,
        };
        let padded = view.sheet.padded_len;

        let key = format!("votemesh:cast:{election_id}:{}", caller.user_id);
        let token = match self.lock.acquire(&key, self.lock_ttl).await {
            Ok(Some(token)) => Some(token),
            Ok(None) => {
                // Held: either a cast is in flight, or a finished one left the lock to lapse.
                // The database says which, so a repeat gets the precise answer.
                return Err(
                    match self
                        .store
                        .participation(&election_id, &caller.user_id)
                        .await?
                    {
                        Some(_) => ServiceError::AlreadyExists(
                            "you have already voted in this election".into(),
                        ),
                        None => {
                            ServiceError::Aborted("another ballot of yours is being cast".into())
                        }
                    },
                );
            }
            Err(error) => {
                tracing::warn!(%error, "cast lock unavailable; the database alone decides");
                metrics::counter!("votemesh_cast_lock_fallbacks_total").increment(1);
                None
            }
        };
        let outcome = self
            .record(&election_id, caller, (ballot, padded), now)
            .await;
        // A recorded cast leaves its lock to lapse: a repeat within the TTL is answered from
        // the database, as above, so releasing it would only cost a round trip per ballot.
        // A cast that failed releases it, so the voter may try again at once.
        if let (Some(token), Err(_)) = (token, &outcome) {
            if let Err(error) = self.lock.release(&key, &token).await {
                tracing::warn!(%error, "cast lock release failed; it will lapse");
            }
        }
        outcome
    }

    async fn record(
        &self,
        election_id: &str,
        caller: &Caller,
        (ballot, padded): (Ballot, usize),
        now: i64,
    ) -> Result<CastBallotResponse, ServiceError> {
        let ballot_id = uuid::Uuid::new_v4().to_string();
        let mut code = [0u8; 18];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut code);
        let receipt_code = URL_SAFE_NO_PAD.encode(code);
        let hour = now - now.rem_euclid(3_600_000);
        let vote_event = VoteRecorded {
            event_id: uuid::Uuid::new_v4().to_string(),
            election_id: election_id.to_owned(),
            voter_id: caller.user_id.clone(),
            recorded_at: Some(timestamp(now)),
        };
        let cast = Cast {
            election_id: election_id.to_owned(),
            voter_id: caller.user_id.clone(),
            cast_at_ms: hour,
            receipt_hash: self.receipt_hash(&receipt_code),
            // The ballot leaves sealed; its BallotCast is written when the mix releases it.
            sealed: self
                .seal
                .seal(election_id, &ballot_id, &ballot.to_text(), padded),
            events: vec![Event {
                id: vote_event.event_id.clone(),
                topic: self.topics.votes.clone(),
                key: election_id.to_owned(),
                payload: vote_event.encode_to_vec(),
            }],
        };
        match self.store.cast(cast).await {
            Ok(()) => {}
            Err(CastError::AlreadyVoted) => {
                return Err(ServiceError::AlreadyExists(
                    "you have already voted in this election".into(),
                ))
            }
            Err(CastError::Database(error)) => return Err(ServiceError::internal(error)),
            Err(CastError::Unavailable(reason)) => return Err(ServiceError::Unavailable(reason)),
        }
        if self.crash_after_commit {
            tracing::error!("test fault: aborting after commit, before publish");
            std::process::abort();
        }
        self.outbox_written.notify_one();
        self.mix_wake.notify_one();
        metrics::counter!("votemesh_ballots_cast_total").increment(1);
        Ok(CastBallotResponse {
            ballot_id,
            receipt_code,
            cast_at: Some(timestamp(now)),
        })
    }

    pub async fn participation(
        &self,
        caller: &Caller,
        election: &str,
    ) -> Result<GetMyParticipationResponse, ServiceError> {
        let election_id = election_id(election)?;
        let cast_at = self
            .store
            .participation(&election_id, &caller.user_id)
            .await?;
        Ok(GetMyParticipationResponse {
            voted: cast_at.is_some(),
            cast_at: cast_at.map(timestamp),
        })
    }

    pub async fn verify_receipt(&self, code: &str) -> Result<VerifyReceiptResponse, ServiceError> {
        if code.trim().is_empty() {
            return Err(ServiceError::invalid("receipt_code", "required"));
        }
        let status = self.store.receipt(&self.receipt_hash(code.trim())).await?;
        Ok(VerifyReceiptResponse {
            recorded: status.is_some(),
            counted: status.as_ref().is_some_and(|s| s.counted),
            election_id: status.map(|s| s.election_id).unwrap_or_default(),
        })
    }

    /// For svc-notify's reminders: which of `voter_ids` have voted in the election.
    pub async fn check_participation(
        &self,
        election: &str,
        voter_ids: &[String],
    ) -> Result<CheckParticipationResponse, ServiceError> {
        let election_id = election_id(election)?;
        if voter_ids.len() > MAX_PARTICIPATION_CHECK {
            return Err(ServiceError::invalid(
                "voter_ids",
                format!("at most {MAX_PARTICIPATION_CHECK} per call"),
            ));
        }
        let voted_voter_ids = self.store.voted_among(&election_id, voter_ids).await?;
        Ok(CheckParticipationResponse { voted_voter_ids })
    }

    pub async fn recorded_count(
        &self,
        election: &str,
    ) -> Result<RecordedCountResponse, ServiceError> {
        let recorded = self.store.counts(&election_id(election)?).await?;
        Ok(RecordedCountResponse {
            ballots: recorded.ballots,
            participations: recorded.participations,
            sealed: recorded.sealed,
        })
    }
}
