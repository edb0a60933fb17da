//! Login upgrades a below-policy password hash and leaves a current one alone, on SQLite and
//! PostgreSQL. Two `Users` share one database: a bench-strength one stands in for the old
//! policy, a production-strength one for the current.

use argon2::{password_hash::PasswordHash, Params};
use proto_gen::user::v1::{LoginRequest, RegisterRequest};

use super::*;
use crate::{
    password::HashStrength,
    store::{SeaUserStore, UserStore as _},
    Config,
};
use kit::testing::Backend;

const PASSWORD: &str = "correct horse battery";
const EMAIL: &str = "rehash@example.com";

async fn users(backend: &Backend, bench_strength: bool) -> Arc<Users> {
    let url = format!("--database-url={}", backend.url);
    let mut args = vec![
        "--internal-token=test-token",
        "--signing-key-secret=test-seal",
        &url,
        "--hash-concurrency=2",
    ];
    if bench_strength {
        args.push("--bench-only-insecure-password-hash");
    }
    let config: Config = kit::config::local(args).expect("config");
    crate::build_users(&config)
        .await
        .expect("svc-user builds")
        .0
}

async fn register(users: &Users) {
    users
        .register(RegisterRequest {
            email: EMAIL.into(),
            password: PASSWORD.into(),
            display_name: "Rehash".into(),
        })
        .await
        .expect("registered");
}

async fn login(users: &Users, password: &str) -> Result<LoginResponse, ServiceError> {
    users
        .login(LoginRequest {
            email: EMAIL.into(),
            password: password.into(),
        })
        .await
}

async fn stored_hash(store: &SeaUserStore) -> String {
    store
        .user_by_email(EMAIL)
        .await
        .expect("read")
        .expect("account exists")
        .password_hash
}

async fn below_policy_hash_is_upgraded(backend: &Backend, store: &SeaUserStore) {
    register(&*users(backend, true).await).await;
    let production = users(backend, false).await;
    let old = stored_hash(store).await;

    // A wrong password proves nothing, so it must not touch the hash.
    assert!(login(&production, "wrong horse battery").await.is_err());
    assert_eq!(stored_hash(store).await, old);

    login(&production, PASSWORD).await.expect("login");
    let upgraded = stored_hash(store).await;
    assert_ne!(upgraded, old);
    let parsed = PasswordHash::new(&upgraded).expect("PHC string");
    assert_eq!(parsed.algorithm, argon2::ARGON2ID_IDENT);
    let params = Params::try_from(&parsed).expect("argon2 parameters");
    assert_eq!(
        (params.m_cost(), params.t_cost(), params.p_cost()),
        (19_456, 2, 1)
    );
    let owasp = PasswordHasher::new(HashStrength::Owasp, 1, 8).expect("hasher");
    assert!(!owasp.needs_rehash(&upgraded));
    assert!(owasp
        .verify(PASSWORD.into(), Some(upgraded.clone()))
        .await
        .expect("verify"));

    // Upgraded once: the next login finds it current.
    login(&production, PASSWORD).await.expect("login again");
    assert_eq!(stored_hash(store).await, upgraded);
}

async fn current_policy_hash_is_untouched(backend: &Backend, store: &SeaUserStore) {
    let production = users(backend, false).await;
    register(&production).await;
    let before = stored_hash(store).await;
    login(&production, PASSWORD).await.expect("login");
    assert_eq!(stored_hash(store).await, before);
}

/// Each scenario once per backend, on a database of its own.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::run(kit::testing::Backend::sqlite("user"), super::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let backend = kit::testing::Backend::postgres("user").await;
                    super::run(backend, super::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends!(
    below_policy_hash_is_upgraded,
    current_policy_hash_is_untouched
);

async fn run<F>(backend: Backend, scenario: F)
where
    F: for<'a> AsyncFnOnce(&'a Backend, &'a SeaUserStore),
{
    let store = SeaUserStore::open(&backend.url, 2).await.expect("store");
    scenario(&backend, &store).await;
    store.connection().clone().close().await.ok();
    backend.finish().await;
}
