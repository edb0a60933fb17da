//! Clients as users hold them: REST over HTTP/1.1, tonic over h2c.

use proto_gen::user::v1::user_service_client::UserServiceClient;
use reqwest::Method;
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::PASSWORD;

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
        let (status, body) = self
            .post(
                "/v1/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await;
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

pub async fn user_client(url: &str) -> UserServiceClient<Channel> {
    UserServiceClient::connect(url.to_owned())
        .await
        .expect("gRPC connection")
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
