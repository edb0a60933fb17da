//! The ports messages leave through, and their adapters: SMTP through lettre and an HTTP SMS
//! gateway in production; files under the data directory for the embedded default.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use async_trait::async_trait;
use lettre::{
    message::{header::ContentType, Mailbox},
    Message,
};
use tokio::io::AsyncWriteExt;

use crate::SmsFormat;

mod gate;
mod smtp;

pub use gate::Commit;
pub use smtp::SmtpMailer;

/// One message to send. `id` is the delivery's id: it names the message (Message-ID, file)
/// so a copy is recognisable as the same message.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// Why a send failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Refused for good (an SMTP 5xx, a gateway 4xx, an unusable address).
    #[error("refused: {0}")]
    Permanent(String),
    /// Refused for now, or failed before the message could reach anyone: worth another try
    /// (a connection failure, an SMTP 4xx, a gateway 5xx).
    #[error("failed for now: {0}")]
    Transient(String),
    /// No answer (a timeout, a dropped connection): the message may or may not have been
    /// taken. Tried again only if it was not yet recorded as sent.
    #[error("no answer: {0}")]
    Unanswered(String),
}

#[async_trait]
pub trait Mailer: Send + Sync {
    /// Sends `mail`. An adapter that can hold a message back at the last moment runs
    /// `commit` (which records it as sent) right before the server can take it; one that
    /// cannot (a file, written idempotently) leaves it, and the caller records afterwards.
    async fn send(&self, mail: &Outgoing, commit: Commit) -> Result<(), SendError>;
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    async fn send(&self, sms: &Outgoing) -> Result<(), SendError>;
}

/// The adapters in use. Without an SMS adapter, SMS recipients are mailed instead.
#[derive(Clone)]
pub struct Channels {
    pub mail: Arc<dyn Mailer>,
    pub sms: Option<Arc<dyn SmsSender>>,
}

/// The message as RFC 5322 text, the same for SMTP and for an `.eml` file.
fn message(from: &Mailbox, mail: &Outgoing) -> Result<Message, SendError> {
    let to: Mailbox = mail
        .recipient
        .parse()
        .map_err(|error| SendError::Permanent(format!("recipient address: {error}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}@votemesh>", mail.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|error| SendError::Permanent(format!("building the message: {error}")))
}

async fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), SendError> {
    let written = async {
        let mut file = tokio::fs::File::create(path).await?;
        file.write_all(bytes).await?;
        file.sync_all().await
    };
    written
        .await
        .map_err(|error| SendError::Transient(format!("writing {}: {error}", path.display())))
}

/// Email as `.eml` files in a directory: what `votemesh up` does without an SMTP server.
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: &Path, from: Mailbox) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--mail-dir: creating {}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Outgoing, _commit: Commit) -> Result<(), SendError> {
        let text = message(&self.from, mail)?.formatted();
        // Named by delivery, so a resend overwrites rather than duplicates.
        write_new_file(&self.dir.join(format!("{}.eml", mail.id)), &text).await
    }
}

/// SMS as JSON lines in `<dir>/sms.jsonl`.
pub struct FileSms {
    path: PathBuf,
    lock: tokio::sync::Mutex<()>,
}

impl FileSms {
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--mail-dir: creating {}", dir.display()))?;
        Ok(Self {
            path: dir.join("sms.jsonl"),
            lock: tokio::sync::Mutex::new(()),
        })
    }
}

#[async_trait]
impl SmsSender for FileSms {
    async fn send(&self, sms: &Outgoing) -> Result<(), SendError> {
        let mut line =
            serde_json::json!({"id": sms.id, "to": sms.recipient, "body": sms.body}).to_string();
        line.push('\n');
        let _turn = self.lock.lock().await;
        let appended = async {
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .await?;
            file.write_all(line.as_bytes()).await?;
            file.sync_data().await
        };
        appended.await.map_err(|error| {
            SendError::Transient(format!("writing {}: {error}", self.path.display()))
        })
    }
}

/// SMS through an HTTP gateway (Twilio's Messages API shape by default).
pub struct HttpSmsGateway {
    client: reqwest::Client,
    url: url::Url,
    authorization: Option<String>,
    format: SmsFormat,
    from: String,
}

impl HttpSmsGateway {
    pub fn new(
        url: url::Url,
        authorization: Option<String>,
        format: SmsFormat,
        from: String,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("--sms-gateway-url: building the HTTP client")?;
        Ok(Self {
            client,
            url,
            authorization,
            format,
            from,
        })
    }
}

#[async_trait]
impl SmsSender for HttpSmsGateway {
    async fn send(&self, sms: &Outgoing) -> Result<(), SendError> {
        let request = self.client.post(self.url.clone());
        let request = match self.format {
            SmsFormat::TwilioForm => request.form(&[
                ("To", sms.recipient.as_str()),
                ("From", self.from.as_str()),
                ("Body", sms.body.as_str()),
            ]),
            SmsFormat::Json => request.json(&serde_json::json!({
                "to": sms.recipient, "from": self.from, "body": sms.body,
            })),
        };
        let request = match &self.authorization {
            Some(value) => request.header(reqwest::header::AUTHORIZATION, value),
            None => request,
        };
        let response = request
            .header("Idempotency-Key", &sms.id)
            .send()
            .await
            .map_err(|error| SendError::Transient(format!("gateway: {error}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            Err(SendError::Permanent(format!("gateway answered {status}")))
        } else {
            Err(SendError::Transient(format!("gateway answered {status}")))
        }
    }
}
