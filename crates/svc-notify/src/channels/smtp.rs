//! Email over SMTP with lettre's connection, on connections set up here so that TLS sits
//! below the [`gate`](super::gate): implicit TLS (`smtps://`) and STARTTLS (`?tls=required`)
//! are negotiated first, then lettre speaks SMTP over a stream whose end of DATA waits for
//! the delivery to be recorded. Idle connections are kept and reused.

use std::{net::SocketAddr, sync::Arc, sync::Mutex, time::Duration};

use async_trait::async_trait;
use lettre::{
    message::Mailbox,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::AsyncSmtpConnection,
        extension::ClientId,
    },
};
use percent_encoding::percent_decode_str;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

use super::{
    gate::{Commit, Gate, GatedStream, Transport},
    message, Mailer, Outgoing, SendError,
};

/// Connections kept for reuse at most.
const IDLE_MAX: usize = 16;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Security {
    /// Plain text: loopback relays and tests.
    None,
    /// STARTTLS when the server offers it, else plain (not for production: a man in the
    /// middle can strip the offer).
    Opportunistic,
    /// STARTTLS, or no connection at all.
    Required,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

/// Where and how to reach the server, from `--smtp-url`.
#[derive(Clone, Debug)]
struct Target {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
}

fn decoded(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

impl Target {
    /// `smtp://[user:pass@]host[:port][?tls=none|opportunistic|required|starttls]` or
    /// `smtps://[user:pass@]host[:port]`.
    fn parse(url: &str) -> Result<Self, String> {
        let parsed = url::Url::parse(url).map_err(|error| format!("{url:?}: {error}"))?;
        let host = parsed
            .host_str()
            .filter(|host| !host.is_empty())
            .ok_or_else(|| format!("{url:?}: no host"))?
            .to_owned();
        let tls = parsed
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let security = match (parsed.scheme(), tls.as_deref()) {
            ("smtps", _) => Security::Implicit,
            ("smtp", None | Some("none")) => Security::None,
            ("smtp", Some("opportunistic")) => Security::Opportunistic,
            ("smtp", Some("required" | "starttls")) => Security::Required,
            ("smtp", Some(other)) => {
                return Err(format!(
                    "{url:?}: tls={other} is not one of none, opportunistic, required, starttls"
                ))
            }
            (scheme, _) => {
                return Err(format!(
                    "{url:?}: the scheme must be smtp or smtps, not {scheme}"
                ))
            }
        };
        let default_port = if security == Security::Implicit {
            465
        } else {
            25
        };
        let credentials = (!parsed.username().is_empty()).then(|| {
            let password = parsed.password().map(decoded).unwrap_or_default();
            Credentials::new(decoded(parsed.username()), password)
        });
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(default_port),
            security,
            credentials,
        })
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth());
    // ring supports the safe default versions; only a broken build could fail here.
    Arc::new(config.unwrap_or_else(|error| panic!("TLS configuration: {error}")))
}

/// A connection with the gate its end of DATA waits at.
struct Connection {
    smtp: AsyncSmtpConnection,
    gate: Arc<Gate>,
}

pub struct SmtpMailer {
    target: Target,
    from: Mailbox,
    timeout: Duration,
    hello: ClientId,
    tls: Arc<rustls::ClientConfig>,
    idle: Mutex<Vec<Connection>>,
}

fn transient(error: impl std::fmt::Display) -> SendError {
    SendError::Transient(error.to_string())
}

/// Reads one SMTP reply (every line of a multi-line one); returns its code and text.
async fn reply(reader: &mut BufReader<TcpStream>) -> Result<(u16, String), SendError> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.map_err(transient)? == 0 {
            return Err(transient("the SMTP server closed the connection"));
        }
        text.push_str(&line);
        if line.as_bytes().get(3) != Some(&b'-') {
            let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
            return Ok((code, text));
        }
    }
}

