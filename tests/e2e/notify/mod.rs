//! Issue #10's acceptance: verified contacts and svc-notify, against a real SMTP server
//! (aiosmtpd on loopback) and an HTTP SMS gateway on loopback.

pub mod config;
mod confirmations;
mod reminders;
mod retries;
mod sigkill;
mod verification;

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::{
    ballots::{unthrottled_voters, Wiring},
    mail::{ReceivedMail, SmtpSink},
    sms::SmsGateway,
    *,
};

/// A mesh with svc-notify sending to a loopback SMTP server and SMS gateway; registration
/// proves emails for real (no shortcut), and retries are quick.
pub struct NotifyTest {
    pub mesh: Mesh,
    pub smtp: SmtpSink,
    pub sms: SmsGateway,
    pub api: Rest,
    pub admin: Session,
}

/// How a test wants svc-notify and svc-user set, on top of [`NotifyTest::start`]'s.
pub type Tune = fn(&mut svc_notify::Config);

pub const QUICK: Tune = |_| {};

impl NotifyTest {
    pub async fn start(tune: Tune) -> Self {
        Self::start_with(tune, |_| {}).await
    }

    pub async fn start_with(tune: Tune, user: fn(&mut svc_user::Config)) -> Self {
        Self::build(tune, user, None).await
    }

    /// Like [`start`](Self::start), with svc-user, svc-voting and svc-notify on the broker
    /// and `wiring`'s topics, so a test can read every event.
    pub async fn start_on_kafka(wiring: &Wiring) -> Self {
        Self::build(QUICK, |_| {}, Some(wiring.clone())).await
    }

    /// Every topic and group is this test's own, on the broker or on the in-process bus
    /// that every test of this process shares.
    async fn build(tune: Tune, user: fn(&mut svc_user::Config), kafka: Option<Wiring>) -> Self {
        let smtp = SmtpSink::start().await.expect("SMTP server starts");
        let sms = SmsGateway::start().await.expect("SMS gateway starts");
        let (smtp_url, sms_url) = (smtp.url(), sms.url());
        let on_kafka = kafka.is_some();
        let brokers = move || on_kafka.then(crate::support::kafka);
        let wiring = kafka.unwrap_or_else(Wiring::fresh);
        let (for_user, for_candidate, for_voting, for_notify) =
            (wiring.clone(), wiring.clone(), wiring.clone(), wiring);
        let mesh = spawn_mesh_with(MeshOptions {
            user: Instances::one().configured(move |config: &mut svc_user::Config| {
                config.bench_only_insecure_password_hash = true;
                config.bench_only_trust_registered_emails = false;
                config.kafka_brokers = brokers();
                config.contact_topic = contact_topic(&for_user);
                user(config);
            }),
            candidate: Instances::one().configured(move |config: &mut svc_candidate::Config| {
                config.kafka_brokers = brokers();
                config.notification_topic = request_topic(&for_candidate);
            }),
            voting: Instances::one().configured(move |config: &mut svc_voting::Config| {
                config.kafka_brokers = brokers();
                config.ballot_topic = for_voting.ballot_topic.clone();
                config.vote_topic = for_voting.vote_topic.clone();
            }),
            notify: Instances::one().configured(move |config: &mut svc_notify::Config| {
                config.smtp_url = Some(smtp_url.clone());
                config.sms_gateway_url = Some(sms_url.clone());
                config.sms_gateway_auth = Some("Basic QUM6dG9rZW4=".into());
                config.retry_base_ms = 300;
                config.retry_max_ms = 1000;
                config.kafka_brokers = brokers();
                config.vote_topic = for_notify.vote_topic.clone();
                config.contact_topic = contact_topic(&for_notify);
                config.notification_topic = request_topic(&for_notify);
                config.consumer_group = for_notify.group.clone();
                tune(config);
            }),
            edge: Box::new(unthrottled_voters),
            ..Default::default()
        })
        .await;
        let (api, admin) = rest_as_admin(&mesh).await;
        Self {
            mesh,
            smtp,
            sms,
            api,
            admin,
        }
    }

