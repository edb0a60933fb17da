//! `votemesh demo`: the whole system, as `votemesh up` runs it, with a sample election of
//! three questions (an STV board, a budget by approval, a yes/no bylaw) and a few hundred
//! simulated voters who register, confirm their email with the code mailed to them and cast
//! over a minute, so the web app's live results move on screen.

use std::{collections::HashMap, path::Path, time::Duration};

use anyhow::{bail, Context};
use futures::{stream, StreamExt, TryStreamExt};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use serde_json::{json, Value};

/// A REST client on the edge.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
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

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({"email": email, "password": password});
        let session = self.post("/v1/auth/login", None, body).await?;
        text(&session, "access_token")
    }
}

fn text(value: &Value, key: &str) -> anyhow::Result<String> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no {key} in {value}"))
}

/// The sample election, OPEN, with live results.
struct Sample {
    id: String,
    /// Candidate ids per question, in ballot order; the first question's id is the election's.
    questions: Vec<(String, Vec<String>)>,
}

const BOARD: [&str; 6] = [
    "Amara Okafor",
    "Bruno Keller",
    "Chen Wei",
    "Dolores Ruiz",
    "Emil Novak",
    "Farah Haddad",
];
const PROJECTS: [&str; 4] = [
    "Solar roof",
    "Bike shelter",
    "Community garden",
    "Library corner",
];

async fn create_sample(api: &Api, admin: &str) -> anyhow::Result<Sample> {
    // RFC 3339, as the REST mapping of a Timestamp is.
    let soon =
        |minutes: i64| kit::time::timestamp(kit::time::now_ms() + minutes * 60_000).to_string();
    let election = json!({"election": {
        "title": "Riverside Co-op general meeting",
        "description": "A sample election from `votemesh demo`: simulated members are voting now.",
        "opens_at": soon(1), "closes_at": soon(120),
        "results_visibility": "RESULTS_VISIBILITY_LIVE",
        "eligibility": "ELIGIBILITY_ALL_VOTERS",
        "questions": [
            {"title": "Board of directors", "method": "BALLOT_METHOD_STV", "seats": 3},
            {"title": "Community budget: fund up to two projects", "method": "BALLOT_METHOD_APPROVAL", "max_choices": 2},
            {"title": "Bylaw 12: a four-day working week", "method": "BALLOT_METHOD_PLURALITY", "allow_abstain": true}
        ]
    }});
    let created = api.post("/v1/elections", Some(admin), election).await?;
    let id = text(&created["election"], "election_id")?;
    let mut questions = Vec::new();
    let names: [&[&str]; 3] = [&BOARD, &PROJECTS, &["Yes", "No"]];
    for (question, names) in created["election"]["questions"]
        .as_array()
        .context("questions")?
        .iter()
        .zip(names)
    {
        let question_id = text(question, "question_id")?;
        let mut ids = Vec::new();
        for name in names {
            let body = json!({"candidate": {"name": name, "question_id": question_id}});
            let added = api
                .post(&format!("/v1/elections/{id}/candidates"), Some(admin), body)
                .await?;
            ids.push(text(&added["candidate"], "candidate_id")?);
        }
        questions.push((question_id, ids));
    }
    let open = json!({"target": "ELECTION_STATUS_OPEN"});
    api.post(&format!("/v1/elections/{id}/transition"), Some(admin), open)
        .await?;
    Ok(Sample { id, questions })
}

