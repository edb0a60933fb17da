//! The gRPC adapter over [`Elections`].

use std::sync::Arc;

use futures::StreamExt;
use kit::ServiceError;
use proto_gen::election::v1::{
    election_service_server::ElectionService, AddCandidateRequest, AddCandidateResponse,
    CheckEligibilityRequest, CheckEligibilityResponse, CountRollRequest, CountRollResponse,
    CreateElectionRequest, CreateElectionResponse, ExtendElectionRequest, ExtendElectionResponse,
    GetElectionRequest, GetElectionResponse, ImportRollCsvRequest, ImportRollCsvResponse,
    ImportRollRequest, ImportRollResponse, InviteRollRequest, InviteRollResponse,
    ListCandidatesRequest, ListCandidatesResponse, ListElectionsRequest, ListElectionsResponse,
    ListRollRequest, ListRollResponse, RemindNonVotersRequest, RemindNonVotersResponse,
    RemoveCandidateRequest, RemoveCandidateResponse, RemoveRollEntryRequest,
    RemoveRollEntryResponse, ReorderCandidatesRequest, ReorderCandidatesResponse, RollEntry,
    TransitionElectionRequest, TransitionElectionResponse, UpdateCandidateRequest,
    UpdateCandidateResponse, UpdateElectionRequest, UpdateElectionResponse,
};
use tonic::{Request, Response, Status, Streaming};

use crate::{elections::Elections, roll};

pub struct ElectionApi(pub Arc<Elections>);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl ElectionService for ElectionApi {
    async fn create_election(
        &self,
        request: Request<CreateElectionRequest>,
    ) -> Reply<CreateElectionResponse> {
        let election = self.0.create(request.into_inner()).await?;
        Ok(Response::new(CreateElectionResponse {
            election: Some(election),
        }))
    }

    async fn get_election(
        &self,
        request: Request<GetElectionRequest>,
    ) -> Reply<GetElectionResponse> {
        let election = self.0.get(&request.get_ref().election_id).await?;
        Ok(Response::new(GetElectionResponse {
            election: Some(election),
        }))
    }

    async fn list_elections(
        &self,
        request: Request<ListElectionsRequest>,
    ) -> Reply<ListElectionsResponse> {
        let r = request.into_inner();
        Ok(Response::new(
            self.0.list(r.page_size, &r.page_token, r.status).await?,
        ))
    }

    async fn update_election(
        &self,
        request: Request<UpdateElectionRequest>,
    ) -> Reply<UpdateElectionResponse> {
        let election = self.0.update(request.into_inner()).await?;
        Ok(Response::new(UpdateElectionResponse {
            election: Some(election),
        }))
    }

    async fn transition_election(
        &self,
        request: Request<TransitionElectionRequest>,
    ) -> Reply<TransitionElectionResponse> {
        let r = request.into_inner();
        let election = self
            .0
            .transition(
                &r.election_id,
                r.target,
                r.expected_version,
                r.acknowledge_identifying_weights,
            )
            .await?;
        Ok(Response::new(TransitionElectionResponse {
            election: Some(election),
        }))
    }

    async fn extend_election(
        &self,
        request: Request<ExtendElectionRequest>,
    ) -> Reply<ExtendElectionResponse> {
        let r = request.into_inner();
        let election = self
            .0
            .extend(&r.election_id, r.closes_at.as_ref(), r.expected_version)
            .await?;
        Ok(Response::new(ExtendElectionResponse {
            election: Some(election),
        }))
    }

    async fn add_candidate(
        &self,
        request: Request<AddCandidateRequest>,
    ) -> Reply<AddCandidateResponse> {
        let (candidate, election_version) = self.0.add_candidate(request.into_inner()).await?;
        Ok(Response::new(AddCandidateResponse {
            candidate: Some(candidate),
            election_version,
        }))
    }

    async fn update_candidate(
        &self,
        request: Request<UpdateCandidateRequest>,
    ) -> Reply<UpdateCandidateResponse> {
        let (candidate, election_version) = self.0.update_candidate(request.into_inner()).await?;
        Ok(Response::new(UpdateCandidateResponse {
            candidate: Some(candidate),
            election_version,
        }))
    }

