//! The sinks svc-notify's tests send to work on their own: the SMTP sink records and parses
//! what a client sends over a plain SMTP exchange, replies 5xx/4xx by recipient and comes
//! back on its port after a stop; the SMS gateway records a form POST and answers the status
//! it is switched to.

use std::time::Duration;

use anyhow::{ensure, Context};
use axum::http::StatusCode;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

use crate::support::{mail::SmtpSink, sms::SmsGateway};

const ARRIVAL: Duration = Duration::from_secs(10);

/// A bare SMTP client: lettre is not a dependency of the test crate, and a hand-written
/// exchange also shows each reply code the sink gives.
struct Smtp {
    stream: BufReader<TcpStream>,
}

impl Smtp {
    /// Connects and says HELO; fails when nothing listens on `port`.
    async fn connect(port: u16) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut smtp = Self {
            stream: BufReader::new(stream),
        };
        let (greeting, text) = smtp.reply().await?;
        ensure!(greeting == 220, "greeting {greeting} {text}");
        smtp.expect("HELO votemesh.test", 250).await?;
        Ok(smtp)
    }

    /// One reply, possibly multi-line (`250-…` lines up to a `250 …` line): code and text.
    async fn reply(&mut self) -> anyhow::Result<(u16, String)> {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            ensure!(
                self.stream.read_line(&mut line).await? > 0,
                "connection closed"
            );
            let code = line.get(..3).context("a reply code")?.parse()?;
            text.push_str(line.get(4..).unwrap_or_default().trim_end());
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
        }
    }

    async fn command(&mut self, line: &str) -> anyhow::Result<(u16, String)> {
        self.stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await?;
        self.reply().await
    }

    async fn expect(&mut self, line: &str, code: u16) -> anyhow::Result<()> {
        let (got, text) = self.command(line).await?;
        ensure!(got == code, "{line}: expected {code}, got {got} {text}");
        Ok(())
    }

    /// Sends `message` (headers and body, CRLF line ends) from `from` to `to`, then QUIT.
    async fn send(mut self, from: &str, to: &str, message: &str) -> anyhow::Result<()> {
        self.expect(&format!("MAIL FROM:<{from}>"), 250).await?;
        self.expect(&format!("RCPT TO:<{to}>"), 250).await?;
        self.expect("DATA", 354).await?;
        // Dot-stuffing, as every client must, so a line starting with "." survives; then the
        // end of data, a line holding only ".".
        let mut stuffed = message.replace("\r\n.", "\r\n..");
        if !stuffed.ends_with("\r\n") {
            stuffed.push_str("\r\n");
        }
        self.expect(&format!("{stuffed}."), 250).await?;
        self.expect("QUIT", 221).await
    }
}

/// A message as lettre writes plain text with non-ASCII: an encoded-word subject and a
/// quoted-printable body with a soft line break.
const ENCODED: &str = "From: Votemesh <noreply@votemesh.test>\r\n\
    To: <bea@example.org>\r\n\
    Subject: =?utf-8?b?V2FobCBnZcO2ZmZuZXQ=?=\r\n\
    Message-ID: <two@votemesh.test>\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Transfer-Encoding: quoted-printable\r\n\
    \r\n\
    Gr=C3=BC=C3=9Fe, die Wahl ist =\r\n\
    ge=C3=B6ffnet.\r\n\
    .hidden dot\r\n";

