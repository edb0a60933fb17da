//! Set-up over REST, as an operator's script would do it: elections with candidates, then
//! voters registered and signed in. None of it is measured.

use anyhow::{bail, Context};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

pub struct Api {
    base: String,
    http: reqwest::Client,
}

pub struct Election {
    pub id: String,
    pub candidates: Vec<String>,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("POST {path}: {status} {body}");
        }
        Ok(body)
    }

    /// An access token for the account.
    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await?;
        body["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("login returned no token")
    }

    /// An OPEN RANKED election with `candidates` candidates, live results.
    pub async fn open_election(
        &self,
        admin: &str,
        title: &str,
        candidates: usize,
    ) -> anyhow::Result<Election> {
        let at = |s: i64| {
            (chrono::Utc::now() + chrono::Duration::seconds(s))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let created = self
            .post(
                "/v1/elections",
                Some(admin),
                json!({"election": {
                    "title": title,
                    "method": "BALLOT_METHOD_RANKED",
                    "eligibility": "ELIGIBILITY_ALL_VOTERS",
                    "results_visibility": "RESULTS_VISIBILITY_LIVE",
                    "opens_at": at(3600),
                    "closes_at": at(7 * 24 * 3600),
                }}),
            )
            .await?;
        let id = created["election"]["election_id"]
            .as_str()
            .context("no election id")?
            .to_owned();
        let mut ids = Vec::new();
        for i in 0..candidates {
            let added = self
                .post(
                    &format!("/v1/elections/{id}/candidates"),
                    Some(admin),
                    json!({"candidate": {"name": format!("Candidate {i}")}}),
                )
                .await?;
            ids.push(
                added["candidate"]["candidate_id"]
                    .as_str()
                    .context("no candidate id")?
                    .to_owned(),
            );
        }
        self.post(
            &format!("/v1/elections/{id}/transition"),
            Some(admin),
            json!({"target": "ELECTION_STATUS_OPEN"}),
        )
        .await?;
        Ok(Election {
            id,
            candidates: ids,
        })
    }

    /// Closes an election, so the mix releases its last ballots to the count.
    pub async fn close_election(&self, admin: &str, id: &str) -> anyhow::Result<()> {
        self.post(
            &format!("/v1/elections/{id}/transition"),
            Some(admin),
            json!({"target": "ELECTION_STATUS_CLOSED"}),
        )
        .await?;
        Ok(())
    }

    /// `n` new voters, signed in; their access tokens.
    pub async fn voters(&self, n: usize, concurrency: usize) -> anyhow::Result<Vec<String>> {
        let run = uuid::Uuid::new_v4().simple().to_string();
        let password = "loadgen voter password";
        stream::iter(0..n)
            .map(|i| {
                let email = format!("voter{i}-{run}@loadgen.test");
                async move {
                    self.post(
                        "/v1/auth/register",
                        None,
                        json!({"email": email, "password": password, "display_name": "Voter"}),
                    )
                    .await?;
                    self.login(&email, password).await
                }
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await
    }
}
