//! Acceptance 3: every kind of forged token is refused, and nothing changes.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::{Signer, SigningKey};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use svc_user::store::SeaUserStore;

use crate::support::*;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ed25519_token(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&signature.to_bytes()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    block[..key.len().min(64)].copy_from_slice(&key[..key.len().min(64)]);
    let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&inner_pad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&outer_pad)
        .chain_update(inner)
        .finalize()
        .to_vec()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_rejected_and_change_nothing() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let victim = api.voter("victim").await;

    // The real signing key, read from svc-user's database, makes forgeries that only the
    // claims checks can catch.
    let store = SeaUserStore::open(&mesh.database_url, 1)
        .await
        .expect("store");
    let seal = svc_user::Seal::new(&mesh.signing_key_secret).expect("seal");
    let ring = svc_user::KeyRing::open(std::sync::Arc::new(store), seal)
        .await
        .expect("the stored keys open with the mesh's secret");
    let (kid, real_key) = ring.signer();
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let claims = json!({
        "iss": "votemesh", "aud": "votemesh", "sub": victim.user_id, "role": "admin",
        "exp": now() + 300, "iat": now(), "jti": "forged",
    });
    let with = |field: &str, value: Value| {
        let mut changed = claims.clone();
        changed[field] = value;
        changed
    };
    let mut without_exp = claims.clone();
    without_exp.as_object_mut().map(|o| o.remove("exp"));

    let unsigned_input = format!(
        "{}.{}",
        b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let alg_none = format!("{unsigned_input}.");
    let hs_input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "kid": kid}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let public_key = real_key.verifying_key().to_bytes();
    let hs256 = format!(
        "{hs_input}.{}",
        b64(&hmac_sha256(&public_key, hs_input.as_bytes()))
    );
    let tampered = {
        let parts: Vec<&str> = victim.access.split('.').collect();
        let mut payload: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload"))
                .expect("json");
        payload["role"] = json!("admin");
        format!(
            "{}.{}.{}",
            parts[0],
            b64(payload.to_string().as_bytes()),
            parts[2]
        )
    };
    let stranger = SigningKey::from_bytes(&[9u8; 32]);
    let unknown_kid = ed25519_token(
        &stranger,
        &json!({"alg": "EdDSA", "kid": "not-a-known-kid"}),
        &claims,
    );
    let stranger_with_real_kid = ed25519_token(&stranger, &header, &claims);

    let forgeries = [
        ("alg none", alg_none),
        ("HS256 with the public key", hs256),
        (
            "expired",
            ed25519_token(&real_key, &header, &with("exp", json!(now() - 3600))),
        ),
        (
            "wrong aud",
            ed25519_token(&real_key, &header, &with("aud", json!("someone-else"))),
        ),
        (
            "wrong iss",
            ed25519_token(&real_key, &header, &with("iss", json!("evil"))),
        ),
        (
            "missing exp",
            ed25519_token(&real_key, &header, &without_exp),
        ),
        ("tampered payload", tampered),
        ("unknown kid", unknown_kid),
        ("another key under a real kid", stranger_with_real_kid),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (name, token) in &forgeries {
        let (status, body) = api.get("/v1/me", Some(token)).await;
        assert_eq!(status, 401, "{name}: {body}");
        let (status, _) = api
            .call(
                Method::PATCH,
                "/v1/me",
                Some(token),
                Some(json!({"display_name": "pwned"})),
            )
            .await;
        assert_eq!(status, 401, "{name} must not update a profile");
        let (status, _) = api
            .post(
                &format!("/v1/admin/users/{}/role", victim.user_id),
                Some(token),
                json!({"role": "ROLE_ADMIN"}),
            )
            .await;
        assert!(
            status == 401 || status == 403,
            "{name} must not reach an admin method: {status}"
        );
        let mut grpc = user_client(&mesh.edge_url).await;
        let refused = grpc
            .get_me(bearer(proto_gen::user::v1::GetMeRequest {}, token))
            .await
            .expect_err(name);
        assert_eq!(
            refused.code(),
            tonic::Code::Unauthenticated,
            "{name} over gRPC"
        );
    }

    // The real key with honest claims works, which shows the refusals above were the claims'.
    let honest = ed25519_token(&real_key, &header, &with("role", json!("voter")));
    assert_eq!(api.get("/v1/me", Some(&honest)).await.0, 200);

    // A disabled user's token, valid in every other way, stops working.
    assert_eq!(api.disable(&admin.access, &victim.user_id).await.0, 200);
    assert_eq!(api.get("/v1/me", Some(&victim.access)).await.0, 401);
    assert_eq!(api.get("/v1/me", Some(&honest)).await.0, 401);

    let (_, seen) = api
        .get(
            &format!("/v1/admin/users/{}", victim.user_id),
            Some(&admin.access),
        )
        .await;
    assert_eq!(
        seen["user"]["display_name"], "Test Voter",
        "no forgery changed the profile"
    );
    assert_eq!(
        seen["user"]["role"], "ROLE_VOTER",
        "no forgery changed the role"
    );
}
