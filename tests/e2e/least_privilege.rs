//! Issue #11's least privilege, on the real PostgreSQL: helm/votemesh/files/roles.sql (what
//! compose's init and helm's Job run) gives each service a role that owns its own schema,
//! the services start and migrate as those roles, and no role reaches another's tables.

use std::process::Command;

use ::mesh::Service;
use sea_orm::{ConnectionTrait, Database};

use crate::support::*;

const SERVICES: [&str; 5] = ["user", "candidate", "voting", "result", "notify"];

/// `postgres://votemesh_<service>:<password>@…/<database>` for a fresh database's URL.
fn as_role(database_url: &str, service: &str) -> String {
    let rest = database_url
        .split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(_, host_and_db)| host_and_db)
        .expect("a postgres URL with a user");
    format!("postgres://votemesh_{service}:pw-{service}@{rest}")
}

/// Runs the deployment's roles script on `database_url`, as its operator would.
fn apply_roles(database_url: &str) {
    let mut psql = Command::new("psql");
    psql.args(["-v", "ON_ERROR_STOP=1", "-q", "-d", database_url, "-f"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../helm/votemesh/files/roles.sql"
        ));
    for service in SERVICES {
        let var = format!("VOTEMESH_{}_DB_PASSWORD", service.to_uppercase());
        psql.env(var, format!("pw-{service}"));
    }
    let output = psql.output().expect("psql runs");
    assert!(
        output.status.success(),
        "roles.sql: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_runs_as_a_role_that_reaches_only_its_own_schema() {
    let database = fresh_database().await;
    apply_roles(&database);

    let user_url = as_role(&database, "user");
    let config: svc_user::Config = kit::config::local([
        "--internal-token=t",
        "--signing-key-secret=s",
        &format!("--database-url={user_url}"),
    ])
    .expect("config");
    let _user = config
        .build()
        .await
        .expect("svc-user starts and migrates as its role");
    let result_url = as_role(&database, "result");
    svc_result::store::SeaResultStore::open(&result_url, 1)
        .await
        .expect("svc-result migrates as its role");

    let admin = Database::connect(database.clone()).await.expect("admin");
    let owners = admin
        .query_all(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT DISTINCT schemaname || ' ' || tableowner AS owner FROM pg_tables \
             WHERE schemaname LIKE 'svc_%' ORDER BY 1",
        ))
        .await
        .expect("owners");
    let owners: Vec<String> = owners
        .iter()
        .map(|row| row.try_get("", "owner").expect("owner"))
        .collect();
    assert_eq!(
        owners,
        ["svc_result votemesh_result", "svc_user votemesh_user"]
    );

    let intruder = Database::connect(as_role(&database, "result"))
        .await
        .expect("result role connects");
    for sql in [
        "SELECT count(*) FROM svc_user.users",
        "CREATE TABLE svc_user.planted (id INT)",
        "CREATE TABLE public.planted (id INT)",
    ] {
        let refused = intruder.execute_unprepared(sql).await.expect_err(sql);
        assert!(
            refused.to_string().contains("permission denied"),
            "{sql}: {refused}"
        );
    }
}
