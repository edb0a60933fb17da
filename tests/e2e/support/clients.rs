//! Clients as users hold them: REST over HTTP/1.1, tonic over h2c.

use proto_gen::user::v1::user_service_client::UserServiceClient;
use reqwest::Method;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::{Mesh, PASSWORD};

/// A REST client bound to one base URL.
#[derive(Clone)]
pub struct Rest {
    pub base: String,
    pub client: reqwest::Client,
}

/// A signed-in user's tokens.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

impl Rest {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    /// Sends one request and returns the status and the JSON body (Null when not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("edge answers");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Uploads a CSV file as the body, as a spreadsheet export would be sent.
    pub async fn post_csv(&self, path: &str, token: &str, csv: String) -> (u16, Value) {
        let authorization = format!("Bearer {token}");
        let headers = [
            ("content-type", "text/csv"),
            ("authorization", &authorization),
        ];
        let url = format!("{}{path}", self.base);
        let response = post_raw(&self.client, &url, &headers, csv).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A login attempt, whatever its outcome.
    pub async fn try_login(&self, email: &str, password: &str) -> (u16, Value) {
        self.post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A refresh attempt, whatever its outcome.
    pub async fn refresh(&self, refresh_token: &str) -> (u16, Value) {
        self.post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// An admin's attempt to give `user_id` the role `role` (`ROLE_ADMIN`, `ROLE_VOTER`).
    pub async fn set_role(&self, token: &str, user_id: &str, role: &str) -> (u16, Value) {
        self.post(
            &format!("/v1/admin/users/{user_id}/role"),
            Some(token),
            json!({ "role": role }),
        )
        .await
    }

    /// An admin's attempt to disable `user_id`.
    pub async fn disable(&self, token: &str, user_id: &str) -> (u16, Value) {
        self.post(
            &format!("/v1/admin/users/{user_id}/disable"),
            Some(token),
            json!({"disabled": true}),
        )
        .await
    }

    /// Makes `user` an admin and signs them in again, so their token carries the role.
    pub async fn promote(&self, admin_token: &str, user: &Session) -> Session {
        let (status, body) = self
            .set_role(admin_token, &user.user_id, "ROLE_ADMIN")
            .await;
        assert_eq!(status, 200, "promote: {body}");
        self.login(&user.email, PASSWORD).await
    }

    pub async fn register(&self, email: &str) -> Value {
        let (status, body) = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD, "display_name": "Test Voter"}),
            )
            .await;
        assert_eq!(status, 200, "register: {body}");
        body
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let (status, body) = self.try_login(email, password).await;
        assert_eq!(status, 200, "login: {body}");
        Session {
            user_id: body["user"]["user_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            email: email.to_owned(),
            access: body["access_token"].as_str().unwrap_or_default().to_owned(),
            refresh: body["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    }

    pub async fn voter(&self, tag: &str) -> Session {
        let email = super::email(tag);
        self.register(&email).await;
        self.login(&email, PASSWORD).await
    }

    pub async fn admin(&self) -> Session {
        self.login(super::ADMIN_EMAIL, super::ADMIN_PASSWORD).await
    }
}

/// A REST client on the mesh's edge, and the admin signed in through it.
pub async fn rest_as_admin(mesh: &Mesh) -> (Rest, Session) {
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    (api, admin)
}

/// A raw POST, for bodies and headers the typed clients would not send.
pub async fn post_raw(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("answered")
}

/// A gRPC client of `url`, made by `new` (`VotingServiceClient::new`, say), on a channel
/// that connects on first use.
pub fn grpc<C>(url: &str, new: impl FnOnce(Channel) -> C) -> C {
    new(Channel::from_shared(url.to_owned())
        .expect("a URL")
        .connect_lazy())
}

pub async fn user_client(url: &str) -> UserServiceClient<Channel> {
    UserServiceClient::connect(url.to_owned())
        .await
        .expect("gRPC connection")
}

/// The string at `key` of a JSON reply, which must be there.
pub fn text(reply: &Value, key: &str) -> String {
    reply[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {reply}"))
        .to_owned()
}

/// A reply's status with one string of its error body: `field`, `status` or `message`.
pub fn error<'a>(reply: &'a (u16, Value), part: &str) -> (u16, Option<&'a str>) {
    (reply.0, reply.1["error"][part].as_str())
}

/// A request carrying a bearer token.
pub fn bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}
