//! The crates' own tests' databases: a SQLite file in a temporary directory, or a fresh
//! database on the test PostgreSQL (`VOTEMESH_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432`). Behind the `testing` feature, for dev-dependencies.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database};
use tempfile::TempDir;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn postgres_server() -> String {
    std::env::var("VOTEMESH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Where one test keeps its data; [`Backend::finish`] removes it.
pub struct Backend {
    pub url: String,
    /// Keeps the SQLite file until the test ends.
    _dir: Option<TempDir>,
    /// The PostgreSQL database to drop at the end.
    database: Option<String>,
}

impl Backend {
    /// A SQLite file named after `label` in a fresh temporary directory.
    pub fn sqlite(label: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join(format!("{label}.db")).display()
        );
        Self {
            url,
            _dir: Some(dir),
            database: None,
        }
    }

    /// A fresh database. Named like the e2e suite's (`vmt_<pid>_…`), so that suite's sweep
    /// drops it should this test die before [`finish`](Self::finish).
    pub async fn postgres(label: &str) -> Self {
        let name = format!(
            "vmt_{}_{label}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin = Database::connect(format!("{}/postgres", postgres_server()))
            .await
            .expect("PostgreSQL must be running for the tests (see scripts/test.sh)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create the test database");
        Self {
            url: format!("{}/{name}", postgres_server()),
            _dir: None,
            database: Some(name),
        }
    }

    pub async fn finish(self) {
        let Some(name) = self.database else {
            return;
        };
        if let Ok(admin) = Database::connect(format!("{}/postgres", postgres_server())).await {
            // Best effort: a leftover is swept later, as the type's docs say.
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}
