//! Test helpers: fresh PostgreSQL databases, an in-process mesh on ephemeral ports, clients,
//! the broker, and waiting with a deadline.

pub mod ballots;
pub mod broker;
pub mod candidate;
pub mod clients;
pub mod elections;
pub mod mail;
pub mod mesh;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod sms;
pub mod wait;

pub use broker::kafka;
pub use clients::*;
pub use elections::*;
pub use mesh::*;
pub use postgres::fresh_database;
pub use wait::*;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ADMIN_EMAIL: &str = "admin@votemesh.test";
pub const ADMIN_PASSWORD: &str = "admin password of some length";

/// A unique email for a test user.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.org", uuid::Uuid::new_v4().simple())
}
