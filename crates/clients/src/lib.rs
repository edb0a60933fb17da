//! Typed clients of the votemesh services, in one place: one client type per service the
//! mesh calls, each on the same stack ([`Upstream`]: a live instance from the registry, the
//! internal token, the configured timeout, call metrics) and each answering with
//! `ServiceError` through the one reverse mapping in `kit::error`.
#![forbid(unsafe_code)]

mod accounts;
mod election;
mod keys;
mod upstream;
mod user;
mod voting;

pub use accounts::RemoteAccounts;
pub use election::ElectionClient;
pub use keys::{token_verifier, RemoteKeys};
pub use upstream::Upstream;
pub use user::UserClient;
pub use voting::VotingClient;
