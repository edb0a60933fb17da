//! A real SMTP server for svc-notify to send to: `smtp_sink.py` (aiosmtpd) as a child process,
//! which appends every accepted message to a file as one JSON line. The server is a separate
//! process so that a test can stop it (connections refused) and restart it on the same port.
//!
//! Recipients steer its replies: a local part starting with `reject-` gets
//! `550 5.1.1 mailbox unavailable`, one starting with `defer-` gets `451 4.3.0 try again later`.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{bail, Context};
use base64::{engine::general_purpose::STANDARD, Engine};
use tokio::time::Instant;

use super::process::{free_port, ChildGuard};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/e2e/support/smtp_sink.py"
);

/// How long the server may take to listen; Python with asyncio starts in well under this.
const START: Duration = Duration::from_secs(10);

/// One message as the server accepted it.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    /// The envelope sender (MAIL FROM).
    pub mail_from: String,
    /// The envelope recipients the server accepted (RCPT TO), not the `To:` header.
    pub to: Vec<String>,
    /// The `Subject:` header, RFC 2047 encoded words decoded; empty when absent.
    pub subject: String,
    /// The text body with its transfer encoding undone, `\n` line ends and without its final
    /// line end (SMTP adds one when missing, so none can tell); for a multipart message, its
    /// first `text/plain` part.
    pub body: String,
    pub message_id: Option<String>,
    /// The message as it came over the wire (headers and body, CRLF line ends).
    pub raw: String,
}

impl ReceivedMail {
    /// The first header `name` (any case), unfolded and with encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        header(split_message(&self.raw).0, name)
    }
}