/// One simulated member's ballot: a faction's board ranking, shuffled a little, up to two
/// projects, and mostly a yes or a no.
fn ballot(sample: &Sample, rng: &mut StdRng) -> Value {
    const FACTIONS: [[usize; 6]; 3] = [[0, 2, 4, 1, 3, 5], [1, 3, 0, 5, 2, 4], [2, 5, 1, 4, 0, 3]];
    let faction = FACTIONS[rng.gen_range(0..FACTIONS.len())];
    let mut ranking: Vec<usize> = faction[..rng.gen_range(2..=6)].to_vec();
    // A third of members put someone outside their faction's favourites first, so the count
    // excludes and transfers before the seats fill.
    if rng.gen_bool(0.35) {
        let first = rng.gen_range(3..6);
        ranking.retain(|&c| c != first);
        ranking.insert(0, first);
    }
    let (board, projects, bylaw) = (
        &sample.questions[0],
        &sample.questions[1],
        &sample.questions[2],
    );
    let mut funded: Vec<&String> = projects.1.iter().collect();
    funded.shuffle(rng);
    funded.truncate(rng.gen_range(1..=2));
    let mut answers = vec![
        json!({"question_id": board.0, "candidate_ids": ranking.iter().map(|&i| &board.1[i]).collect::<Vec<_>>()}),
        json!({"question_id": projects.0, "candidate_ids": funded}),
    ];
    match rng.gen_range(0..10) {
        0 => {}
        1..=5 => answers.push(json!({"question_id": bylaw.0, "candidate_ids": [bylaw.1[0]]})),
        _ => answers.push(json!({"question_id": bylaw.0, "candidate_ids": [bylaw.1[1]]})),
    }
    json!({"answers": answers})
}

/// The code in the verification mail sent to `email`, once it is in `mail_dir`.
async fn code_for(mail_dir: &Path, email: &str) -> anyhow::Result<String> {
    const SUBJECT: &str = "Subject: Your votemesh code: ";
    for _ in 0..300 {
        let mut entries = tokio::fs::read_dir(mail_dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let mail = tokio::fs::read_to_string(entry.path())
                .await
                .unwrap_or_default();
            let to_them = mail
                .lines()
                .any(|l| l.starts_with("To:") && l.contains(email));
            let code = mail.lines().find_map(|l| l.strip_prefix(SUBJECT));
            if let (true, Some(code)) = (to_them, code) {
                return Ok(code.trim().to_owned());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("no verification mail for {email} in {}", mail_dir.display())
}

/// A registered, confirmed member's access token.
async fn member(api: &Api, mail_dir: &Path, i: usize) -> anyhow::Result<String> {
    let email = format!("member{i:04}@riverside.example");
    let password = format!("demo-member-{i:04}-password");
    let body = json!({"email": email, "password": password, "display_name": format!("Member {i}")});
    api.post("/v1/auth/register", None, body).await?;
    let token = api.login(&email, &password).await?;
    let code = code_for(mail_dir, &email).await?;
    let verify = json!({"kind": "CONTACT_KIND_EMAIL", "code": code});
    api.post("/v1/me/verify", Some(&token), verify).await?;
    Ok(token)
}

/// Loads the sample: the election, then `voters` members casting evenly over `seconds`.
pub async fn load(
    edge_url: &str,
    admin: (&str, &str),
    mail_dir: &Path,
    voters: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let api = Api {
        base: edge_url.trim_end_matches('/').to_owned(),
        http: reqwest::Client::new(),
    };
    let admin = api.login(admin.0, admin.1).await?;
    let sample = create_sample(&api, &admin).await?;
    println!(
        "demo: election {} is open; {voters} members are signing up",
        sample.id
    );
    let tokens: Vec<String> = stream::iter(0..voters)
        .map(|i| member(&api, mail_dir, i))
        .buffer_unordered(4)
        .try_collect()
        .await?;
    println!("demo: casting {voters} ballots over {seconds} s; watch the results live");
    let mut rng = StdRng::seed_from_u64(2026);
    let pause = Duration::from_secs(seconds) / voters.max(1) as u32;
    let mut refused: HashMap<String, usize> = HashMap::new();
    for token in &tokens {
        let path = format!("/v1/elections/{}/ballots", sample.id);
        if let Err(error) = api
            .post(&path, Some(token), ballot(&sample, &mut rng))
            .await
        {
            *refused.entry(error.to_string()).or_default() += 1;
        }
        tokio::time::sleep(pause).await;
    }
    let cast = voters - refused.values().sum::<usize>();
    println!("demo: {cast} ballots cast; the election stays open until an admin closes it");
    for (error, n) in refused {
        println!("demo: {n} refused: {error}");
    }
    Ok(())
}
