//! The results domain: snapshots published in steps of at least k ballots, reads under the
//! visibility rule, recounts and audits.
//!
//! While an election is open, results move only when at least k (`--mix-min-batch`) more
//! ballots are counted than the published results hold, so no reader (a voter watching live
//! results, or an admin) sees a single ballot arrive. The published results live in the
//! database, so every replica and a restart keep to the same steps; at the close everything
//! counted is shown.

use std::sync::Arc;

use clients::VotingClient;
use kit::{auth::Caller, ServiceError};
use prost::Message;
use proto_gen::{
    election::v1::{BallotExport, ElectionStatus, ResultsVisibility},
    result::v1::{
        AuditResponse, BallotExportFormat, ExportBallotsResponse, ExportResultsResponse,
        GetResultsResponse, RecountResponse, ResultsExportFormat,
    },
};

use crate::{
    cache::ResultCache,
    elections::{ElectionDirectory, ElectionInfo},
    exports, results,
    store::{ResultStore, Stored},
};

pub struct Results {
    pub store: Arc<dyn ResultStore>,
    pub cache: Arc<dyn ResultCache>,
    pub directory: ElectionDirectory,
    pub voting: VotingClient,
    /// k: the fewest ballots by which open results move.
    pub min_step: u64,
    /// Per election, a number of ballots its published results hold at least (they only
    /// grow), so a batch that cannot make a step skips reading the database.
    pub published_at_least: std::sync::Mutex<std::collections::HashMap<String, u64>>,
    /// Per closed election, when this instance last made sure its published results hold
    /// every counted ballot.
    pub final_checks: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// How often a read of a closed election's results checks them against the counts.
const FINAL_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the election has stopped taking ballots, so its results may show every one.
fn finished(info: &ElectionInfo) -> bool {
    let status =
        ElectionStatus::try_from(info.election.status).unwrap_or(ElectionStatus::Unspecified);
    matches!(status, ElectionStatus::Closed | ElectionStatus::Archived)
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
    /// The results to show from the counts in the database (after a cache miss).
    pub async fn refresh(&self, election_id: &str) -> Result<GetResultsResponse, ServiceError> {
        let counts = self.store.stored(election_id).await?;
        self.show(election_id, &counts, false).await
    }

    /// The results to show now that `counts` are counted: published anew (stored, cached and
    /// announced) when they are a step of at least k past the published ones, or the
    /// election is closing; otherwise the published ones, unchanged.
    pub async fn show(
        &self,
        election_id: &str,
        counts: &Stored,
        closing: bool,
    ) -> Result<GetResultsResponse, ServiceError> {
        let info = self.directory.get(election_id).await?;
        let finishing = closing || finished(&info);
        let last = self.published(election_id).await?;
        let shown = last.as_ref().map_or(0, |(ballots, _)| *ballots);
        let due = if finishing {
            last.is_none() || counts.total != shown
        } else {
            counts.total >= shown + self.min_step
        };
        // The first publication and the close may move by less than k; nothing else may.
        let min_step = if finishing || last.is_none() {
            0
        } else {
            self.min_step
        };
        let (ballots, snapshot) = match last {
            Some(last) if !due => return Ok(last.1),
            // Nothing published yet and no step due: results with no ballots.
            None if !due => (0, Stored::default()),
            _ => (counts.total, counts.clone()),
        };
        let snapshot = results::compute(&info.election, &info.candidates, &snapshot);
        let encoded = snapshot.encode_to_vec();
        if !self
            .store
            .publish(election_id, ballots, &encoded, min_step)
            .await?
        {
            // Another publication got there first: show the one that won.
            return match self.published(election_id).await? {
                Some((_, published)) => Ok(published),
                None => Ok(snapshot),
            };
        }
        self.remember_published(election_id, ballots);
        if let Err(error) = self.cache.put(&snapshot).await {
            tracing::warn!(%error, "results cache not updated; reads fall back to the database");
        }
        Ok(snapshot)
    }

    /// [`Results::show`] for the counter, which needs no answer: a batch that cannot make a
    /// step while the election is open (as far as this instance knows) reads nothing.
    pub async fn advance(
        &self,
        election_id: &str,
        counts: &Stored,
        closing: bool,
    ) -> Result<(), ServiceError> {
        let known = self.known_published(election_id);
        if !closing && known.is_some_and(|known| counts.total < known + self.min_step) {
            let info = self.directory.get(election_id).await?;
            if !finished(&info) {
                return Ok(());
            }
        }
        self.show(election_id, counts, closing).await.map(drop)
    }

    /// Whether a closed election's results are due for a check against the counts. The
    /// last ballots may have been counted before the election closed without making a step
    /// of k, and then no ballot arrives to publish them: a read does, at most once a second.
    async fn final_check_due(&self, election_id: &str) -> bool {
        let Ok(info) = self.directory.get(election_id).await else {
            return false;
        };
        if !finished(&info) {
            return false;
        }
        let Ok(mut checks) = self.final_checks.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        match checks.get(election_id) {
            Some(last) if now.duration_since(*last) < FINAL_CHECK => false,
            _ => {
                checks.insert(election_id.to_owned(), now);
                true
            }
        }
    }

    fn known_published(&self, election_id: &str) -> Option<u64> {
        let known = self.published_at_least.lock().ok()?;
        known.get(election_id).copied()
    }

    fn remember_published(&self, election_id: &str, ballots: u64) {
        if let Ok(mut known) = self.published_at_least.lock() {
            let at_least = known.entry(election_id.to_owned()).or_default();
            *at_least = (*at_least).max(ballots);
        }
    }

    /// The published results and how many ballots they hold.
    async fn published(
        &self,
        election_id: &str,
    ) -> Result<Option<(u64, GetResultsResponse)>, ServiceError> {
        let Some((ballots, raw)) = self.store.published(election_id).await? else {
            return Ok(None);
        };
        self.remember_published(election_id, ballots);
        let snapshot = GetResultsResponse::decode(raw.as_slice()).map_err(|error| {
            ServiceError::internal(anyhow::anyhow!("published results: {error}"))
        })?;
        Ok(Some((ballots, snapshot)))
    }

    /// The snapshot from the cache; when the cache has none, the published results as the
    /// read replica has them (results only grow, so a replica a moment behind shows a step
    /// the counter has already passed, never a wrong one), and only when nothing is
    /// published yet, a count on the primary.
    pub async fn snapshot(&self, election_id: &str) -> Result<GetResultsResponse, ServiceError> {
        let cached = match self.cache.get(election_id).await {
            Ok(cached) => cached,
            Err(error) => {
                tracing::warn!(%error, "results cache unavailable; reading the database");
                None
            }
        };
        if self.final_check_due(election_id).await {
            return self.refresh(election_id).await;
        }
        if let Some(snapshot) = cached {
            return Ok(snapshot);
        }
        match self.store.published_for_readers(election_id).await? {
            Some((_, raw)) => GetResultsResponse::decode(raw.as_slice()).map_err(|error| {
                ServiceError::internal(anyhow::anyhow!("published results: {error}"))
            }),
            None => self.refresh(election_id).await,
        }
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

    /// Recounts from the ballot profile. While the election is open the recount is shown
    /// as the published results are, so a recount reveals no ballot between steps either.
    pub async fn recount(&self, election: &str) -> Result<RecountResponse, ServiceError> {
        let election_id = election_id(election)?;
        let info = self.directory.get(&election_id).await?;
        let live = self.store.stored(&election_id).await?;
        let recounted = results::recount(&live);
        let differences = results::differences(&live, &recounted);
        let shown = if finished(&info) {
            results::compute(&info.election, &info.candidates, &recounted)
        } else {
            self.show(&election_id, &live, false).await?
        };
        Ok(RecountResponse {
            matches: differences.is_empty(),
            recounted: Some(shown),
            differences,
        })
    }

    /// Compares svc-voting's recorded ballots with the ballots counted here plus those still
    /// sealed in its mix. svc-voting is asked for the caller, and applies its own admin rule
    /// to them.
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
            recorded: recorded.ballots,
            counted,
            sealed: recorded.sealed,
            matches: recorded.ballots == counted + recorded.sealed && counted == total,
        })
    }

    /// The results as a file, under the same visibility rule as [`Results::get`].
    pub async fn export_results(
        &self,
        caller: &Caller,
        election: &str,
        format: i32,
    ) -> Result<ExportResultsResponse, ServiceError> {
        let format = ResultsExportFormat::try_from(format).unwrap_or_default();
        if format == ResultsExportFormat::Unspecified {
            return Err(ServiceError::invalid(
                "format",
                "RESULTS_EXPORT_FORMAT_JSON or _CSV",
            ));
        }
        let shown = self.get(caller, election).await?;
        let info = self.directory.get(&shown.election_id).await?;
        let (media_type, extension, content) = match format {
            ResultsExportFormat::Csv => ("text/csv", "csv", exports::results_csv(&info, &shown)),
            _ => (
                "application/json",
                "json",
                exports::results_json(&info, &shown),
            ),
        };
        Ok(ExportResultsResponse {
            media_type: media_type.into(),
            file_name: format!("results-{}.{extension}", shown.election_id),
            content,
        })
    }

    /// The counted ballots as a file, once the election has closed: before, they would show
    /// ballots the published results do not.
    pub async fn export_ballots(
        &self,
        caller: &Caller,
        election: &str,
        question_id: &str,
        format: i32,
    ) -> Result<ExportBallotsResponse, ServiceError> {
        let election_id = election_id(election)?;
        let format = BallotExportFormat::try_from(format).unwrap_or_default();
        if format == BallotExportFormat::Unspecified {
            return Err(ServiceError::invalid(
                "format",
                "BALLOT_EXPORT_FORMAT_ABIF or _BLT",
            ));
        }
        let info = self.directory.fresh(&election_id).await?;
        let public = info.election.ballot_export == BallotExport::Public as i32;
        if !caller.is_admin() && !public {
            return Err(ServiceError::PermissionDenied(
                "this election's ballots are exported to admins only".into(),
            ));
        }
        if !finished(&info) {
            return Err(ServiceError::FailedPrecondition(
                "ballots are exported once the election has closed".into(),
            ));
        }
        let question = exports::QuestionFile::of(&info, question_id).ok_or_else(|| {
            ServiceError::invalid("question_id", "not a question of this election")
        })?;
        let profile = self.store.stored(&election_id).await?.profile;
        let (extension, content) = match format {
            BallotExportFormat::Blt => ("blt", exports::blt(&question, &profile)),
            _ => ("abif", exports::abif(&question, &profile)),
        };
        Ok(ExportBallotsResponse {
            media_type: "text/plain".into(),
            file_name: format!("ballots-{election_id}.{extension}"),
            content,
        })
    }
}
