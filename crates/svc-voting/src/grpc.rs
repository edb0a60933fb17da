//! The gRPC adapter over [`Voting`].

use std::sync::Arc;

use kit::auth::caller;
use proto_gen::voting::v1::{
    voting_service_server::VotingService, CastBallotRequest, CastBallotResponse,
    CheckParticipationRequest, CheckParticipationResponse, GetMyParticipationRequest,
    GetMyParticipationResponse, RecordedCountRequest, RecordedCountResponse, VerifyReceiptRequest,
    VerifyReceiptResponse,
};
use tonic::{Request, Response, Status};

use crate::voting::Voting;

pub struct VotingApi(pub Arc<Voting>);

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl VotingService for VotingApi {
    async fn cast_ballot(&self, request: Request<CastBallotRequest>) -> Reply<CastBallotResponse> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.0.cast(&caller, request.into_inner()).await?,
        ))
    }

    async fn get_my_participation(
        &self,
        request: Request<GetMyParticipationRequest>,
    ) -> Reply<GetMyParticipationResponse> {
        let caller = caller(&request)?;
        Ok(Response::new(
            self.0
                .participation(&caller, &request.get_ref().election_id)
                .await?,
        ))
    }

    async fn verify_receipt(
        &self,
        request: Request<VerifyReceiptRequest>,
    ) -> Reply<VerifyReceiptResponse> {
        Ok(Response::new(
            self.0
                .verify_receipt(&request.get_ref().receipt_code)
                .await?,
        ))
    }

    async fn recorded_count(
        &self,
        request: Request<RecordedCountRequest>,
    ) -> Reply<RecordedCountResponse> {
        Ok(Response::new(
            self.0
                .recorded_count(&request.get_ref().election_id)
                .await?,
        ))
    }

    async fn check_participation(
        &self,
        request: Request<CheckParticipationRequest>,
    ) -> Reply<CheckParticipationResponse> {
        let r = request.get_ref();
        Ok(Response::new(
            self.0
                .check_participation(&r.election_id, &r.voter_ids)
                .await?,
        ))
    }
}
