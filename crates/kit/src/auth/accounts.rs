//! The port through which a verifier confirms that a token's account may still act, and with
//! which role. The adapter that asks svc-user is `clients::RemoteAccounts`.

use std::time::Duration;

use async_trait::async_trait;
use proto_gen::user::v1::Role;

use crate::ServiceError;

/// How long a confirmed account stays confirmed: the most a disabled or demoted user keeps
/// acting anywhere.
pub const ACCOUNT_STATUS_TTL: Duration = Duration::from_secs(2);

#[async_trait]
pub trait AccountStatus: Send + Sync {
    /// The role the account holds now, or `None` when it is disabled or gone.
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, ServiceError>;
}
