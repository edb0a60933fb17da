//! Every topic name, once. Services take these as the defaults of their topic flags, so a
//! deployment can still rename a topic (tests do, to keep runs apart).

/// `BallotCast`: svc-voting's outbox to svc-result.
pub const BALLOT_CAST: &str = "votemesh.ballot.cast.v1";

/// `VoteRecorded`: svc-voting's outbox to svc-notify.
pub const VOTE_RECORDED: &str = "votemesh.vote.recorded.v1";

/// `ElectionStatusChanged`: svc-candidate's outbox to every svc-voting instance.
pub const ELECTION_STATUS: &str = "votemesh.election.status.v1";

/// `ContactVerificationRequested`: svc-user's outbox to svc-notify.
pub const CONTACT_VERIFICATION: &str = "votemesh.contact.verification.v1";

/// `NotificationsRequested` (roll invitations and reminders): svc-candidate's outbox to
/// svc-notify.
pub const NOTIFICATION_REQUESTS: &str = "votemesh.notification.requests.v1";
