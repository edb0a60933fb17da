//! svc-notify's settings, and the checks that turn a bad one into an error at start that
//! names its flag.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{bail, Context};
use kit::config::CommonArgs;

use crate::{
    channels::{Channels, FileMailer, FileSms, HttpSmsGateway, Mailer, SmsSender, SmtpMailer},
    sender::SendSettings,
    templates::Templates,
};

/// How an SMS is put to the gateway.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsFormat {
    /// `application/x-www-form-urlencoded` with `To`, `From` and `Body`, as Twilio's
    /// Messages API takes it.
    TwilioForm,
    /// `application/json` with `to`, `from` and `body`.
    Json,
}

/// svc-notify settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `postgres://…` in production, `sqlite://path?mode=rwc` embedded.
    #[arg(long, env = "VOTEMESH_NOTIFY_DATABASE_URL")]
    pub database_url: String,
    /// Database pool size.
    #[arg(long, env = "VOTEMESH_NOTIFY_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// Kafka bootstrap servers; unset uses the in-process bus.
    #[arg(long, env = "VOTEMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic of VoteRecorded events (vote confirmations).
    #[arg(long, env = "VOTEMESH_VOTE_TOPIC", default_value = kit::bus::topics::VOTE_RECORDED)]
    pub vote_topic: String,
    /// Topic of ContactVerificationRequested events (codes).
    #[arg(long, env = "VOTEMESH_CONTACT_TOPIC", default_value = kit::bus::topics::CONTACT_VERIFICATION)]
    pub contact_topic: String,
    /// Topic of NotificationsRequested events (invitations and reminders).
    #[arg(long, env = "VOTEMESH_NOTIFICATION_TOPIC", default_value = kit::bus::topics::NOTIFICATION_REQUESTS)]
    pub notification_topic: String,
    /// Partitions of each topic when svc-notify creates it.
    #[arg(long, env = "VOTEMESH_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Prefix of the consumer groups (one per topic); replicas share them.
    #[arg(
        long,
        env = "VOTEMESH_NOTIFY_CONSUMER_GROUP",
        default_value = "svc-notify"
    )]
    pub consumer_group: String,
    /// Where email goes, e.g. `smtp://user:pass@host:587?tls=starttls` or `smtps://…`.
    /// Unset: every email is written as an `.eml` file under --mail-dir.
    #[arg(long, env = "VOTEMESH_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of every email.
    #[arg(
        long,
        env = "VOTEMESH_MAIL_FROM",
        default_value = "votemesh <no-reply@votemesh.invalid>"
    )]
    pub mail_from: String,
    /// Where mail (`.eml`) and SMS (`sms.jsonl`) are written when no SMTP URL or SMS gateway
    /// is set: the embedded default's outbox.
    #[arg(long, env = "VOTEMESH_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,
    /// The SMS gateway's send endpoint, e.g.
    /// `https://api.twilio.com/2010-04-01/Accounts/<sid>/Messages.json`. Unset: SMS are
    /// written under --mail-dir, or, without one, sent as email instead.
    #[arg(long, env = "VOTEMESH_SMS_GATEWAY_URL")]
    pub sms_gateway_url: Option<String>,
    /// The `Authorization` header value for the gateway, e.g. `Basic <base64 sid:token>`.
    #[arg(long, env = "VOTEMESH_SMS_GATEWAY_AUTH", hide_env_values = true)]
    pub sms_gateway_auth: Option<String>,
    /// How the SMS is put to the gateway.
    #[arg(
        long,
        env = "VOTEMESH_SMS_FORMAT",
        value_enum,
        default_value = "twilio-form"
    )]
    pub sms_format: SmsFormat,
    /// The sender id or number SMS come from.
    #[arg(long, env = "VOTEMESH_SMS_FROM", default_value = "votemesh")]
    pub sms_from: String,
    /// The web address links in messages point to.
    #[arg(
        long,
        env = "VOTEMESH_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// A directory of templates (`<name>.txt`) that replace the compiled-in ones.
    #[arg(long, env = "VOTEMESH_TEMPLATES_DIR")]
    pub templates_dir: Option<PathBuf>,
    /// Attempts before a delivery is DEAD.
    #[arg(long, env = "VOTEMESH_NOTIFY_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: u32,
    /// The first retry's delay; each later one doubles, with jitter.
    #[arg(long, env = "VOTEMESH_NOTIFY_RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,
    /// The longest delay between retries.
    #[arg(long, env = "VOTEMESH_NOTIFY_RETRY_MAX_MS", default_value_t = 600_000)]
    pub retry_max_ms: u64,
    /// How long a delivery being sent is held; one whose sender died is tried again after.
    #[arg(long, env = "VOTEMESH_NOTIFY_SEND_LEASE_MS", default_value_t = 60_000)]
    pub send_lease_ms: u64,
    /// Messages sent at once.
    #[arg(long, env = "VOTEMESH_NOTIFY_SEND_CONCURRENCY", default_value_t = 8)]
    pub send_concurrency: usize,
    /// How long one SMTP or gateway exchange may take.
    #[arg(
        long,
        env = "VOTEMESH_NOTIFY_SEND_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub send_timeout_ms: u64,
}

