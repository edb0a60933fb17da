//! Invitations and reminders for a voter roll. svc-candidate only asks: it writes
//! NotificationsRequested events for the whole roll to its outbox, and svc-notify sends each
//! message at most once per recipient (and skips those who voted), so asking again is safe.

use proto_gen::events::v1::{NotificationRequestKind, NotificationsRequested};

use super::*;
use crate::store::NotificationsFor;

/// Most emails one NotificationsRequested event carries, so an event stays small whatever
/// the roll's size.
pub const EMAILS_PER_EVENT: usize = 500;

/// The round of the reminder the scheduler requests itself.
pub const AUTO_ROUND: &str = "auto";

/// The events asking svc-notify to send `kind` to every email of `election`'s roll, at most
/// [`EMAILS_PER_EVENT`] per event, keyed by election so they stay in order.
fn notification_events(
    topic: &str,
    kind: NotificationRequestKind,
    round: &str,
    election: &ElectionRecord,
    emails: &[String],
) -> Vec<Event> {
    emails
        .chunks(EMAILS_PER_EVENT)
        .map(|chunk| {
            let event_id = uuid::Uuid::new_v4().to_string();
            let payload = NotificationsRequested {
                event_id: event_id.clone(),
                election_id: election.id.clone(),
                kind: kind as i32,
                round: round.to_owned(),
                election_title: election.title.clone(),
                opens_at: Some(convert::timestamp(election.opens_at_ms)),
                closes_at: Some(convert::timestamp(election.closes_at_ms)),
                emails: chunk.to_vec(),
            };
            Event {
                id: event_id,
                topic: topic.to_owned(),
                key: election.id.clone(),
                payload: payload.encode_to_vec(),
            }
        })
        .collect()
}

/// Refuses an election without a voter roll; `what` names the messages that need one.
fn require_roll(election: &ElectionRecord, what: &str) -> Result<(), ServiceError> {
    if election.eligibility == "roll" {
        Ok(())
    } else {
        Err(ServiceError::FailedPrecondition(format!(
            "{what} need a voter roll; this election is open to all voters"
        )))
    }
}

/// Refuses an empty roll, which nothing could have been sent to.
fn require_entries(requested: u64, what: &str) -> Result<u64, ServiceError> {
    if requested == 0 {
        Err(ServiceError::FailedPrecondition(format!(
            "{what} need a voter roll with entries; this election's roll is empty"
        )))
    } else {
        Ok(requested)
    }
}

impl Elections {
    fn notifications_for(&self, kind: NotificationRequestKind, round: String) -> NotificationsFor {
        let topic = self.topics.notifications.clone();
        Box::new(move |election, emails| {
            notification_events(&topic, kind, &round, election, emails)
        })
    }

    /// Asks svc-notify to invite every roll entry of an election that has not closed;
    /// returns how many entries were handed on.
    pub async fn invite_roll(&self, election_id: &str) -> Result<u64, ServiceError> {
        let what = "invitations";
        let election = self.current(election_id).await?;
        require_roll(&election, what)?;
        let requested = self
            .store
            .notify_roll(
                &election.id,
                &[Status::Draft, Status::Open],
                self.notifications_for(NotificationRequestKind::Invitation, String::new()),
            )
            .await
            .map_err(|e| refused(e, "invite its roll"))?;
        let requested = require_entries(requested, what)?;
        tracing::info!(election_id = %election.id, requested, "roll invitations requested");
        Ok(requested)
    }

    /// Asks svc-notify to remind the roll entries of an OPEN election who have not voted,
    /// in `round` (0 means 1); returns how many entries were handed on, and the round.
    pub async fn remind_non_voters(
        &self,
        election_id: &str,
        round: u32,
    ) -> Result<(u64, u32), ServiceError> {
        let what = "reminders";
        let round = round.max(1);
        let election = self.current(election_id).await?;
        require_roll(&election, what)?;
        let requested = self
            .store
            .notify_roll(
                &election.id,
                &[Status::Open],
                self.notifications_for(NotificationRequestKind::Reminder, round.to_string()),
            )
            .await
            .map_err(|e| refused(e, "remind its voters"))?;
        let requested = require_entries(requested, what)?;
        tracing::info!(election_id = %election.id, requested, round, "reminders requested");
        Ok((requested, round))
    }

    /// Requests the automatic reminder round of each election inside its lead time, once:
    /// the store's claim decides which pass (of any replica) does it.
    pub(super) async fn request_due_reminders(&self, now: i64) -> Result<(), ServiceError> {
        let due = self
            .store
            .due_for_auto_reminder(now)
            .await
            .map_err(|e| refused(e, "schedule its reminder"))?;
        for id in due {
            let events =
                self.notifications_for(NotificationRequestKind::Reminder, AUTO_ROUND.into());
            match self.store.claim_auto_reminder(&id, now, events).await {
                Ok(Some(requested)) => {
                    tracing::info!(election_id = %id, requested, "automatic reminders requested")
                }
                // Another replica, or an earlier pass, requested it.
                Ok(None) => {}
                Err(error) => return Err(refused(error, "remind its voters")),
            }
        }
        Ok(())
    }
}
