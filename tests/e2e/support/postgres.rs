//! The tests' PostgreSQL: a fresh database per test on the primary, as zero2prod does
//! (databases of test processes that are gone are dropped on the first call), the streaming
//! replica, and row counts.

use std::sync::atomic::{AtomicU32, Ordering};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tokio::sync::OnceCell;

static COUNTER: AtomicU32 = AtomicU32::new(0);
static SWEPT: OnceCell<()> = OnceCell::const_new();

/// A PostgreSQL server the tests use, found through an environment variable.
pub struct Server {
    variable: &'static str,
    default: &'static str,
    missing: &'static str,
}

/// Where fresh databases are created.
pub const PRIMARY: Server = Server {
    variable: "VOTEMESH_TEST_POSTGRES",
    default: "postgres://postgres@127.0.0.1:5432",
    missing: "PostgreSQL must be running for the tests (see .ci/run)",
};

/// The primary's streaming standby.
pub const REPLICA: Server = Server {
    variable: "VOTEMESH_TEST_REPLICA",
    default: "postgres://postgres@127.0.0.1:5433",
    missing: "the streaming replica must be running (scripts/test.sh starts it on port 5433)",
};

impl Server {
    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        let server = std::env::var(self.variable).unwrap_or_else(|_| self.default.into());
        format!("{server}/{name}")
    }

    /// A connection to the `postgres` database, for administration.
    pub async fn admin(&self) -> DatabaseConnection {
        Database::connect(self.url("postgres"))
            .await
            .expect(self.missing)
    }
}

/// The number `sql` (a `SELECT COUNT(*) AS n ...`) counts.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .map(|row| row.try_get::<i64>("", "n").expect("a count named n"))
        .unwrap_or(0)
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
    let db = PRIMARY.admin().await;
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
    PRIMARY.url(&name)
}
