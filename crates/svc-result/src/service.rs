//! The results domain: snapshots after each applied batch, reads under the visibility rule,
//! recounts and audits.

use std::sync::Arc;

use clients::VotingClient;
use kit::{auth::Caller, ServiceError};
use proto_gen::{
    election::v1::{ElectionStatus, ResultsVisibility},
    result::v1::{AuditResponse, GetResultsResponse, RecountResponse},
};

use crate::{
    cache::ResultCache,
    elections::{ElectionDirectory, ElectionInfo},
    results,
    store::{ResultStore, Stored},
};

pub struct Results {
    pub store: Arc<dyn ResultStore>,
    pub cache: Arc<dyn ResultCache>,
    pub directory: ElectionDirectory,
    pub voting: VotingClient,
}

pub fn election_id(value: &str) -> Result<String, ServiceError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| ServiceError::invalid("election_id", "not a valid id"))
}

/// Whether `caller` may see the results of this election now.
pub fn check_visible(caller: &Caller, info: &ElectionInfo) -> Result<(), ServiceError> {
    if caller.is_admin() {
        return Ok(());
    }
    let status =
        ElectionStatus::try_from(info.election.status).unwrap_or(ElectionStatus::Unspecified);
    let live = info.election.results_visibility == ResultsVisibility::Live as i32;
    match status {
        ElectionStatus::Closed | ElectionStatus::Archived => Ok(()),
        ElectionStatus::Open if live => Ok(()),
        ElectionStatus::Open => Err(ServiceError::FailedPrecondition(
            "results of this election are published when it closes".into(),
        )),
        _ => Err(ServiceError::FailedPrecondition(
            "this election has not opened; there are no results".into(),
        )),
    }
}

impl Results {
    /// Recomputes an election's snapshot from the database and stores and announces it.
    pub async fn refresh(&self, election_id: &str) -> Result<GetResultsResponse, ServiceError> {
        let counts = self.store.stored(election_id).await?;
        self.show(election_id, &counts).await
    }

    /// The snapshot of an election's `counts`, stored and announced.
    pub async fn show(
        &self,
        election_id: &str,
        counts: &Stored,
    ) -> Result<GetResultsResponse, ServiceError> {
        let info = self.directory.get(election_id).await?;
        let snapshot = results::compute(&info.election, &info.candidates, counts);
        if let Err(error) = self.cache.put(&snapshot).await {
            tracing::warn!(%error, "results cache not updated; reads fall back to the database");
        }
        Ok(snapshot)
    }

    /// The snapshot from the cache, or from the database when the cache has none.
    pub async fn snapshot(&self, election_id: &str) -> Result<GetResultsResponse, ServiceError> {
        match self.cache.get(election_id).await {
            Ok(Some(snapshot)) => return Ok(snapshot),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "results cache unavailable; reading the database"),
        }
        self.refresh(election_id).await
    }

    pub async fn get(
        &self,
        caller: &Caller,
        election: &str,
    ) -> Result<GetResultsResponse, ServiceError> {
        let election_id = election_id(election)?;
        check_visible(caller, &self.directory.get(&election_id).await?)?;
        self.snapshot(&election_id).await
    }

    pub async fn recount(&self, election: &str) -> Result<RecountResponse, ServiceError> {
        let election_id = election_id(election)?;
        let info = self.directory.get(&election_id).await?;
        let live = self.store.stored(&election_id).await?;
        let recounted = results::recount(&live);
        let differences = results::differences(&live, &recounted);
        Ok(RecountResponse {
            matches: differences.is_empty(),
            recounted: Some(results::compute(
                &info.election,
                &info.candidates,
                &recounted,
            )),
            differences,
        })
    }

    /// Compares svc-voting's recorded ballots with the ballots counted here. svc-voting is
    /// asked for the caller, and applies its own admin rule to them.
    pub async fn audit(
        &self,
        caller: &Caller,
        election: &str,
    ) -> Result<AuditResponse, ServiceError> {
        let election_id = election_id(election)?;
        let recorded = self.voting.recorded_count(caller, &election_id).await?;
        let counted = self.store.counted(&election_id).await?;
        let total = self.store.stored(&election_id).await?.total;
        Ok(AuditResponse {
            recorded,
            counted,
            matches: recorded == counted && counted == total,
        })
    }
}