fn http_url(flag: &str, value: &str) -> anyhow::Result<url::Url> {
    let parsed = url::Url::parse(value).with_context(|| {
        format!("--{flag}: {value:?} is not a URL (it needs http:// or https://)")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("--{flag}: {value:?} must be an http:// or https:// URL with a host");
    }
    Ok(parsed)
}

impl Config {
    fn send_timeout(&self) -> Duration {
        Duration::from_millis(self.send_timeout_ms)
    }

    /// The mail and SMS adapters these flags choose.
    pub fn channels(&self) -> anyhow::Result<Channels> {
        let from: lettre::message::Mailbox = self
            .mail_from
            .parse()
            .with_context(|| format!("--mail-from: {:?} is not an address", self.mail_from))?;
        let mail: Arc<dyn Mailer> = match (&self.smtp_url, &self.mail_dir) {
            (Some(url), _) => Arc::new(
                SmtpMailer::new(url, from, self.send_timeout())
                    .map_err(|error| anyhow::anyhow!("--smtp-url: {error}"))?,
            ),
            (None, Some(dir)) => Arc::new(FileMailer::new(dir, from)?),
            (None, None) => bail!(
                "--smtp-url (VOTEMESH_SMTP_URL) is required, or --mail-dir to write mail to files"
            ),
        };
        let sms: Option<Arc<dyn SmsSender>> = match (&self.sms_gateway_url, &self.mail_dir) {
            (Some(url), _) => {
                let url = http_url("sms-gateway-url", url)?;
                Some(Arc::new(HttpSmsGateway::new(
                    url,
                    self.sms_gateway_auth.clone(),
                    self.sms_format,
                    self.sms_from.clone(),
                    self.send_timeout(),
                )?))
            }
            (None, Some(dir)) => Some(Arc::new(FileSms::new(dir)?)),
            (None, None) => None,
        };
        Ok(Channels { mail, sms })
    }

    /// The compiled-in templates, with any from --templates-dir in their place.
    pub fn templates(&self) -> anyhow::Result<Templates> {
        http_url("public-url", &self.public_url)?;
        Templates::load(self.templates_dir.as_deref())
            .map_err(|error| anyhow::anyhow!("--templates-dir: {error}"))
    }

    pub(crate) fn sending(&self) -> SendSettings {
        SendSettings {
            concurrency: self.send_concurrency.max(1),
            lease: Duration::from_millis(self.send_lease_ms.max(1000)),
            retry_base: Duration::from_millis(self.retry_base_ms.max(1)),
            retry_max: Duration::from_millis(self.retry_max_ms.max(self.retry_base_ms)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Config {
        let mut all = vec!["--internal-token=t", "--database-url=sqlite::memory:"];
        all.extend_from_slice(args);
        kit::config::local(all.into_iter().map(String::from)).expect("parses")
    }

    fn error_of(args: &[&str]) -> String {
        match config(args).channels() {
            Ok(_) => panic!("{args:?} should be refused"),
            Err(error) => format!("{error:#}"),
        }
    }

    // The SMTP pool spawns its reaper on the runtime.
    #[tokio::test]
    async fn a_malformed_smtp_url_names_its_flag() {
        assert!(error_of(&["--smtp-url=not a url"]).contains("--smtp-url"));
        assert!(error_of(&["--smtp-url=ftp://host"]).contains("--smtp-url"));
    }

    // The SMTP pool spawns its reaper on the runtime.
    #[tokio::test]
    async fn a_gateway_url_without_a_scheme_names_its_flag() {
        let error = error_of(&[
            "--smtp-url=smtp://127.0.0.1:25",
            "--sms-gateway-url=sms.example.org/send",
        ]);
        assert!(error.contains("--sms-gateway-url"), "{error}");
    }

    // The SMTP pool spawns its reaper on the runtime.
    #[tokio::test]
    async fn no_way_to_send_mail_is_refused() {
        assert!(error_of(&[]).contains("--smtp-url"));
    }

    // The SMTP pool spawns its reaper on the runtime.
    #[tokio::test]
    async fn good_settings_build_both_channels() {
        let channels = config(&[
            "--smtp-url=smtp://u:p@127.0.0.1:2525?tls=starttls",
            "--sms-gateway-url=https://sms.example.org/send",
        ])
        .channels()
        .expect("valid");
        assert!(channels.sms.is_some());
    }
}
