//! Turns events into the deliveries they call for: who gets what, on which channel, with
//! which text. Contacts come from svc-user, titles from svc-candidate and "has voted" from
//! svc-voting, which answers participation only.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use clients::{ElectionClient, UserClient, VotingClient};
use kit::{cache::SingleFlight, ServiceError};
use proto_gen::{
    events::v1::{
        ContactVerificationRequested, NotificationRequestKind, NotificationsRequested, VoteRecorded,
    },
    user::v1::{ContactKind, GetContactResponse, NotificationChannel},
};

use crate::{
    store::{Channel, Kind, NewDelivery},
    templates::Templates,
};

/// Contacts looked up at once for a batch of confirmations.
const LOOKUPS_IN_FLIGHT: usize = 16;
const TITLE_TTL: Duration = Duration::from_secs(60);

/// A roll entry's account, as svc-user found it by email.
struct Account {
    user_id: String,
    contact: GetContactResponse,
    disabled: bool,
}

impl Account {
    /// Enabled, with its email proven: reminded as a voter rather than invited.
    fn proven(&self) -> bool {
        self.contact.email_verified && !self.disabled
    }
}

/// What every message of one request says about the election.
struct RequestTexts {
    opens: String,
    closes: String,
    link: String,
}

impl RequestTexts {
    fn of(request: &NotificationsRequested, public_url: &str) -> Self {
        Self {
            opens: when(request.opens_at.as_ref()),
            closes: when(request.closes_at.as_ref()),
            link: format!("{public_url}/elections/{}", request.election_id),
        }
    }
}

pub struct Planner {
    users: UserClient,
    elections: ElectionClient,
    voting: VotingClient,
    titles: SingleFlight<String, String>,
    templates: Arc<Templates>,
    public_url: String,
    pub attempt_limit: u32,
    sms_available: bool,
}

fn millis(t: Option<&prost_types::Timestamp>) -> i64 {
    t.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
        .unwrap_or(0)
}

fn when(t: Option<&prost_types::Timestamp>) -> String {
    chrono::DateTime::from_timestamp_millis(millis(t))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The message for one recipient, before it is stored.
struct Message<'a> {
    key: String,
    kind: Kind,
    template: &'a str,
    election_id: &'a str,
    user_id: &'a str,
    source_at_ms: i64,
}

impl Planner {
    pub fn new(
        users: UserClient,
        elections: ElectionClient,
        voting: VotingClient,
        templates: Arc<Templates>,
        public_url: String,
        attempt_limit: u32,
        sms_available: bool,
    ) -> Self {
        Self {
            users,
            elections,
            voting,
            titles: SingleFlight::new(TITLE_TTL),
            templates,
            public_url,
            attempt_limit,
            sms_available,
        }
    }

    /// One delivery to `recipient` on `channel` (`None` records a skip) rendered from
    /// `<template>_<email|sms>`.
    fn delivery(
        &self,
        message: Message<'_>,
        channel: Channel,
        recipient: &str,
        values: &[(&str, &str)],
    ) -> NewDelivery {
        let suffix = if channel == Channel::Sms {
            "sms"
        } else {
            "email"
        };
        let rendered = match channel {
            Channel::None => Default::default(),
            _ => self
                .templates
                .render(&format!("{}_{suffix}", message.template), values),
        };
        NewDelivery {
            event_id: message.key,
            channel,
            kind: message.kind,
            election_id: message.election_id.to_owned(),
            user_id: message.user_id.to_owned(),
            recipient: recipient.to_owned(),
            subject: rendered.subject,
            body: rendered.body,
            source_at_ms: message.source_at_ms,
        }
    }

    /// The channel a contact prefers, where it can be used: SMS only to a proven phone and
    /// with a gateway, else email.
    fn preferred(&self, contact: &GetContactResponse) -> (Channel, String) {
        match NotificationChannel::try_from(contact.notification_channel) {
            Ok(NotificationChannel::None) => (Channel::None, String::new()),
            Ok(NotificationChannel::Sms)
                if contact.phone_verified && self.sms_available && !contact.phone.is_empty() =>
            {
                (Channel::Sms, contact.phone.clone())
            }
            _ => (Channel::Email, contact.email.clone()),
        }
    }

    async fn title(&self, election_id: &str) -> Result<String, ServiceError> {
        self.titles
            .get_or_load(&election_id.to_owned(), || async {
                let answer = self.elections.check_eligibility(election_id, "").await?;
                Ok(answer.election.map(|e| e.title).unwrap_or_default())
            })
            .await
    }

    /// A code to the address it proves.
    pub fn verification(&self, event: &ContactVerificationRequested) -> NewDelivery {
        let channel = match ContactKind::try_from(event.kind) {
            Ok(ContactKind::Phone) => Channel::Sms,
            _ => Channel::Email,
        };
        let link = format!("{}/verify", self.public_url);
        let message = Message {
            key: event.event_id.clone(),
            kind: Kind::Verification,
            template: "verification",
            election_id: "",
            user_id: &event.user_id,
            source_at_ms: millis(event.requested_at.as_ref()),
        };
        let values = [
            ("code", event.code.as_str()),
            ("name", event.display_name.as_str()),
            ("minutes", "15"),
            ("link", link.as_str()),
        ];
        self.delivery(message, channel, &event.address, &values)
    }

