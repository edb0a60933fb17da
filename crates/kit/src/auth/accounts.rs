//! The port through which a verifier confirms that a token's account may still act, with
//! which role, and whether its email is proven. The adapter that asks svc-user is
//! `clients::RemoteAccounts`.

use std::time::Duration;

use async_trait::async_trait;
use proto_gen::user::v1::Role;

use crate::ServiceError;

/// How long a confirmed account stays confirmed: the most a disabled or demoted user keeps
/// acting anywhere.
pub const ACCOUNT_STATUS_TTL: Duration = Duration::from_secs(2);

/// Where an enabled account stands now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The role the account holds.
    pub role: Role,
    /// Whether the owner proved the account email; only then may they vote.
    pub email_verified: bool,
}

#[async_trait]
pub trait AccountStatus: Send + Sync {
    /// The account's standing now, or `None` when it is disabled or gone.
    async fn standing(&self, user_id: &str) -> Result<Option<Standing>, ServiceError>;
}
