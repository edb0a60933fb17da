//! The service kit: everything each votemesh service gets from one place.
#![forbid(unsafe_code)]

pub mod auth;
pub mod bus;
pub mod cache;
pub mod config;
pub mod db;
pub mod decode_errors;
pub mod discovery;
pub mod error;
pub mod failover;
pub mod internal;
pub mod metrics;
pub mod outbox;
pub mod overload;
pub mod policy;
pub mod ratelimit;
pub mod redis;
pub mod registration;
pub mod server;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod validate;

pub use error::ServiceError;
