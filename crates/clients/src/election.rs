//! svc-candidate, as svc-voting and svc-result call it.

use kit::ServiceError;
use proto_gen::election::v1::{
    election_service_client::ElectionServiceClient, election_service_server::SERVICE_NAME,
    Candidate, CheckEligibilityRequest, CheckEligibilityResponse, Election, Question,
};

crate::typed_client!(ElectionClient, SERVICE_NAME, ElectionServiceClient);

impl ElectionClient {
    /// The election with its candidates, and whether the user `user_id` may vote in it (an
    /// empty id asks about the election alone). svc-candidate looks the voter up itself.
    pub async fn check_eligibility(
        &self,
        election_id: &str,
        user_id: &str,
    ) -> Result<CheckEligibilityResponse, ServiceError> {
        let request = CheckEligibilityRequest {
            election_id: election_id.to_owned(),
            user_id: user_id.to_owned(),
            email: String::new(),
        };
        self.rpc("CheckEligibility", |mut client| async move {
            client.check_eligibility(request).await
        })
        .await
    }
}

/// An election's questions as svc-candidate describes them; one stored before questions
/// existed has one, the election's own (its id, method and max_choices).
pub fn questions_of(election: &Election) -> Vec<Question> {
    if !election.questions.is_empty() {
        return election.questions.clone();
    }
    vec![Question {
        question_id: election.election_id.clone(),
        method: election.method,
        max_choices: election.max_choices,
        seats: 1,
        ..Default::default()
    }]
}

/// The question a candidate stands in; one from before questions stands in the first, whose
/// id is the election's.
pub fn question_of<'a>(election: &'a Election, candidate: &'a Candidate) -> &'a str {
    match candidate.question_id.as_str() {
        "" => &election.election_id,
        id => id,
    }
}
