//! Who a voter is, for roll elections: svc-voting names the voter by user id, and the roll is
//! kept by email, so svc-candidate asks svc-user for the email (cached briefly) itself. Only
//! a proven email counts: anyone may register with an address on a roll, and only its owner
//! can enter the code sent to it.

use std::time::Duration;

use async_trait::async_trait;
use clients::UserClient;
use kit::{cache::SingleFlight, ServiceError};
use proto_gen::user::v1::GetContactResponse;

/// How long a looked-up email is reused: a burst of casts by one voter asks once.
const EMAIL_TTL: Duration = Duration::from_secs(5);

/// The port the elections domain looks voters up through.
#[async_trait]
pub trait VoterEmails: Send + Sync {
    /// The verified email of user `user_id`, or `None` when there is no such user or the
    /// email is not proven yet.
    async fn email_of(&self, user_id: &str) -> Result<Option<String>, ServiceError>;
}

/// The contact's email if its owner proved it.
fn verified_email(contact: GetContactResponse) -> Option<String> {
    contact.email_verified.then_some(contact.email)
}

/// Emails from svc-user's GetContact.
pub struct EmailsFromUsers {
    users: UserClient,
    cache: SingleFlight<String, Option<String>>,
}

impl EmailsFromUsers {
    pub fn new(users: UserClient) -> Self {
        Self {
            users,
            cache: SingleFlight::new(EMAIL_TTL),
        }
    }

    async fn ask(&self, user_id: &str) -> Result<Option<String>, ServiceError> {
        match self.users.get_contact(user_id).await {
            Ok(contact) => Ok(verified_email(contact)),
            Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl VoterEmails for EmailsFromUsers {
    async fn email_of(&self, user_id: &str) -> Result<Option<String>, ServiceError> {
        // Only a verified email is kept: a voter who proves theirs (or registers) now is
        // eligible at once, not when a cached "no" lapses.
        self.cache
            .get_or_load_keeping(&user_id.to_owned(), Option::is_some, || self.ask(user_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proven_email_names_a_voter() {
        let contact = |email_verified| GetContactResponse {
            email: "ada@example.org".into(),
            email_verified,
            ..Default::default()
        };
        assert_eq!(
            verified_email(contact(true)).as_deref(),
            Some("ada@example.org")
        );
        assert_eq!(verified_email(contact(false)), None);
    }
}
