//! REST/JSON, transcoded generically from the protos' `google.api.http` rules.

mod error;
#[cfg(test)]
mod fuzz_tests;
pub mod openapi;
mod routes;
mod transcode;

pub use error::RestError;
pub use routes::{Route, RouteMatch, RouteTable};
pub use transcode::{request_message, response_json};
