//! Whether a token's account may still act, with which role, and whether its email is
//! proven: asked of svc-user and cached for [`ACCOUNT_STATUS_TTL`], so disabling or demoting
//! takes effect within that time everywhere, not when the token expires. A cast by a caller
//! this cache still calls unverified is checked afresh by svc-voting, so a voter who has just
//! proven their email votes at once.

use async_trait::async_trait;
use kit::{
    auth::{AccountStatus, Standing, ACCOUNT_STATUS_TTL},
    cache::SingleFlight,
    ServiceError,
};
use proto_gen::user::v1::{GetAccountStatusResponse, Role};

use crate::UserClient;

pub struct RemoteAccounts {
    users: UserClient,
    cache: SingleFlight<String, Option<Standing>>,
}

/// The standing svc-user's answer gives, `None` for a disabled or missing account.
fn standing_of(status: &GetAccountStatusResponse) -> Option<Standing> {
    (status.exists && !status.disabled).then(|| Standing {
        role: Role::try_from(status.role).unwrap_or(Role::Voter),
        email_verified: status.email_verified,
    })
}

impl RemoteAccounts {
    pub fn new(users: UserClient) -> Self {
        Self {
            users,
            cache: SingleFlight::new(ACCOUNT_STATUS_TTL),
        }
    }

    async fn ask(&self, user_id: &str) -> Result<Option<Standing>, ServiceError> {
        let status = self
            .users
            .get_account_status(user_id)
            .await
            // Fail closed, and say why: the caller can retry, nothing is wrong with the call.
            .map_err(|error| {
                ServiceError::Unavailable(format!("cannot confirm the account: {error}"))
            })?;
        Ok(standing_of(&status))
    }
}

#[async_trait]
impl AccountStatus for RemoteAccounts {
    async fn standing(&self, user_id: &str) -> Result<Option<Standing>, ServiceError> {
        self.cache
            .get_or_load(&user_id.to_owned(), || self.ask(user_id))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(exists: bool, disabled: bool, email_verified: bool) -> GetAccountStatusResponse {
        GetAccountStatusResponse {
            exists,
            disabled,
            role: Role::Admin as i32,
            email_verified,
        }
    }

    #[test]
    fn the_standing_carries_role_and_verification() {
        assert_eq!(
            standing_of(&status(true, false, true)),
            Some(Standing {
                role: Role::Admin,
                email_verified: true
            })
        );
        assert_eq!(
            standing_of(&status(true, false, false)).map(|s| s.email_verified),
            Some(false)
        );
        assert_eq!(standing_of(&status(true, true, true)), None, "disabled");
        assert_eq!(standing_of(&status(false, false, false)), None, "gone");
    }
}
