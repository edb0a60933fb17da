//! A fresh PostgreSQL database per test, as zero2prod does. Databases of test processes that
//! are gone are dropped on the first call.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tokio::sync::OnceCell;

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEPT: OnceCell<()> = OnceCell::const_new();

pub fn server_url() -> String {
    std::env::var("VOTEMESH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

async fn admin_connection() -> DatabaseConnection {
    Database::connect(format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL must be running for the tests (see .ci/run)")
}

async fn drop_stale(db: &DatabaseConnection) {
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'vmt\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else {
            continue;
        };
        let pid = name.split('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        let alive = pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = db
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    let db = admin_connection().await;
    SWEPT.get_or_init(|| drop_stale(&db)).await;
    let name = format!(
        "vmt_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create test database");
    db.close().await.ok();
    format!("{}/{name}", server_url())
}
