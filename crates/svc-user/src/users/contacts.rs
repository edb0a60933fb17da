//! Verified contacts: the codes that prove an email or a phone, the events that deliver them,
//! and finding accounts by email. Only a proven email may vote; only a proven phone gets SMS.

use hmac::{Hmac, Mac};
use prost::Message;
use proto_gen::{
    events::v1::ContactVerificationRequested,
    user::v1::{
        ContactKind, FindAccountsRequest, FindAccountsResponse, FoundAccount,
        ResendVerificationRequest, ResendVerificationResponse, VerifyContactRequest,
    },
};
use rand::Rng;
use subtle::ConstantTimeEq;
use tokio::sync::Notify;

use super::*;
use crate::store::{CodeIssue, Contact, ContactCode};

/// How long a code works.
pub const CODE_TTL_MS: i64 = 15 * 60 * 1000;
/// Wrong codes a code survives; then only a new code helps.
pub const CODE_TRIES: i32 = 5;
/// The least time between two codes for one address, so resending cannot flood an inbox.
pub const RESEND_INTERVAL_MS: i64 = 60 * 1000;
/// Most emails one FindAccounts call may ask about.
pub const MAX_FIND_EMAILS: usize = 1000;

/// How codes are kept and where their events go.
#[derive(Clone)]
pub struct CodeSettings {
    /// Keys the stored code hashes. A plain hash of six digits falls to a million guesses,
    /// so without the key a copy of the database tells nothing about pending codes.
    pub key: Vec<u8>,
    /// The topic of `ContactVerificationRequested` events.
    pub topic: String,
    /// Notified after a commit that wrote outbox rows, so the relay sends the code at once.
    pub outbox_written: Arc<Notify>,
    /// How long a code works ([`CODE_TTL_MS`] unless a test shortens it).
    pub ttl_ms: i64,
    /// How soon a code may be resent ([`RESEND_INTERVAL_MS`] unless a test shortens it).
    pub resend_interval_ms: i64,
    /// BENCH AND TEST ONLY: registration marks the email proven and sends no code.
    pub trust_registered_emails: bool,
}

/// The kind a request names; UNSPECIFIED means the email, as the contract says.
fn requested_kind(value: i32) -> Result<Contact, ServiceError> {
    match ContactKind::try_from(value) {
        Ok(ContactKind::Unspecified | ContactKind::Email) => Ok(Contact::Email),
        Ok(ContactKind::Phone) => Ok(Contact::Phone),
        Err(_) => Err(ServiceError::invalid(
            "kind",
            "must be CONTACT_KIND_EMAIL or CONTACT_KIND_PHONE",
        )),
    }
}

fn wire_kind(kind: Contact) -> ContactKind {
    match kind {
        Contact::Email => ContactKind::Email,
        Contact::Phone => ContactKind::Phone,
    }
}

/// The user's address of `kind` and when it was proven.
fn address_of(user: &UserRecord, kind: Contact) -> (&str, Option<i64>) {
    match kind {
        Contact::Email => (&user.email, user.email_verified_at_ms),
        Contact::Phone => (&user.phone, user.phone_verified_at_ms),
    }
}

fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

fn locked() -> ServiceError {
    ServiceError::FailedPrecondition(
        "too many wrong codes; ask for a new code (ResendVerification)".into(),
    )
}

fn expired() -> ServiceError {
    ServiceError::FailedPrecondition(
        "the code has expired; ask for a new code (ResendVerification)".into(),
    )
}

/// Why there is nothing to verify or resend for `kind`, if there is nothing.
fn nothing_to_prove(kind: Contact, address: &str, verified: Option<i64>) -> Option<ServiceError> {
    if address.is_empty() {
        return Some(ServiceError::FailedPrecondition(
            "there is no phone number on the account; add one with UpdateMe".into(),
        ));
    }
    verified.map(|_| {
        ServiceError::FailedPrecondition(format!("the {} is already verified", kind.as_str()))
    })
}

/// Contact details as other services see them.
pub(super) fn contact_response(user: &UserRecord) -> GetContactResponse {
    GetContactResponse {
        email: user.email.clone(),
        phone: user.phone.clone(),
        display_name: user.display_name.clone(),
        notification_channel: channel_from_name(&user.notification_channel) as i32,
        email_verified: user.email_verified_at_ms.is_some(),
        phone_verified: user.phone_verified_at_ms.is_some(),
    }
}

