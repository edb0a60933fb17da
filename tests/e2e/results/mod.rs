//! Issue 5: live results. Exact totals from 5,000 ballots cast through the edge, a replay
//! from offset zero, a SIGKILLed svc-result, two instances splitting the partitions with
//! watchers on each, and the visibility rules.

mod exports;
mod questions;
mod replay;
mod sigkill;
mod split;
mod steps;
mod visibility;
mod weights;

use std::collections::BTreeMap;

use proto_gen::{
    result::v1::{
        result_service_client::ResultServiceClient, AuditRequest, GetResultsResponse,
        RecountRequest,
    },
    voting::v1::voting_service_client::VotingServiceClient,
};
use tonic::transport::Channel;

use crate::support::{ballots::*, process::ChildGuard, *};

const PLURALITY: &str = "BALLOT_METHOD_PLURALITY";
const APPROVAL: &str = "BALLOT_METHOD_APPROVAL";
const RANKED: &str = "BALLOT_METHOD_RANKED";
const LIVE: &str = "RESULTS_VISIBILITY_LIVE";

/// A `votemesh result` process, once it is the only registered svc-result.
async fn only_result_process(mesh: &Mesh, wiring: &Wiring) -> ChildGuard {
    let mut process = result_process(mesh, wiring, None);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || process.still_running())
        .await;
    process
}

/// A mesh of its own topics whose only svc-result is a process the test may kill.
async fn mesh_with_result_process() -> (Wiring, Mesh, ChildGuard) {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 0)).await;
    let process = only_result_process(&mesh, &wiring).await;
    (wiring, mesh, process)
}

/// Every election's selections, cast by every voter; panics unless all are accepted.
async fn cast_everyone(
    mesh: &Mesh,
    elections: &[OpenElection],
    people: &[Session],
) -> Vec<Vec<Vec<String>>> {
    let mut jobs = Vec::new();
    let mut selections = vec![Vec::new(); elections.len()];
    for (e, election) in elections.iter().enumerate() {
        for (i, voter) in people.iter().enumerate() {
            let chosen = selection(election, i);
            selections[e].push(chosen.clone());
            jobs.push((election.id.clone(), chosen, voter.access.clone()));
        }
    }
    let outcomes = cast_all(&mesh.edge_url, jobs, 32).await;
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    selections
}

/// Checks counts through the edge, as an admin.
struct Counts {
    results: ResultServiceClient<Channel>,
    voting: VotingServiceClient<Channel>,
    admin: String,
}

impl Counts {
    async fn new(mesh: &Mesh, admin: &Session) -> Self {
        Self {
            results: result_client(&mesh.edge_url).await,
            voting: voting_client(&mesh.edge_url),
            admin: admin.access.clone(),
        }
    }

    /// What GetResults shows now.
    async fn shown(&mut self, election_id: &str) -> GetResultsResponse {
        get_results(&mut self.results, election_id, &self.admin)
            .await
            .expect("results")
    }

    /// Totals, per-candidate votes and (RANKED) the winner are those of the accepted
    /// ballots; Recount and Audit agree.
    async fn assert_exact(&mut self, election: &OpenElection, accepted: &[Vec<String>]) {
        let (results, admin) = (&mut self.results, self.admin.as_str());
        let shown = wait_for_total(results, &election.id, admin, accepted.len() as u64).await;
        assert_eq!(
            shown_votes(&shown),
            expected_votes(election, accepted),
            "{}",
            election.method
        );
        if election.method == RANKED {
            let mut profile: BTreeMap<Vec<String>, u64> = BTreeMap::new();
            for selection in accepted {
                *profile.entry(selection.clone()).or_default() += 1;
            }
            let profile: Vec<counting::Ranked> = profile
                .into_iter()
                .map(|(ranking, n)| counting::Ranked {
                    ranking,
                    weight: n * counting::ONE,
                })
                .collect();
            let outcome = counting::irv::count(&election.candidates, &profile);
            assert_eq!(
                shown.winner_candidate_id,
                outcome.winner.unwrap_or_default()
            );
            assert_eq!(shown.rounds.len(), outcome.rounds.len());
        }
        let (ballots, _) = recorded(&mut self.voting, &election.id, admin).await;
        assert_eq!(
            ballots, shown.total_ballots,
            "totals equal recorded ballots"
        );
        let election_id = election.id.clone();
        let recount = results.recount(bearer(RecountRequest { election_id }, admin));
        let recount = recount.await.expect("recount").into_inner();
        assert!(
            recount.matches,
            "recount differs: {:?}",
            recount.differences
        );
        let election_id = election.id.clone();
        let audit = results.audit(bearer(AuditRequest { election_id }, admin));
        let audit = audit.await.expect("audit").into_inner();
        assert!(
            audit.matches && audit.counted == accepted.len() as u64,
            "audit: {audit:?}"
        );
    }
}
