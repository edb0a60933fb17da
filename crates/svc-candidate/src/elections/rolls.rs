//! Voter rolls (import, listing, removal) and the eligibility svc-voting asks about.

use super::*;

impl Elections {
    /// Adds rows to a DRAFT election's roll; every refused row is reported, good rows stay.
    pub async fn import_roll(
        &self,
        election_id: &str,
        rows: Vec<RollEntry>,
    ) -> Result<ImportRollResponse, ServiceError> {
        let election = self.current(election_id).await?;
        if election.status != Status::Draft {
            return Err(refused(
                StoreError::WrongStatus(election.status),
                "change its roll",
            ));
        }
        let classified = roll::classify(rows, self.roll_limit);
        let mut errors = classified.refused;
        let entries: Vec<(String, i64)> = classified
            .good
            .iter()
            .map(|(_, email, weight)| (email.clone(), *weight))
            .collect();
        let already: HashSet<String> = self
            .store
            .import_roll(&election.id, entries)
            .await
            .map_err(|e| refused(e, "change its roll"))?
            .into_iter()
            .collect();
        let rare: HashSet<i64> = self.rare_weights(&election.id).await?.into_iter().collect();
        let mut accepted = 0u32;
        let mut identifying_weights = Vec::new();
        for (row, email, weight) in classified.good {
            if already.contains(&email) {
                errors.push(RollRowError {
                    row,
                    value: email,
                    reason: "already on the roll".into(),
                });
                continue;
            }
            accepted += 1;
            if rare.contains(&weight) {
                identifying_weights.push(RollRowError {
                    row,
                    value: email,
                    reason: format!(
                        "weight {} is shared by fewer than {} entries of the roll, so its ballots could be told apart",
                        counting::weight::display(weight as u64),
                        self.min_weight_group
                    ),
                });
            }
        }
        errors.sort_by_key(|error| error.row);
        tracing::info!(election_id = %election.id, accepted, refused = errors.len(), identifying = identifying_weights.len(), "roll imported");
        Ok(ImportRollResponse {
            accepted,
            errors,
            identifying_weights,
        })
    }

    /// The roll's weights shared by fewer than k entries; none when everyone weighs the same,
    /// which identifies no one however small the roll (as opening judges it).
    async fn rare_weights(&self, election_id: &str) -> Result<Vec<i64>, ServiceError> {
        let groups = self
            .store
            .roll_weights(election_id)
            .await
            .map_err(|e| refused(e, "read its roll"))?;
        if groups.len() < 2 {
            return Ok(Vec::new());
        }
        Ok(groups
            .into_iter()
            .filter(|(_, entries)| *entries < self.min_weight_group)
            .map(|(weight, _)| weight)
            .collect())
    }

    pub async fn list_roll(
        &self,
        election_id: &str,
        email_contains: String,
        requested: u32,
        page_token: &str,
    ) -> Result<ListRollResponse, ServiceError> {
        let election = self.current(election_id).await?;
        let limit = page_limit(requested, DEFAULT_ROLL_PAGE, MAX_ROLL_PAGE)?;
        let after = decode_token(page_token)?;
        let mut page = self
            .store
            .roll_page(&election.id, Some(email_contains), after, limit + 1)
            .await
            .map_err(|e| refused(e, "list its roll"))?;
        let next_page_token = if page.len() as u64 > limit {
            page.truncate(limit as usize);
            page.last()
                .map(|(e, _)| encode_token(e))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListRollResponse {
            emails: page.iter().map(|(email, _)| email.clone()).collect(),
            next_page_token,
            entries: page
                .into_iter()
                .map(|(email, weight)| RollEntry {
                    email,
                    weight: counting::weight::display(weight as u64),
                })
                .collect(),
        })
    }

    pub async fn count_roll(&self, election_id: &str) -> Result<u64, ServiceError> {
        let election = self.current(election_id).await?;
        self.store
            .roll_count(&election.id)
            .await
            .map_err(|e| refused(e, "count its roll"))
    }

    pub async fn remove_roll_entry(
        &self,
        election_id: &str,
        email: &str,
    ) -> Result<(), ServiceError> {
        let election_id = validate::id("election_id", election_id)?;
        let email = kit::validate::email(email)
            .ok_or_else(|| ServiceError::invalid("email", "not a valid email address"))?;
        self.store
            .remove_roll_entry(&election_id, &email)
            .await
            .map_err(|e| refused(e, "change its roll"))
    }

    /// For svc-voting: may this voter vote here? The voter is named by user id (the email
    /// is looked up only for roll elections) or, by older callers, by email; neither asks
    /// about the election alone. Answers with the ballot so it can be cached.
    pub async fn check_eligibility(
        &self,
        election_id: &str,
        user_id: &str,
        email: &str,
    ) -> Result<CheckEligibilityResponse, ServiceError> {
        let election = self.current(election_id).await?;
        let weight = match election.eligibility.as_str() {
            "roll" => match self.voter_email(user_id, email).await? {
                Some(email) => self
                    .store
                    .on_roll(&election.id, &email)
                    .await
                    .map_err(|e| refused(e, "read its roll"))?,
                None => None,
            },
            _ => Some(counting::ONE as i64),
        };
        let candidates = self.candidates(&election.id).await?;
        Ok(CheckEligibilityResponse {
            eligible: weight.is_some(),
            election: Some(convert::election(&election)),
            candidates,
            weight_millionths: weight.unwrap_or(0).max(0) as u64,
        })
    }

    /// The voter's email, normalised: looked up by user id when one is given.
    async fn voter_email(
        &self,
        user_id: &str,
        email: &str,
    ) -> Result<Option<String>, ServiceError> {
        let email = if user_id.is_empty() {
            Some(email.to_owned())
        } else {
            self.voters.email_of(user_id).await?
        };
        Ok(email.as_deref().and_then(kit::validate::email))
    }
}
