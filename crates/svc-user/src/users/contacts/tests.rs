//! The verification rules through the domain, on SQLite and PostgreSQL, with svc-user built
//! as production builds it. Codes are read where svc-notify would find them: in the outbox.

use kit::{auth::Caller, db::statement};
use proto_gen::user::v1::{
    ContactKind, FindAccountsRequest, RegisterRequest, ResendVerificationRequest, Role,
    UpdateMeRequest, VerifyContactRequest,
};
use sea_orm::ConnectionTrait;
use tonic::Code;

use super::*;
use crate::{store::SeaUserStore, Config};
use kit::testing::Backend;

const PASSWORD: &str = "correct horse battery";

struct Env {
    users: Arc<Users>,
    store: SeaUserStore,
    backend: Backend,
}

impl Env {
    async fn on(backend: Backend) -> Self {
        let config: Config = kit::config::local([
            "--internal-token=test-token",
            "--signing-key-secret=test-seal",
            &format!("--database-url={}", backend.url),
            "--bench-only-insecure-password-hash",
            "--hash-concurrency=2",
        ])
        .expect("config");
        let (users, _keys) = crate::build_users(&config).await.expect("svc-user builds");
        let store = SeaUserStore::open(&backend.url, 2).await.expect("store");
        Self {
            users,
            store,
            backend,
        }
    }

    async fn finish(self) {
        self.store.connection().clone().close().await.ok();
        self.backend.finish().await;
    }

    async fn register(&self, email: &str) -> Caller {
        let user = self
            .users
            .register(RegisterRequest {
                email: email.into(),
                password: PASSWORD.into(),
                display_name: format!("name of {email}"),
            })
            .await
            .expect("registered");
        assert!(!user.email_verified && !user.phone_verified);
        // svc-user reads verification from its own store, never from the caller.
        Caller {
            user_id: user.user_id,
            role: Role::Voter,
            email_verified: false,
        }
    }

    async fn execute(&self, sql: &str) {
        let db = self.store.connection();
        db.execute(statement(db.get_database_backend(), sql, []))
            .await
            .expect(sql);
    }

    /// Every event in the outbox (nothing relays it here), as svc-notify would decode it.
    async fn events(&self) -> Vec<ContactVerificationRequested> {
        let db = self.store.connection();
        let sql = "SELECT id, topic, partition_key, payload FROM outbox";
        let rows = db
            .query_all(statement(db.get_database_backend(), sql, []))
            .await
            .expect("outbox");
        rows.iter()
            .map(|row| {
                let payload: Vec<u8> = row.try_get("", "payload").expect("payload");
                let event = ContactVerificationRequested::decode(payload.as_slice())
                    .expect("a ContactVerificationRequested");
                let id: String = row.try_get("", "id").expect("id");
                let topic: String = row.try_get("", "topic").expect("topic");
                let key: String = row.try_get("", "partition_key").expect("key");
                assert_eq!(id, event.event_id);
                assert_eq!(topic, kit::bus::topics::CONTACT_VERIFICATION);
                assert_eq!(key, event.user_id);
                event
            })
            .collect()
    }

    async fn events_for(&self, caller: &Caller) -> Vec<ContactVerificationRequested> {
        let mut events = self.events().await;
        events.retain(|event| event.user_id == caller.user_id);
        events
    }

    /// The pending code's plaintext: the event whose code matches the stored hash.
    async fn code(&self, caller: &Caller, kind: Contact) -> String {
        let pending = self
            .store
            .contact_code(&caller.user_id, kind)
            .await
            .expect("read")
            .expect("a code is pending");
        let events = self.events_for(caller).await;
        let sent = events.iter().find(|event| {
            self.users
                .code_hash(&event.user_id, kind, &event.address, &event.code)
                == pending.code_hash
        });
        sent.expect("the pending code was sent").code.clone()
    }

    async fn verify(
        &self,
        caller: &Caller,
        kind: ContactKind,
        code: &str,
    ) -> Result<User, ServiceError> {
        let request = VerifyContactRequest {
            kind: kind as i32,
            code: code.into(),
        };
        self.users.verify_contact(caller, request).await
    }

    async fn resend(&self, caller: &Caller, kind: ContactKind) -> Result<i64, ServiceError> {
        let request = ResendVerificationRequest { kind: kind as i32 };
        let response = self.users.resend_verification(caller, request).await?;
        let expires_at = response.expires_at.expect("expires_at");
        Ok(expires_at.seconds * 1000 + i64::from(expires_at.nanos / 1_000_000))
    }

    async fn update(
        &self,
        caller: &Caller,
        request: UpdateMeRequest,
    ) -> Result<User, ServiceError> {
        self.users.update_me(caller, request).await
    }

    async fn tries_left(&self, caller: &Caller) -> i32 {
        let pending = self
            .store
            .contact_code(&caller.user_id, Contact::Email)
            .await;
        pending.expect("read").expect("pending").tries_left
    }
}

/// Asserts `result` failed with `code` and `message`.
fn fails<T: std::fmt::Debug>(result: Result<T, ServiceError>, code: Code, message: &str) {
    let error = result.expect_err(message);
    assert_eq!(
        (error.grpc_code(), error.to_string().as_str()),
        (code, message)
    );
}

/// Another six digits.
fn not(code: &str) -> String {
    let n: u32 = code.parse().expect("digits");
    format!("{:06}", (n + 1) % 1_000_000)
}

mod codes;
mod profile;

/// Each scenario once per backend, on a database of its own.
macro_rules! on_both_backends {
    ($($module:ident :: $scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let env = super::Env::on(kit::testing::Backend::sqlite("user")).await;
                    super::$module::$scenario(&env).await;
                    env.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let env = super::Env::on(kit::testing::Backend::postgres("user").await).await;
                    super::$module::$scenario(&env).await;
                    env.finish().await;
                }
            )*
        }
    };
}

on_both_backends!(
    codes::registering_sends_one_code_and_verifying_proves_the_email,
    codes::five_wrong_codes_lock_even_the_right_one,
    codes::an_expired_code_is_refused,
    codes::resending_waits_a_minute_and_restores_the_tries,
    profile::a_new_email_must_be_proven_again,
    profile::phone_and_kind_must_exist,
    profile::phone_codes_follow_the_phone,
    profile::accounts_are_found_by_normalised_email,
    profile::the_bootstrap_admin_is_verified_and_promotion_needs_its_password,
);