    /// "Your ballot was recorded", on each voter's preferred channel. Nothing about the
    /// ballot itself: the event carries no choice and no receipt.
    pub async fn confirmations(
        &self,
        events: &[VoteRecorded],
    ) -> Result<Vec<NewDelivery>, ServiceError> {
        let mut rows = Vec::with_capacity(events.len());
        for chunk in events.chunks(LOOKUPS_IN_FLIGHT) {
            let found =
                futures::future::try_join_all(chunk.iter().map(|e| self.confirmation(e))).await?;
            rows.extend(found.into_iter().flatten());
        }
        Ok(rows)
    }

    async fn confirmation(
        &self,
        event: &VoteRecorded,
    ) -> Result<Option<NewDelivery>, ServiceError> {
        let contact = match self.users.get_contact(&event.voter_id).await {
            Ok(contact) => contact,
            // The account is gone: there is nobody to tell.
            Err(ServiceError::NotFound(_) | ServiceError::InvalidArgument { .. }) => {
                return Ok(None)
            }
            Err(error) => return Err(error),
        };
        let title = self.title(&event.election_id).await?;
        let (channel, recipient) = self.preferred(&contact);
        let message = Message {
            key: event.event_id.clone(),
            kind: Kind::Confirmation,
            template: "confirmation",
            election_id: &event.election_id,
            user_id: &event.voter_id,
            source_at_ms: millis(event.recorded_at.as_ref()),
        };
        let values = [
            ("election", title.as_str()),
            ("name", &contact.display_name),
        ];
        Ok(Some(self.delivery(message, channel, &recipient, &values)))
    }

    /// Invitations or reminders for a batch of roll entries. Each recipient's key names the
    /// purpose (the election, and for reminders the round), so asking again sends nothing
    /// to whoever already got one.
    pub async fn requested(
        &self,
        request: &NotificationsRequested,
    ) -> Result<Vec<NewDelivery>, ServiceError> {
        let emails: Vec<String> = request
            .emails
            .iter()
            .map(|email| email.trim().to_lowercase())
            .collect();
        let accounts: HashMap<String, Account> = self
            .users
            .find_accounts(&emails)
            .await?
            .into_iter()
            .filter_map(|found| {
                let contact = found.contact?;
                let account = Account {
                    user_id: found.user_id,
                    contact,
                    disabled: found.disabled,
                };
                Some((account.contact.email.clone(), account))
            })
            .collect();
        let reminding = request.kind == NotificationRequestKind::Reminder as i32;
        let voted = if reminding {
            let proven = accounts.values().filter(|a| a.proven());
            let ids = proven.map(|a| a.user_id.clone()).collect();
            self.voted(&request.election_id, ids).await?
        } else {
            HashSet::new()
        };
        let texts = RequestTexts::of(request, &self.public_url);
        Ok(emails
            .iter()
            .filter_map(|email| {
                let account = accounts.get(email);
                let skip = account.is_some_and(|a| a.disabled || voted.contains(&a.user_id));
                (!skip).then(|| self.roll_message(request, &texts, email, account, reminding))
            })
            .collect())
    }

    /// One roll entry's message: a reminder on their preferred channel for a proven account
    /// when reminding, else an invitation to the roll address.
    fn roll_message(
        &self,
        request: &NotificationsRequested,
        texts: &RequestTexts,
        email: &str,
        account: Option<&Account>,
        reminding: bool,
    ) -> NewDelivery {
        let election = &request.election_id;
        let key = if reminding {
            format!("reminder:{election}:{}:{email}", request.round)
        } else {
            format!("invitation:{election}:{email}")
        };
        let proven = account.filter(|a| a.proven() && reminding);
        let (kind, template, (channel, recipient)) = match proven {
            Some(a) => (Kind::Reminder, "reminder", self.preferred(&a.contact)),
            None => (
                Kind::Invitation,
                "invitation",
                (Channel::Email, email.to_owned()),
            ),
        };
        let message = Message {
            key,
            kind,
            template,
            election_id: election,
            user_id: account.map(|a| a.user_id.as_str()).unwrap_or(""),
            source_at_ms: kit::time::now_ms(),
        };
        let values = [
            ("election", request.election_title.as_str()),
            ("opens", texts.opens.as_str()),
            ("closes", texts.closes.as_str()),
            ("link", texts.link.as_str()),
            (
                "name",
                account
                    .map(|a| a.contact.display_name.as_str())
                    .unwrap_or(""),
            ),
        ];
        self.delivery(message, channel, &recipient, &values)
    }

    async fn voted(
        &self,
        election_id: &str,
        voter_ids: Vec<String>,
    ) -> Result<HashSet<String>, ServiceError> {
        if voter_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let voted = self
            .voting
            .check_participation(election_id, &voter_ids)
            .await?;
        Ok(voted.into_iter().collect())
    }
}
