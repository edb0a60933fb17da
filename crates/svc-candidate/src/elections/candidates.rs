//! Candidates of an election: added, changed, removed and reordered while it is a draft.

use super::*;

impl Elections {
    fn candidate_record(
        election_id: &str,
        id: String,
        input: &Candidate,
    ) -> Result<CandidateRecord, ServiceError> {
        let question_id = match input.question_id.trim() {
            "" => election_id.to_owned(),
            question => question.to_owned(),
        };
        Ok(CandidateRecord {
            question_id,
            id,
            election_id: election_id.to_owned(),
            name: validate::text("candidate.name", &input.name, 1, 200)?,
            party: validate::text("candidate.party", &input.party, 0, 200)?,
            description: validate::text("candidate.description", &input.description, 0, 2000)?,
            image_url: validate::image_url("candidate.image_url", &input.image_url)?,
            ballot_position: i64::from(input.ballot_position),
        })
    }

    async fn change(
        &self,
        election_id: &str,
        expected_version: u64,
        change: CandidateChange,
    ) -> Result<(ElectionRecord, Vec<CandidateRecord>), ServiceError> {
        self.store
            .change_candidates(election_id, Guard::from_expected(expected_version), change)
            .await
            .map_err(|e| {
                refused(
                    e,
                    "change its candidates; the ballot is frozen once the election opens",
                )
            })
    }

    pub async fn add_candidate(
        &self,
        request: AddCandidateRequest,
    ) -> Result<(Candidate, u64), ServiceError> {
        let election_id = validate::id("election_id", &request.election_id)?;
        let input = request
            .candidate
            .ok_or_else(|| ServiceError::invalid("candidate", "required"))?;
        let id = uuid::Uuid::new_v4().to_string();
        let record = Self::candidate_record(&election_id, id.clone(), &input)?;
        let (election, list) = self
            .change(
                &election_id,
                request.expected_version,
                CandidateChange::Add(record),
            )
            .await?;
        let added = list
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("added candidate vanished")))?;
        Ok((convert::candidate(added), election.version as u64))
    }

    pub async fn update_candidate(
        &self,
        request: UpdateCandidateRequest,
    ) -> Result<(Candidate, u64), ServiceError> {
        let election_id = validate::id("election_id", &request.election_id)?;
        let candidate_id = validate::id("candidate_id", &request.candidate_id)?;
        let current = self
            .store
            .candidates(&election_id)
            .await
            .map_err(|e| refused(e, "read its candidates"))?
            .into_iter()
            .find(|c| c.id == candidate_id)
            .ok_or_else(|| refused(StoreError::CandidateNotFound, ""))?;
        let merged = Candidate {
            name: request.name.unwrap_or(current.name),
            party: request.party.unwrap_or(current.party),
            description: request.description.unwrap_or(current.description),
            image_url: request.image_url.unwrap_or(current.image_url),
            question_id: current.question_id,
            ..Default::default()
        };
        let record = Self::candidate_record(&election_id, candidate_id.clone(), &merged)?;
        let (election, list) = self
            .change(
                &election_id,
                request.expected_version,
                CandidateChange::Update(record),
            )
            .await?;
        let updated = list
            .iter()
            .find(|c| c.id == candidate_id)
            .ok_or_else(|| refused(StoreError::CandidateNotFound, ""))?;
        Ok((convert::candidate(updated), election.version as u64))
    }

    pub async fn remove_candidate(
        &self,
        election_id: &str,
        candidate_id: &str,
        expected_version: u64,
    ) -> Result<u64, ServiceError> {
        let election_id = validate::id("election_id", election_id)?;
        let candidate_id = validate::id("candidate_id", candidate_id)?;
        let (election, _) = self
            .change(
                &election_id,
                expected_version,
                CandidateChange::Remove(candidate_id),
            )
            .await?;
        Ok(election.version as u64)
    }

    pub async fn reorder(
        &self,
        request: ReorderCandidatesRequest,
    ) -> Result<(Vec<Candidate>, u64), ServiceError> {
        let election_id = validate::id("election_id", &request.election_id)?;
        let (election, list) = self
            .change(
                &election_id,
                request.expected_version,
                CandidateChange::Reorder(request.candidate_ids),
            )
            .await?;
        Ok((
            list.iter().map(convert::candidate).collect(),
            election.version as u64,
        ))
    }

    pub async fn candidates(&self, election_id: &str) -> Result<Vec<Candidate>, ServiceError> {
        let election = self.current(election_id).await?;
        let list = self
            .store
            .candidates(&election.id)
            .await
            .map_err(|e| refused(e, "read its candidates"))?;
        Ok(list.iter().map(convert::candidate).collect())
    }
}