pub struct SmtpSink {
    port: u16,
    log: PathBuf,
    process: Option<ChildGuard>,
    // Holds the log file's directory for as long as the sink lives.
    _dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the server on a free loopback port and waits until it accepts connections. A
    /// port another test took meanwhile is left to it, and another one picked.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("a directory for the mail log")?;
        let mut sink = Self {
            port: free_port(),
            log: dir.path().join("mail.jsonl"),
            process: None,
            _dir: dir,
        };
        let deadline = Instant::now() + START;
        loop {
            match sink.spawn_once().await {
                Ok(process) => {
                    sink.process = Some(process);
                    return Ok(sink);
                }
                Err(Attempt::Busy(_)) if Instant::now() < deadline => sink.port = free_port(),
                Err(Attempt::Busy(error) | Attempt::Failed(error)) => return Err(error),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Plain SMTP: no TLS, no authentication.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message accepted so far, oldest first, across restarts.
    pub fn messages(&self) -> anyhow::Result<Vec<ReceivedMail>> {
        let text = match std::fs::read_to_string(&self.log) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(error).context("reading the mail log"),
        };
        // A line without its newline is still being written; it counts on the next look.
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        complete
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(parse_line)
            .collect()
    }

    /// Waits until at least `count` messages have arrived; all of them.
    pub async fn wait_for_count(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedMail>> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages()?;
            if messages.len() >= count {
                return Ok(messages);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} of {count} mails arrived within {timeout:?}; subjects: {:?}",
                    messages.len(),
                    messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Takes the server down: until [`SmtpSink::restart`] it answers every EHLO, HELO and
    /// MAIL with 421 (service not available) and accepts nothing. It keeps its port, so no
    /// other test's server can take the port and receive this test's mail meanwhile.
    pub async fn stop(&mut self) {
        std::fs::write(self.down_flag(), b"").expect("the sink's down flag");
    }

    fn down_flag(&self) -> PathBuf {
        self.log.with_extension("jsonl.down")
    }

    /// Brings the server back on the same port, appending to the same file.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        match std::fs::remove_file(self.down_flag()) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).context("removing the down flag"),
        }
        if self.process.is_some() {
            return Ok(());
        }
        let deadline = Instant::now() + START;
        loop {
            match self.spawn_once().await {
                Ok(process) => {
                    self.process = Some(process);
                    return Ok(());
                }
                // The port may still be held for a moment by what last listened on it.
                Err(Attempt::Busy(error)) if Instant::now() < deadline => {
                    eprintln!(
                        "smtp sink on {} did not start, retrying: {error:#}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(Attempt::Busy(error) | Attempt::Failed(error)) => return Err(error),
            }
        }
    }

    /// One attempt: spawns the script and waits for its ready line.
    async fn spawn_once(&self) -> Result<ChildGuard, Attempt> {
        let mut process = ChildGuard::spawn(
            Command::new("python3")
                .arg(SCRIPT)
                .arg(self.port.to_string())
                .arg(&self.log)
                .stdout(Stdio::piped()),
        );
        let line = first_line(&mut process).await.map_err(Attempt::Failed)?;
        if let Some(error) = line.strip_prefix("busy ") {
            return Err(Attempt::Busy(anyhow::anyhow!(
                "port {}: {}",
                self.port,
                error.trim()
            )));
        }
        if !line.starts_with("ready ") {
            // Its traceback went to stderr; the likely cause is a missing module.
            let status = process.still_running().err().unwrap_or_default();
            return Err(Attempt::Failed(anyhow::anyhow!(
                "the smtp sink did not start (is aiosmtpd installed? \
                 python3 -m pip install aiosmtpd): {status}"
            )));
        }
        Ok(process)
    }
}

/// Why one start of the sink failed: `Busy` is worth another try on the same port.
enum Attempt {
    Busy(anyhow::Error),
    Failed(anyhow::Error),
}

/// The first line the process writes to stdout; empty when it ends without one.
async fn first_line(process: &mut ChildGuard) -> anyhow::Result<String> {
    let stdout = process.0.stdout.take().context("the sink's stdout")?;
    let ready = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(START, ready)
        .await
        .context("the smtp sink did not report ready in time")??
        .context("reading the sink's ready line")?;
    Ok(line)
}

/// One line of the log: `{mail_from, rcpt_tos, data}`.
fn parse_line(line: &str) -> anyhow::Result<ReceivedMail> {
    let value: serde_json::Value = serde_json::from_str(line).context("a mail log line")?;
    let raw = value["data"].as_str().context("data")?.to_owned();
    let (head, body) = split_message(&raw);
    Ok(ReceivedMail {
        mail_from: value["mail_from"].as_str().unwrap_or_default().to_owned(),
        to: value["rcpt_tos"]
            .as_array()
            .context("rcpt_tos")?
            .iter()
            .filter_map(|to| to.as_str().map(str::to_owned))
            .collect(),
        subject: header(head, "subject").unwrap_or_default(),
        body: strip_line_end(&text_body(head, body)).to_owned(),
        message_id: header(head, "message-id"),
        raw,
    })
}

/// Headers and body, split at the first empty line.
fn split_message(raw: &str) -> (&str, &str) {
    for separator in ["\r\n\r\n", "\n\n"] {
        if let Some(at) = raw.find(separator) {
            return (&raw[..at], &raw[at + separator.len()..]);
        }
    }
    (raw, "")
}

/// The first header `name` in `head`, unfolded, with encoded words decoded.
fn header(head: &str, name: &str) -> Option<String> {
    let mut found: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            // A folded continuation belongs to the header before it.
            if let Some(value) = found.as_mut() {
                value.push_str(line);
            }
            continue;
        }
        if found.is_some() {
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            if key.trim().eq_ignore_ascii_case(name) {
                found = Some(value.trim().to_owned());
            }
        }
    }
    found.map(|value| decode_words(value.trim()))
}

