//! Who a voter is, for roll elections: svc-voting names the voter by user id, and the roll is
//! kept by email, so svc-candidate asks svc-user for the email (cached briefly) itself.

use std::time::Duration;

use async_trait::async_trait;
use clients::UserClient;
use kit::{cache::SingleFlight, ServiceError};

/// How long a looked-up email is reused: a burst of casts by one voter asks once.
const EMAIL_TTL: Duration = Duration::from_secs(5);

/// The port the elections domain looks voters up through.
#[async_trait]
pub trait VoterEmails: Send + Sync {
    /// The email of user `user_id`, or `None` when there is no such user.
    async fn email_of(&self, user_id: &str) -> Result<Option<String>, ServiceError>;
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
            Ok(contact) => Ok(Some(contact.email)),
            Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl VoterEmails for EmailsFromUsers {
    async fn email_of(&self, user_id: &str) -> Result<Option<String>, ServiceError> {
        self.cache
            .get_or_load(&user_id.to_owned(), || self.ask(user_id))
            .await
    }
}