const PLAIN: &str = "From: <noreply@votemesh.test>\r\n\
    To: <ada@example.org>\r\n\
    Subject: Election opened\r\n\
    Message-ID: <one@votemesh.test>\r\n\
    Content-Transfer-Encoding: 7bit\r\n\
    \r\n\
    Hello Ada,\r\nvoting is open.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_records_and_parses_mail_and_rejects_by_recipient() -> anyhow::Result<()> {
    let sink = SmtpSink::start().await?;
    assert!(
        sink.url().starts_with("smtp://127.0.0.1:"),
        "{}",
        sink.url()
    );
    let from = "noreply@votemesh.test";
    Smtp::connect(sink.port())
        .await?
        .send(from, "ada@example.org", PLAIN)
        .await?;
    Smtp::connect(sink.port())
        .await?
        .send(from, "bea@example.org", ENCODED)
        .await?;

    let mails = sink.wait_for_count(2, ARRIVAL).await?;
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].mail_from, from);
    assert_eq!(mails[0].to, ["ada@example.org"]);
    assert_eq!(mails[0].subject, "Election opened");
    assert_eq!(mails[0].body, "Hello Ada,\nvoting is open.");
    assert_eq!(mails[0].message_id.as_deref(), Some("<one@votemesh.test>"));
    assert_eq!(mails[1].to, ["bea@example.org"]);
    assert_eq!(mails[1].subject, "Wahl geöffnet");
    assert_eq!(mails[1].body, "Grüße, die Wahl ist geöffnet.\n.hidden dot");
    assert_eq!(
        mails[1].header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );

    let mut smtp = Smtp::connect(sink.port()).await?;
    smtp.expect(&format!("MAIL FROM:<{from}>"), 250).await?;
    let (code, text) = smtp.command("RCPT TO:<reject-cy@example.org>").await?;
    assert_eq!((code, text.as_str()), (550, "5.1.1 mailbox unavailable"));
    let (code, text) = smtp.command("RCPT TO:<defer-cy@example.org>").await?;
    assert_eq!((code, text.as_str()), (451, "4.3.0 try again later"));
    smtp.expect("QUIT", 221).await?;
    assert_eq!(
        sink.messages()?.len(),
        2,
        "a refused recipient stores nothing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sink_refuses_while_stopped_and_restarts_on_its_port() -> anyhow::Result<()> {
    let mut sink = SmtpSink::start().await?;
    let (port, url) = (sink.port(), sink.url());
    let from = "noreply@votemesh.test";
    Smtp::connect(port)
        .await?
        .send(from, "ada@example.org", PLAIN)
        .await?;
    sink.wait_for_count(1, ARRIVAL).await?;

    sink.stop().await;
    let refused = Smtp::connect(port).await.err().map(|e| format!("{e:#}"));
    assert!(
        refused.as_deref().is_some_and(|e| e.contains("421")),
        "a stopped sink takes nothing: {refused:?}"
    );

    sink.restart().await?;
    assert_eq!((sink.port(), sink.url()), (port, url));
    Smtp::connect(port)
        .await?
        .send(from, "bea@example.org", ENCODED)
        .await?;
    let mails = sink.wait_for_count(2, ARRIVAL).await?;
    let subjects: Vec<_> = mails.iter().map(|mail| mail.subject.as_str()).collect();
    assert_eq!(subjects, ["Election opened", "Wahl geöffnet"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_gateway_records_form_posts_and_answers_the_switched_status() -> anyhow::Result<()> {
    let gateway = SmsGateway::start().await?;
    let client = reqwest::Client::new();
    let path = "/2010-04-01/Accounts/AC123/Messages.json";
    let post = |body: &'static str| {
        client
            .post(format!("{}{path}", gateway.url()))
            .basic_auth("AC123", Some("auth token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };

    let created = post("To=%2B4915112345678&From=Votemesh&Body=Voting+is+open%21+%C3%A4").await?;
    assert_eq!(created.status(), StatusCode::CREATED);
    let answer: serde_json::Value = created.json().await?;
    assert_eq!(answer["status"], "queued");
    let sid = answer["sid"].as_str().context("a sid")?.to_owned();
    assert!(sid.starts_with("SM"), "{sid}");

    gateway.respond_with(StatusCode::SERVICE_UNAVAILABLE);
    let refused = post("To=%2B4915100000000&Body=again").await?;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);

    let requests = gateway.wait_for_count(2, ARRIVAL).await?;
    let first = &requests[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", path));
    assert_eq!(first.body["To"], "+4915112345678");
    assert_eq!(first.body["From"], "Votemesh");
    assert_eq!(first.body["Body"], "Voting is open! ä");
    assert_eq!(
        first.basic_auth(),
        Some(("AC123".to_owned(), "auth token".to_owned()))
    );
    assert_eq!(
        (first.status, first.sid.as_deref()),
        (StatusCode::CREATED, Some(sid.as_str()))
    );
    assert_eq!(requests[1].status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(requests[1].body["Body"], "again");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_gateway_records_json_posts_and_answers_a_set_body() -> anyhow::Result<()> {
    let gateway = SmsGateway::start().await?;
    assert_eq!(
        gateway.url(),
        format!("http://127.0.0.1:{}", gateway.port())
    );
    let refusal = serde_json::json!({"code": 21211, "message": "invalid 'To' number"});
    gateway.respond_with_json(StatusCode::BAD_REQUEST, refusal.clone());

    let sent = serde_json::json!({"to": "+4915112345678", "from": "votemesh", "body": "Code 123456", "n": 1});
    let answer = reqwest::Client::new()
        .post(format!("{}/send?try=1", gateway.url()))
        .header("idempotency-key", "delivery-1")
        .json(&sent)
        .send()
        .await?;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(answer.json::<serde_json::Value>().await?, refusal);

    let requests = gateway.wait_for_count(1, ARRIVAL).await?;
    let request = &requests[0];
    assert_eq!(
        (request.path.as_str(), request.query.as_deref()),
        ("/send", Some("try=1"))
    );
    assert_eq!(request.headers["idempotency-key"], "delivery-1");
    assert_eq!(request.body["to"], "+4915112345678");
    assert_eq!(request.body["body"], "Code 123456");
    assert_eq!(request.body["n"], "1", "other JSON values as JSON text");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&request.raw_body)?,
        sent
    );
    assert_eq!(
        (request.status, request.sid.as_deref()),
        (StatusCode::BAD_REQUEST, None)
    );
    Ok(())
}