/// The `name` parameter of a header value such as `multipart/alternative; boundary="x"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// The text of a body: the first `text/plain` part of a multipart one, decoded.
fn text_body(head: &str, body: &str) -> String {
    let content_type = header(head, "content-type").unwrap_or_default();
    if content_type.to_ascii_lowercase().starts_with("multipart/") {
        let Some(boundary) = parameter(&content_type, "boundary") else {
            return body.to_owned();
        };
        let delimiter = format!("--{boundary}");
        let parts = body.split(delimiter.as_str()).skip(1);
        let mut texts = parts
            .take_while(|part| !part.starts_with("--"))
            .map(|part| part.trim_start_matches(['\r', '\n']))
            .map(split_message)
            .filter(|(head, _)| {
                let kind = header(head, "content-type").unwrap_or_default();
                let kind = kind.to_ascii_lowercase();
                kind.is_empty() || kind.starts_with("text/plain") || kind.starts_with("multipart/")
            });
        return texts
            .next()
            // The line end before a boundary belongs to the boundary (RFC 2046).
            .map(|(head, body)| text_body(head, strip_line_end(body)))
            .unwrap_or_default();
    }
    let encoding = header(head, "content-transfer-encoding").unwrap_or_default();
    let bytes = match encoding.to_ascii_lowercase().as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap_or_else(|_| body.as_bytes().to_vec()),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
}

fn strip_line_end(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Undoes quoted-printable (RFC 2045): `=XX` bytes and `=` soft line breaks.
fn quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes[i + 1..].starts_with(b"\r\n") {
            i += 3;
        } else if bytes[i + 1..].starts_with(b"\n") {
            i += 2;
        } else if let Some(byte) = bytes.get(i + 1..i + 3).and_then(hex_byte) {
            out.push(byte);
            i += 3;
        } else {
            // Not valid quoted-printable: keep it as it stands.
            out.push(b'=');
            i += 1;
        }
    }
    out
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()
}

/// Decodes RFC 2047 encoded words (`=?utf-8?B?…?=`, `=?utf-8?Q?…?=`), which lettre uses for
/// non-ASCII headers; whitespace between two encoded words goes, as the RFC says.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut after_word = false;
    while let Some(start) = rest.find("=?") {
        let Some((decoded, len)) = encoded_word(&rest[start..]) else {
            out.push_str(&rest[..start + 2]);
            rest = &rest[start + 2..];
            after_word = false;
            continue;
        };
        let between = &rest[..start];
        if !(after_word && between.trim().is_empty()) {
            out.push_str(between);
        }
        out.push_str(&decoded);
        rest = &rest[start + len..];
        after_word = true;
    }
    out.push_str(rest);
    out
}

/// One encoded word at the start of `text`: its text and its length.
fn encoded_word(text: &str) -> Option<(String, usize)> {
    let inner = text.strip_prefix("=?")?;
    let (_charset, inner) = inner.split_once('?')?;
    let (encoding, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let payload = &inner[..end];
    let bytes = match encoding {
        "B" | "b" => STANDARD.decode(payload).ok()?,
        "Q" | "q" => quoted_printable(&payload.replace('_', " ")),
        _ => return None,
    };
    let len = text.len() - inner.len() + end + 2;
    Some((String::from_utf8_lossy(&bytes).into_owned(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_lettre_writes() {
        let raw = "Subject: =?utf-8?b?V8OkaGw=?= =?utf-8?q?_=C3=B6ffnet?=\r\n\
                   Message-ID: <1@x>\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                   Gr=C3=BC=C3=9Fe, die Wahl =\r\nl=C3=A4uft.\r\n";
        let (head, body) = split_message(raw);
        assert_eq!(header(head, "SUBJECT").as_deref(), Some("Wähl öffnet"));
        assert_eq!(header(head, "message-id").as_deref(), Some("<1@x>"));
        assert_eq!(text_body(head, body), "Grüße, die Wahl läuft.\n");
        assert_eq!(
            strip_line_end(&text_body(head, body)),
            "Grüße, die Wahl läuft."
        );
    }

    #[test]
    fn picks_the_plain_part_of_multipart() {
        let raw = "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n\
                   Content-Type: text/plain; charset=utf-8\r\n\
                   Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--b1\r\n\
                   Content-Type: text/html\r\n\r\n<p>hello</p>\r\n--b1--\r\n";
        let (head, body) = split_message(raw);
        assert_eq!(text_body(head, body), "hello");
    }
}
