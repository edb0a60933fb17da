//! Generated protobuf and tonic code for every votemesh contract in `proto/`.
//!
//! The files under `src/gen/` are produced by `tests/codegen.rs` with `protox` (no system
//! `protoc`) and are checked in; that test fails when they drift from `proto/`.
//! Regenerate with `VOTEMESH_BLESS=1 cargo test -p proto-gen --test codegen`.
#![allow(clippy::all, missing_docs)]

/// The encoded `FileDescriptorSet` of every contract and its imports, with custom options
/// kept, for server reflection, the edge's transcoding and the access policy.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("gen/descriptor.bin");

pub mod google {
    pub mod api {
        include!("gen/google.api.rs");
    }
}

pub mod options {
    pub mod v1 {
        include!("gen/votemesh.options.v1.rs");
    }
}

pub mod registry {
    pub mod v1 {
        include!("gen/votemesh.registry.v1.rs");
    }
}

pub mod user {
    pub mod v1 {
        include!("gen/votemesh.user.v1.rs");
    }
}

pub mod election {
    pub mod v1 {
        include!("gen/votemesh.election.v1.rs");
    }
}

pub mod voting {
    pub mod v1 {
        include!("gen/votemesh.voting.v1.rs");
    }
}

pub mod result {
    pub mod v1 {
        include!("gen/votemesh.result.v1.rs");
    }
}

pub mod notify {
    pub mod v1 {
        include!("gen/votemesh.notify.v1.rs");
    }
}

pub mod events {
    pub mod v1 {
        include!("gen/votemesh.events.v1.rs");
    }
}
