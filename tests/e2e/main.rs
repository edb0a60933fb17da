//! votemesh acceptance tests: real PostgreSQL, real processes, real clients (reqwest, tonic,
//! grpc-web as a browser frames it, and the grpcurl binary).

mod support;

mod admin;
mod bad_input;
mod balancing;
mod caller_header;
mod conformance;
mod drain;
mod election_access;
mod election_concurrency;
mod election_events;
mod election_lifecycle;
mod election_schedule;
mod forged_tokens;
mod grpc_web;
mod grpc_web_fuzz;
mod grpcurl;
mod launcher;
mod least_privilege;
mod load_generator;
mod native_grpc;
mod notify;
mod notify_concurrency;
mod notify_sinks;
mod overload;
mod rate_limits;
mod read_replica;
mod registry;
mod registry_replicas;
mod rest;
mod results;
mod roll_import;
mod secrets;
mod voting;
mod voting_faults;
