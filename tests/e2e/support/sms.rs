//! An SMS gateway for svc-notify to post to: an in-process HTTP server that records every
//! request and answers like Twilio's Messages API (`201 {"sid": "SM…", "status": "queued"}`),
//! or with whatever status a test switches it to.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use anyhow::{bail, Context};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::{json, Value};
use tokio::{sync::oneshot, time::Instant};

/// One request as the gateway received it.
#[derive(Clone, Debug)]
pub struct SmsRequest {
    pub method: Method,
    /// The path, e.g. `/2010-04-01/Accounts/AC…/Messages.json`.
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case; a repeated header keeps its last value.
    pub headers: HashMap<String, String>,
    /// The form fields, or a JSON object's members (strings as they are, other values as
    /// JSON text); empty for any other body.
    pub body: BTreeMap<String, String>,
    pub raw_body: String,
    /// The status the gateway answered.
    pub status: StatusCode,
    /// The `sid` of the answer, when it had one.
    pub sid: Option<String>,
}

impl SmsRequest {
    /// User and password of a Basic `Authorization` header (Twilio's account SID and token).
    pub fn basic_auth(&self) -> Option<(String, String)> {
        let encoded = self.headers.get("authorization")?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }
}

#[derive(Default)]
struct Recorded {
    requests: Vec<SmsRequest>,
    status: Option<StatusCode>,
    body: Option<Value>,
}

type Shared = Arc<Mutex<Recorded>>;

pub struct SmsGateway {
    port: u16,
    state: Shared,
    // Dropping it ends the server, which holds no connection open past the test.
    _stop: oneshot::Sender<()>,
}

impl SmsGateway {
    /// Serves on a free loopback port, answering 201 like Twilio until told otherwise.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the SMS gateway")?;
        let port = listener.local_addr()?.port();
        let state = Shared::default();
        let app = Router::new().fallback(record).with_state(state.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                eprintln!("the SMS gateway stopped: {error}");
            }
        });
        Ok(Self {
            port,
            state,
            _stop: stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, `http://127.0.0.1:PORT`; every path is accepted.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers every later request with `status`: a Twilio-like message for 2xx, a
    /// Twilio-like error otherwise.
    pub fn respond_with(&self, status: StatusCode) {
        let mut state = lock(&self.state);
        state.status = Some(status);
        state.body = None;
    }

    /// Answers every later request with `status` and exactly `body`.
    pub fn respond_with_json(&self, status: StatusCode, body: Value) {
        let mut state = lock(&self.state);
        state.status = Some(status);
        state.body = Some(body);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<SmsRequest> {
        lock(&self.state).requests.clone()
    }

    /// Waits until at least `count` requests have arrived; all of them.
    pub async fn wait_for_count(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<SmsRequest>> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return Ok(requests);
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} of {count} SMS requests arrived within {timeout:?}",
                    requests.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

// A test that panicked while holding the lock leaves the records readable for the others.
fn lock(state: &Shared) -> MutexGuard<'_, Recorded> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn record(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw_body = String::from_utf8_lossy(&body).into_owned();
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    let content_type = headers.get("content-type").cloned().unwrap_or_default();
    let fields = body_fields(&content_type, &raw_body);
    let mut state = lock(&state);
    let status = state.status.unwrap_or(StatusCode::CREATED);
    let answer = state
        .body
        .clone()
        .unwrap_or_else(|| default_answer(status, &fields));
    state.requests.push(SmsRequest {
        method,
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers,
        body: fields,
        raw_body,
        status,
        sid: answer["sid"].as_str().map(str::to_owned),
    });
    (status, Json(answer)).into_response()
}

/// What Twilio answers: the queued message, or an error with Twilio's fields.
fn default_answer(status: StatusCode, fields: &BTreeMap<String, String>) -> Value {
    if status.is_success() {
        json!({
            "sid": format!("SM{}", uuid::Uuid::new_v4().simple()),
            "status": "queued",
            "to": fields.get("To"),
            "from": fields.get("From"),
            "body": fields.get("Body"),
        })
    } else {
        json!({
            "code": 20000 + u32::from(status.as_u16()),
            "message": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
        })
    }
}

/// The fields of a form or JSON object body.
fn body_fields(content_type: &str, body: &str) -> BTreeMap<String, String> {
    let content_type = content_type.to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        let Ok(Value::Object(members)) = serde_json::from_str::<Value>(body) else {
            return BTreeMap::new();
        };
        return members
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => (key, text),
                other => (key, other.to_string()),
            })
            .collect();
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return body
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (form_decode(key), form_decode(value))
            })
            .collect();
    }
    BTreeMap::new()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 2;
            }
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