impl Users {
    /// The stored form of a code: keyed, and bound to the user, kind and address it was sent
    /// for, so a code sent to one address proves nothing about another.
    fn code_hash(&self, user_id: &str, kind: Contact, address: &str, code: &str) -> String {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.codes.key).expect("HMAC takes any key");
        mac.update(format!("{user_id}|{}|{address}|{code}", kind.as_str()).as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A fresh code for `address`: the row that keeps its hash, and the event that carries
    /// the code itself to svc-notify.
    pub(super) fn issue_code(
        &self,
        user_id: &str,
        display_name: &str,
        kind: Contact,
        address: &str,
        now: i64,
    ) -> CodeIssue {
        let code = new_code();
        let expires_at_ms = now + self.codes.ttl_ms;
        let event = ContactVerificationRequested {
            event_id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            kind: wire_kind(kind) as i32,
            address: address.to_owned(),
            code: code.clone(),
            expires_at: Some(timestamp(expires_at_ms)),
            display_name: display_name.to_owned(),
            requested_at: Some(timestamp(now)),
        };
        CodeIssue {
            code: ContactCode {
                user_id: user_id.to_owned(),
                kind,
                address: address.to_owned(),
                code_hash: self.code_hash(user_id, kind, address, &code),
                expires_at_ms,
                tries_left: CODE_TRIES,
                created_at_ms: now,
            },
            event: kit::bus::Event {
                id: event.event_id.clone(),
                topic: self.codes.topic.clone(),
                key: user_id.to_owned(),
                payload: event.encode_to_vec(),
            },
        }
    }

    /// Tells the relay that committed outbox rows wait.
    pub(super) fn outbox_written(&self) {
        self.codes.outbox_written.notify_one();
    }

    /// The codes a profile change needs: one for a changed email, which must be free, and one
    /// for a changed phone unless it is being cleared.
    pub(super) async fn codes_for_change(
        &self,
        user: &UserRecord,
        email: Option<&str>,
        phone: Option<&str>,
        display_name: Option<&str>,
    ) -> Result<Vec<CodeIssue>, ServiceError> {
        let now = now_ms();
        let name = display_name.unwrap_or(&user.display_name);
        let mut codes = Vec::new();
        if let Some(email) = email.filter(|email| *email != user.email) {
            if self.store.user_by_email(email).await?.is_some() {
                return Err(ServiceError::AlreadyExists(
                    "email: already registered".into(),
                ));
            }
            codes.push(self.issue_code(&user.id, name, Contact::Email, email, now));
        }
        if let Some(phone) = phone.filter(|phone| !phone.is_empty() && *phone != user.phone) {
            codes.push(self.issue_code(&user.id, name, Contact::Phone, phone, now));
        }
        Ok(codes)
    }

    pub async fn verify_contact(
        &self,
        caller: &Caller,
        request: VerifyContactRequest,
    ) -> Result<User, ServiceError> {
        let kind = requested_kind(request.kind)?;
        let code = request.code.trim();
        if code.is_empty() {
            return Err(ServiceError::invalid("code", "required"));
        }
        let user = self.active(caller).await?;
        let (address, verified) = address_of(&user, kind);
        if let Some(error) = nothing_to_prove(kind, address, verified) {
            return Err(error);
        }
        let pending = self
            .store
            .contact_code(&user.id, kind)
            .await?
            .filter(|pending| pending.address == address)
            .ok_or_else(|| {
                ServiceError::FailedPrecondition(format!(
                    "no code was sent to the {}; ask for one (ResendVerification)",
                    kind.as_str()
                ))
            })?;
        if pending.tries_left <= 0 {
            return Err(locked());
        }
        let now = now_ms();
        if pending.expires_at_ms <= now {
            return Err(expired());
        }
        let presented = self.code_hash(&user.id, kind, address, code);
        if !bool::from(presented.as_bytes().ct_eq(pending.code_hash.as_bytes())) {
            return Err(self.wrong_code(&pending).await);
        }
        match self
            .store
            .verify_contact(&user.id, kind, &pending.code_hash, now)
            .await?
        {
            Some(verified) => {
                tracing::info!(user_id = %verified.id, kind = kind.as_str(), "contact verified");
                Ok(to_proto(&verified))
            }
            // Replaced, locked or used between the read and the claim.
            None => Err(ServiceError::FailedPrecondition(
                "the code is no longer valid; ask for a new code (ResendVerification)".into(),
            )),
        }
    }

    /// Spends a try for a wrong code; the error to answer with.
    async fn wrong_code(&self, pending: &ContactCode) -> ServiceError {
        match self
            .store
            .spend_code_try(&pending.user_id, pending.kind, &pending.code_hash)
            .await
        {
            Ok(true) => ServiceError::invalid(
                "code",
                format!("does not match; {} tries left", pending.tries_left - 1),
            ),
            // Concurrent guesses used the last tries first.
            Ok(false) => locked(),
            Err(error) => error.into(),
        }
    }

    pub async fn resend_verification(
        &self,
        caller: &Caller,
        request: ResendVerificationRequest,
    ) -> Result<ResendVerificationResponse, ServiceError> {
        let kind = requested_kind(request.kind)?;
        let user = self.active(caller).await?;
        let (address, verified) = address_of(&user, kind);
        if let Some(error) = nothing_to_prove(kind, address, verified) {
            return Err(error);
        }
        let now = now_ms();
        let issue = self.issue_code(&user.id, &user.display_name, kind, address, now);
        let expires_at_ms = issue.code.expires_at_ms;
        if !self
            .store
            .replace_code(issue, now - self.codes.resend_interval_ms)
            .await?
        {
            let sent_at = self
                .store
                .contact_code(&user.id, kind)
                .await?
                .map_or(now, |pending| pending.created_at_ms);
            let wait_ms = (sent_at + self.codes.resend_interval_ms - now).max(1);
            return Err(ServiceError::ResourceExhausted(format!(
                "a code was sent less than a minute ago; try again in {} seconds",
                (wait_ms + 999) / 1000
            )));
        }
        self.outbox_written();
        Ok(ResendVerificationResponse {
            expires_at: Some(timestamp(expires_at_ms)),
        })
    }

    pub async fn find_accounts(
        &self,
        request: FindAccountsRequest,
    ) -> Result<FindAccountsResponse, ServiceError> {
        if request.emails.len() > MAX_FIND_EMAILS {
            return Err(ServiceError::invalid(
                "emails",
                format!("at most {MAX_FIND_EMAILS} per call"),
            ));
        }
        let mut emails: Vec<String> = request
            .emails
            .iter()
            .map(|email| email.trim().to_lowercase())
            .filter(|email| !email.is_empty())
            .collect();
        emails.sort_unstable();
        emails.dedup();
        let accounts = self
            .store
            .users_by_emails(&emails)
            .await?
            .iter()
            .map(|user| FoundAccount {
                user_id: user.id.clone(),
                contact: Some(contact_response(user)),
                disabled: user.disabled,
            })
            .collect();
        Ok(FindAccountsResponse { accounts })
    }
}

#[cfg(test)]
mod tests;
