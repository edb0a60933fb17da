//! What svc-voting needs to know about an election, from svc-candidate: cached briefly per
//! election, and asked per voter (by user id; svc-candidate finds the email) only for
//! elections with a voter roll.

use std::{sync::Arc, time::Duration};

use clients::{question_of, questions_of, ElectionClient};
use kit::{cache::SingleFlight, ServiceError};
use proto_gen::election::v1::{CheckEligibilityResponse, Election, Eligibility};

/// An election as every cast sees it, prepared once per cache fill: its questions, its
/// candidates by question, and the length its sealed ballots are padded to.
pub struct Sheet {
    pub election: Election,
    /// Every candidate as (question id, candidate id), in ballot order.
    pub candidates: Vec<(String, String)>,
    /// The padded length of this election's sealed ballots.
    pub padded_len: usize,
}

impl Sheet {
    fn new(reply: CheckEligibilityResponse) -> Result<Self, ServiceError> {
        let election = reply.election.ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("svc-candidate sent no election"))
        })?;
        let candidates = reply
            .candidates
            .iter()
            .map(|c| (question_of(&election, c).to_owned(), c.candidate_id.clone()))
            .collect();
        let questions = questions_of(&election);
        let mut sheet = Self {
            election: Election {
                questions,
                ..election
            },
            candidates,
            padded_len: 0,
        };
        sheet.padded_len = crate::mix::seal::padded_len(sheet.longest_ballot());
        Ok(sheet)
    }

    /// The candidate ids of one question, in ballot order.
    pub fn candidates_of(&self, question_id: &str) -> Vec<&str> {
        self.candidates
            .iter()
            .filter(|(question, _)| question == question_id)
            .map(|(_, candidate)| candidate.as_str())
            .collect()
    }

    fn longest_ballot(&self) -> usize {
        let shapes: Vec<(String, Vec<String>, u32)> = self
            .election
            .questions
            .iter()
            .map(|q| {
                let ids = self.candidates_of(&q.question_id);
                let ids = ids.iter().map(|c| c.to_string()).collect();
                (q.question_id.clone(), ids, q.max_score)
            })
            .collect();
        crate::ballot::longest_text(&shapes)
    }
}

/// An election as one voter's cast sees it.
#[derive(Clone)]
pub struct BallotView {
    pub sheet: Arc<Sheet>,
    pub eligible: bool,
    /// The voter's weight in millionths: sealed with the ballot, never kept with the voter.
    pub weight: u64,
}

pub struct ElectionDirectory {
    elections: ElectionClient,
    cache: SingleFlight<String, Arc<Sheet>>,
}

impl ElectionDirectory {
    pub fn new(elections: ElectionClient, ttl: Duration) -> Self {
        Self {
            elections,
            cache: SingleFlight::new(ttl),
        }
    }

    /// Forgets what is cached about an election whose status changed.
    pub fn invalidate(&self, election_id: &str) {
        self.cache.invalidate(&election_id.to_owned());
    }

    /// The election itself, as cached.
    pub async fn election(&self, election_id: &str) -> Result<Election, ServiceError> {
        Ok(self.general(election_id).await?.election.clone())
    }

    /// Cached general answer; see [`view`](Self::view).
    async fn general(&self, election_id: &str) -> Result<Arc<Sheet>, ServiceError> {
        self.cache
            .get_or_load(&election_id.to_owned(), || async {
                let reply = self.elections.check_eligibility(election_id, "").await?;
                Ok(Arc::new(Sheet::new(reply)?))
            })
            .await
    }

    pub async fn view(
        &self,
        election_id: &str,
        voter_id: &str,
    ) -> Result<BallotView, ServiceError> {
        let sheet = self.general(election_id).await?;
        let (eligible, weight) = if sheet.election.eligibility == Eligibility::Roll as i32 {
            let answer = self
                .elections
                .check_eligibility(election_id, voter_id)
                .await?;
            // Before weights existed every entry weighed 1.
            let weight = match answer.weight_millionths {
                0 => counting::ONE,
                weight => weight,
            };
            (answer.eligible, weight)
        } else {
            (true, counting::ONE)
        };
        Ok(BallotView {
            sheet,
            eligible,
            weight,
        })
    }
}