    /// The mails to `address` so far.
    pub fn mails_to(&self, address: &str) -> Vec<ReceivedMail> {
        self.smtp
            .messages()
            .expect("mail log")
            .into_iter()
            .filter(|mail| mail.to.iter().any(|to| to.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// Waits for the `n`th mail to `address`; all of them.
    pub async fn wait_for_mails_to(&self, address: &str, n: usize) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        until_some(&format!("{n} mail(s) to {address}"), deadline, || async {
            let mails = self.mails_to(address);
            (mails.len() >= n).then_some(mails)
        })
        .await
    }

    /// A newly registered, signed-in voter whose email is not verified yet, with the code
    /// that reached their mailbox.
    pub async fn unverified_voter(&self, address: &str) -> (Session, String) {
        self.api.register(address).await;
        let session = self.api.login(address, PASSWORD).await;
        let mails = self.wait_for_mails_to(address, 1).await;
        (session, code_in(&mails[0].body))
    }

    /// A voter who proved their email with the code from their mailbox.
    pub async fn verified_voter(&self, tag: &str) -> Session {
        let address = email(tag);
        let (session, code) = self.unverified_voter(&address).await;
        let reply = verify(&self.api, &session, "CONTACT_KIND_EMAIL", &code).await;
        assert_eq!(reply.0, 200, "{}", reply.1);
        session
    }

    /// An OPEN election with two candidates, `roll` as its voter roll when given.
    pub async fn open_election(&self, title: &str, roll: Option<&[String]>) -> (String, String) {
        let token = &self.admin.access;
        let mut body = draft_body(title);
        if roll.is_some() {
            body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");
        }
        let id = id_of(&create_election(&self.api, token, body).await);
        let first = add_candidate(&self.api, token, &id, "Ada").await;
        add_candidate(&self.api, token, &id, "Grace").await;
        if let Some(roll) = roll {
            let csv = roll.join("\n");
            let path = format!("/v1/elections/{id}/roll:import");
            let (status, report) = self.api.post_csv(&path, token, csv).await;
            assert_eq!(status, 200, "{report}");
        }
        transition_ok(&self.api, token, &id, "ELECTION_STATUS_OPEN").await;
        (id, first)
    }

    /// Casts `choice` as `voter` through the edge.
    pub async fn cast(&self, voter: &Session, election: &str, choice: &str) -> (u16, Value) {
        let path = format!("/v1/elections/{election}/ballots");
        let body = json!({"selection": {"candidate_ids": [choice]}});
        self.api.post(&path, Some(&voter.access), body).await
    }

    /// The admin's view of the delivery log, filtered by the query string.
    pub async fn deliveries(&self, query: &str) -> Vec<Value> {
        let path = format!("/v1/admin/deliveries?page_size=200&{query}");
        let (status, page) = self.api.get(&path, Some(&self.admin.access)).await;
        assert_eq!(status, 200, "{page}");
        page["deliveries"].as_array().cloned().unwrap_or_default()
    }
}

pub use config::eml_to;

/// The verification topic of one test's wiring.
pub fn contact_topic(wiring: &Wiring) -> String {
    format!("{}.contact", wiring.vote_topic)
}

/// The invitation and reminder topic of one test's wiring.
pub fn request_topic(wiring: &Wiring) -> String {
    format!("{}.requests", wiring.vote_topic)
}

/// Enters `code` for the caller's address of `kind`.
pub async fn verify(api: &Rest, voter: &Session, kind: &str, code: &str) -> (u16, Value) {
    let body = json!({"kind": kind, "code": code});
    api.post("/v1/me/verify", Some(&voter.access), body).await
}

/// The six-digit code a message gives: six digits standing alone right after "… is " or
/// "…: " (as in "your code is 123456" or "Subject: Your votemesh code: 123456"); other runs
/// of digits, as in a Message-ID, are not it.
pub fn code_in(text: &str) -> String {
    ["is ", ": "]
        .iter()
        .flat_map(|lead| text.match_indices(lead).map(move |(at, _)| at + lead.len()))
        .find_map(|start| {
            let code: String = text[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            let next = text[start + code.len()..].chars().next();
            (code.len() == 6 && !next.is_some_and(|c| c.is_ascii_alphanumeric())).then_some(code)
        })
        .unwrap_or_else(|| panic!("no code in {text:?}"))
}
