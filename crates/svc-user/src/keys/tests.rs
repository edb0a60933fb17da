use std::sync::Arc;

use kit::testing::Backend;

use super::{KeyRing, Seal};
use crate::store::{SeaUserStore, SigningKeyRecord, UserStore};

async fn store(backend: &Backend) -> Arc<dyn UserStore> {
    Arc::new(SeaUserStore::open(&backend.url, 2).await.expect("store"))
}

async fn ring(store: &Arc<dyn UserStore>, secret: &str) -> anyhow::Result<Arc<KeyRing>> {
    KeyRing::open(store.clone(), Seal::new(secret).expect("seal")).await
}

/// The one stored key's bytes.
async fn stored(store: &Arc<dyn UserStore>) -> Vec<u8> {
    let keys = store.signing_keys().await.expect("keys");
    assert_eq!(keys.len(), 1, "exactly one key, never a fresh one");
    keys[0].secret_key.clone()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_reopens_with_its_secret_and_refuses_another() {
    let backend = Backend::sqlite("user");
    let store = store(&backend).await;
    let (kid, key) = ring(&store, "first secret").await.expect("opens").signer();
    let blob = stored(&store).await;
    assert!(
        !contains(&blob, &key.to_bytes()),
        "the key is not stored raw"
    );

    let (again_kid, again) = ring(&store, "first secret")
        .await
        .expect("reopens")
        .signer();
    assert_eq!((again_kid, again.to_bytes()), (kid, key.to_bytes()));

    let error = ring(&store, "another secret")
        .await
        .err()
        .expect("a wrong secret fails");
    assert!(
        format!("{error:#}")
            .contains("VOTEMESH_SIGNING_KEY_SECRET does not open the stored signing keys"),
        "{error:#}"
    );
    assert_eq!(stored(&store).await, blob, "nothing was rewritten or added");
    backend.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_stored_in_the_clear_is_sealed_on_open() {
    let backend = Backend::sqlite("user");
    let store = store(&backend).await;
    let seed = [42u8; 32];
    store
        .insert_signing_key(SigningKeyRecord {
            kid: "legacy".into(),
            secret_key: seed.to_vec(),
            created_at_ms: 1,
        })
        .await
        .expect("legacy row");

    let (kid, key) = ring(&store, "the secret").await.expect("opens").signer();
    assert_eq!((kid.as_str(), key.to_bytes()), ("legacy", seed), "same key");
    let blob = stored(&store).await;
    assert!(blob.len() > seed.len() && !contains(&blob, &seed), "sealed");

    let (_, reopened) = ring(&store, "the secret").await.expect("reopens").signer();
    assert_eq!(reopened.to_bytes(), seed);
    assert_eq!(stored(&store).await, blob, "sealed once");
    assert!(ring(&store, "another secret").await.is_err());
    backend.finish().await;
}