impl SmtpMailer {
    pub fn new(url: &str, from: Mailbox, timeout: Duration) -> Result<Self, String> {
        Ok(Self {
            target: Target::parse(url)?,
            from,
            timeout,
            hello: ClientId::default(),
            tls: tls_config(),
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn tls(&self, tcp: TcpStream) -> Result<Box<dyn Transport>, SendError> {
        let name = rustls::pki_types::ServerName::try_from(self.target.host.clone())
            .map_err(|error| SendError::Permanent(format!("TLS server name: {error}")))?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let stream = connector.connect(name, tcp).await.map_err(transient)?;
        Ok(Box::new(stream))
    }

    /// The greeting, EHLO and STARTTLS done here, so TLS ends up below the gate; returns the
    /// stream and the greeting for lettre to read first.
    async fn starttls(&self, tcp: TcpStream) -> Result<(Box<dyn Transport>, Vec<u8>), SendError> {
        let mut reader = BufReader::new(tcp);
        let (_, greeting) = reply(&mut reader).await?;
        reader
            .get_mut()
            .write_all(format!("EHLO {}\r\n", self.hello).as_bytes())
            .await
            .map_err(transient)?;
        let (code, offer) = reply(&mut reader).await?;
        let offered = code == 250 && offer.to_ascii_uppercase().contains("STARTTLS");
        if !offered {
            if self.target.security == Security::Required {
                return Err(SendError::Permanent(
                    "the SMTP server does not offer STARTTLS".into(),
                ));
            }
            return Ok((Box::new(reader.into_inner()), greeting.into_bytes()));
        }
        reader
            .get_mut()
            .write_all(b"STARTTLS\r\n")
            .await
            .map_err(transient)?;
        let (code, text) = reply(&mut reader).await?;
        if code != 220 {
            return Err(transient(format!("STARTTLS refused: {}", text.trim())));
        }
        Ok((self.tls(reader.into_inner()).await?, greeting.into_bytes()))
    }

    async fn connect(&self) -> Result<Connection, SendError> {
        let target = (self.target.host.as_str(), self.target.port);
        let tcp = TcpStream::connect(target).await.map_err(transient)?;
        let peer: SocketAddr = tcp.peer_addr().map_err(transient)?;
        let (stream, greeting): (Box<dyn Transport>, Vec<u8>) = match self.target.security {
            Security::None => (Box::new(tcp), Vec::new()),
            Security::Implicit => (self.tls(tcp).await?, Vec::new()),
            Security::Opportunistic | Security::Required => self.starttls(tcp).await?,
        };
        let gate = Arc::new(Gate::default());
        let stream = GatedStream::new(stream, gate.clone(), greeting, peer);
        let mut smtp = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
            .await
            .map_err(smtp_error)?;
        if let Some(credentials) = &self.target.credentials {
            smtp.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(smtp_error)?;
        }
        Ok(Connection { smtp, gate })
    }

    fn idle(&self) -> Option<Connection> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn keep(&self, connection: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_MAX && !connection.smtp.has_broken() {
            idle.push(connection);
        }
    }

    /// One attempt on `connection`; gives the commit back when the message never reached
    /// its end, so it may go again on a fresh connection.
    async fn attempt(
        &self,
        mut connection: Connection,
        message: &lettre::Message,
        commit: Commit,
    ) -> (Result<(), SendError>, Option<Commit>) {
        connection.gate.arm(commit);
        let sent = connection
            .smtp
            .send(message.envelope(), &message.formatted())
            .await;
        let unused = connection.gate.take();
        match sent {
            Ok(_) => {
                self.keep(connection);
                (Ok(()), unused)
            }
            Err(error) => {
                connection.smtp.abort().await;
                (Err(smtp_error(error)), unused)
            }
        }
    }

    async fn deliver(&self, mail: &Outgoing, commit: Commit) -> Result<(), SendError> {
        let message = message(&self.from, mail)?;
        if let Some(idle) = self.idle() {
            match self.attempt(idle, &message, commit).await {
                // A kept connection the server has since closed fails before the message
                // ends: the commit never ran, so a fresh connection may try at once.
                (Err(SendError::Transient(_) | SendError::Unanswered(_)), Some(commit)) => {
                    let fresh = self.connect().await?;
                    return self.attempt(fresh, &message, commit).await.0;
                }
                (outcome, _) => return outcome,
            }
        }
        let fresh = self.connect().await?;
        self.attempt(fresh, &message, commit).await.0
    }
}

/// A refusal is the server's word; anything else (I/O, timeout) leaves it unknown whether
/// the message arrived.
fn smtp_error(error: lettre::transport::smtp::Error) -> SendError {
    if error.is_permanent() {
        SendError::Permanent(error.to_string())
    } else if error.is_transient() {
        SendError::Transient(error.to_string())
    } else {
        SendError::Unanswered(error.to_string())
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Outgoing, commit: Commit) -> Result<(), SendError> {
        match tokio::time::timeout(self.timeout, self.deliver(mail, commit)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SendError::Unanswered(
                "the SMTP server did not answer in time".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_host_port_security_and_credentials() {
        let target = Target::parse("smtp://ada%40x:p%3Ass@mail.example.org:587?tls=starttls")
            .expect("valid");
        assert_eq!(
            (target.host.as_str(), target.port),
            ("mail.example.org", 587)
        );
        assert_eq!(target.security, Security::Required);
        assert!(target.credentials.is_some());
        let implicit = Target::parse("smtps://mail.example.org").expect("valid");
        assert_eq!(
            (implicit.port, implicit.security),
            (465, Security::Implicit)
        );
        let plain = Target::parse("smtp://127.0.0.1").expect("valid");
        assert_eq!((plain.port, plain.security), (25, Security::None));
        assert!(plain.credentials.is_none());
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, says) in [
            ("ftp://host", "scheme"),
            ("smtp://host?tls=maybe", "tls=maybe"),
            ("not a url", "not a url"),
        ] {
            let error = Target::parse(url).expect_err(url);
            assert!(error.contains(says), "{url}: {error}");
        }
    }
}