    async fn remove_candidate(
        &self,
        request: Request<RemoveCandidateRequest>,
    ) -> Reply<RemoveCandidateResponse> {
        let r = request.into_inner();
        let election_version = self
            .0
            .remove_candidate(&r.election_id, &r.candidate_id, r.expected_version)
            .await?;
        Ok(Response::new(RemoveCandidateResponse { election_version }))
    }

    async fn reorder_candidates(
        &self,
        request: Request<ReorderCandidatesRequest>,
    ) -> Reply<ReorderCandidatesResponse> {
        let (candidates, election_version) = self.0.reorder(request.into_inner()).await?;
        Ok(Response::new(ReorderCandidatesResponse {
            candidates,
            election_version,
        }))
    }

    async fn list_candidates(
        &self,
        request: Request<ListCandidatesRequest>,
    ) -> Reply<ListCandidatesResponse> {
        let candidates = self.0.candidates(&request.get_ref().election_id).await?;
        Ok(Response::new(ListCandidatesResponse { candidates }))
    }

    async fn import_roll(
        &self,
        request: Request<Streaming<ImportRollRequest>>,
    ) -> Reply<ImportRollResponse> {
        let mut stream = request.into_inner();
        let mut election_id = None;
        let mut rows = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if election_id.is_none() {
                if chunk.election_id.is_empty() {
                    return Err(ServiceError::invalid(
                        "election_id",
                        "required in the first message",
                    )
                    .into());
                }
                election_id = Some(chunk.election_id);
            }
            rows.extend(chunk.emails.into_iter().map(|email| RollEntry {
                email,
                weight: String::new(),
            }));
            rows.extend(chunk.entries);
        }
        let election_id = election_id
            .ok_or_else(|| ServiceError::invalid("election_id", "no messages were sent"))?;
        Ok(Response::new(self.0.import_roll(&election_id, rows).await?))
    }

    async fn import_roll_csv(
        &self,
        request: Request<ImportRollCsvRequest>,
    ) -> Reply<ImportRollCsvResponse> {
        let r = request.into_inner();
        let ImportRollResponse {
            accepted,
            errors,
            identifying_weights,
        } = self
            .0
            .import_roll(&r.election_id, roll::parse_csv(&r.csv))
            .await?;
        Ok(Response::new(ImportRollCsvResponse {
            accepted,
            errors,
            identifying_weights,
        }))
    }

    async fn list_roll(&self, request: Request<ListRollRequest>) -> Reply<ListRollResponse> {
        let r = request.into_inner();
        Ok(Response::new(
            self.0
                .list_roll(&r.election_id, r.email_contains, r.page_size, &r.page_token)
                .await?,
        ))
    }

    async fn count_roll(&self, request: Request<CountRollRequest>) -> Reply<CountRollResponse> {
        let count = self.0.count_roll(&request.get_ref().election_id).await?;
        Ok(Response::new(CountRollResponse { count }))
    }

    async fn remove_roll_entry(
        &self,
        request: Request<RemoveRollEntryRequest>,
    ) -> Reply<RemoveRollEntryResponse> {
        let r = request.into_inner();
        self.0.remove_roll_entry(&r.election_id, &r.email).await?;
        Ok(Response::new(RemoveRollEntryResponse {}))
    }

    async fn invite_roll(&self, request: Request<InviteRollRequest>) -> Reply<InviteRollResponse> {
        let requested = self.0.invite_roll(&request.get_ref().election_id).await?;
        Ok(Response::new(InviteRollResponse { requested }))
    }

    async fn remind_non_voters(
        &self,
        request: Request<RemindNonVotersRequest>,
    ) -> Reply<RemindNonVotersResponse> {
        let r = request.get_ref();
        let (requested, round) = self.0.remind_non_voters(&r.election_id, r.round).await?;
        Ok(Response::new(RemindNonVotersResponse { requested, round }))
    }

    async fn check_eligibility(
        &self,
        request: Request<CheckEligibilityRequest>,
    ) -> Reply<CheckEligibilityResponse> {
        let r = request.into_inner();
        Ok(Response::new(
            self.0
                .check_eligibility(&r.election_id, &r.user_id, &r.email)
                .await?,
        ))
    }
}
