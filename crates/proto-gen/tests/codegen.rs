//! Regenerates `src/gen` from `proto/` into a scratch directory and fails when the checked-in
//! copy differs. With `VOTEMESH_BLESS=1` it writes the fresh output instead.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

const ENTRY_FILES: &[&str] = &[
    "votemesh/registry/v1/registry.proto",
    "votemesh/user/v1/user.proto",
    "votemesh/election/v1/election.proto",
    "votemesh/voting/v1/voting.proto",
    "votemesh/result/v1/result.proto",
    "votemesh/notify/v1/notify.proto",
    "votemesh/events/v1/events.proto",
];

fn proto_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto")
}

fn generate(out_dir: &Path) -> anyhow::Result<()> {
    let mut compiler = protox::Compiler::new([proto_root()])?;
    compiler.include_imports(true).include_source_info(false);
    compiler.open_files(ENTRY_FILES)?;
    // The encoded form keeps custom options (access rules, HTTP rules) that prost_types drops.
    fs::write(
        out_dir.join("descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;

    let mut with_docs = protox::Compiler::new([proto_root()])?;
    with_docs.include_imports(true).include_source_info(true);
    with_docs.open_files(ENTRY_FILES)?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .out_dir(out_dir)
        .compile_fds(with_docs.file_descriptor_set())?;
    Ok(())
}

fn read_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        files.insert(name, fs::read(&path)?);
    }
    Ok(files)
}

#[test]
fn generated_code_matches_protos() -> anyhow::Result<()> {
    let checked_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gen");
    let scratch = tempfile::tempdir()?;
    generate(scratch.path())?;
    let fresh = read_dir(scratch.path())?;

    if std::env::var_os("VOTEMESH_BLESS").is_some() {
        fs::create_dir_all(&checked_in)?;
        for (name, bytes) in &fresh {
            fs::write(checked_in.join(name), bytes)?;
        }
        return Ok(());
    }

    let current = read_dir(&checked_in)?;
    let fresh_names: Vec<_> = fresh.keys().collect();
    let current_names: Vec<_> = current.keys().collect();
    assert_eq!(
        fresh_names, current_names,
        "generated file set drifted; run VOTEMESH_BLESS=1 cargo test -p proto-gen --test codegen"
    );
    for (name, bytes) in &fresh {
        assert!(
            current.get(name) == Some(bytes),
            "src/gen/{name} drifted from proto/; run VOTEMESH_BLESS=1 cargo test -p proto-gen --test codegen"
        );
    }
    Ok(())
}
