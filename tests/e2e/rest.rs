//! Acceptance 1, REST: a whole account lifecycle through the edge with an HTTP client.

use serde_json::json;

use crate::support::*;

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_lives_a_whole_session_over_rest() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let address = email("Rest");

    let registered = api.register(&address).await;
    assert_eq!(registered["user"]["email"], address.to_lowercase());
    assert_eq!(registered["user"]["role"], "ROLE_VOTER");
    let twin = json!({"email": address, "password": PASSWORD, "display_name": "Twin"});
    let reply = api.post("/v1/auth/register", None, twin).await;
    assert_eq!(error(&reply, "status"), (409, Some("ALREADY_EXISTS")));

    let (status, wrong) = api.try_login(&address, "not the password!").await;
    assert_eq!(status, 401);
    let (status, unknown) = api.try_login(&email("nobody"), PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(
        wrong["error"]["message"], unknown["error"]["message"],
        "no account enumeration"
    );

    let session = api.login(&address, PASSWORD).await;
    let (status, me) = api.get("/v1/me", Some(&session.access)).await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["user_id"], session.user_id.as_str());
    assert_eq!(api.get("/v1/me", None).await.0, 401);

    let profile = json!({"display_name": "Ada", "phone": "+4915112345678", "notification_channel": "NOTIFICATION_CHANNEL_SMS"});
    let (status, updated) = api.patch("/v1/me", Some(&session.access), profile).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["user"]["display_name"], "Ada");
    assert_eq!(updated["user"]["phone"], "+4915112345678");
    assert_eq!(
        updated["user"]["notification_channel"],
        "NOTIFICATION_CHANNEL_SMS"
    );
    let reply = api
        .patch("/v1/me", Some(&session.access), json!({"phone": "12"}))
        .await;
    assert_eq!(error(&reply, "field"), (400, Some("phone")));
    assert_eq!(
        api.get("/v1/me", Some(&session.access)).await.1["user"]["phone"],
        "+4915112345678"
    );

    // Refresh rotates: the new pair works, the spent refresh token does not.
    let (status, rotated) = api.refresh(&session.refresh).await;
    assert_eq!(status, 200, "{rotated}");
    let access = text(&rotated, "access_token");
    let refresh = text(&rotated, "refresh_token");
    assert_ne!(refresh, session.refresh);
    assert_eq!(api.get("/v1/me", Some(&access)).await.0, 200);
    let (status, _) = api.refresh(&session.refresh).await;
    assert_eq!(status, 401, "a spent refresh token is refused");

    let change = |current: &str| json!({"current_password": current, "new_password": NEW_PASSWORD});
    let reply = api
        .post(
            "/v1/me/password",
            Some(&access),
            change("wrong password here"),
        )
        .await;
    assert_eq!(error(&reply, "field"), (400, Some("current_password")));
    let (status, _) = api
        .post("/v1/me/password", Some(&access), change(PASSWORD))
        .await;
    assert_eq!(status, 200);
    assert_eq!(api.try_login(&address, PASSWORD).await.0, 401);
    let fresh = api.login(&address, NEW_PASSWORD).await;

    let logout = json!({"refresh_token": fresh.refresh});
    let (status, _) = api
        .post("/v1/auth/logout", Some(&fresh.access), logout)
        .await;
    assert_eq!(status, 200);
    let (status, _) = api.refresh(&fresh.refresh).await;
    assert_eq!(status, 401, "a logged-out refresh token is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_the_rest_routes() {
    let mesh = spawn_mesh().await;
    let (status, document) = Rest::new(&mesh.edge_url)
        .get("/api/openapi.json", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(document["openapi"], "3.0.3");
    let login = &document["paths"]["/v1/auth/login"]["post"];
    assert_eq!(login["operationId"], "UserService_Login");
    assert!(login.get("security").is_none(), "login is public");
    let get_user = &document["paths"]["/v1/admin/users/{user_id}"]["get"];
    assert_eq!(get_user["parameters"][0]["name"], "user_id");
    assert_eq!(get_user["security"][0]["bearer"], json!([]));
    assert!(
        document["components"]["schemas"]["votemesh.user.v1.User"]["properties"]["email"]
            .is_object()
    );
    // What the services take and give, found by schemathesis: a Duration is proto JSON's
    // string ("3600s"), ids in paths are UUIDs, a roll import's body is the CSV itself.
    let election = &document["components"]["schemas"]["votemesh.election.v1.Election"];
    let remind = &election["properties"]["remind_before_close"];
    assert_eq!(remind["type"], "string", "{remind}");
    assert!(document["components"]["schemas"]
        .get("google.protobuf.Duration")
        .is_none());
    assert_eq!(get_user["parameters"][0]["schema"]["format"], "uuid");
    let import = &document["paths"]["/v1/elections/{election_id}/roll:import"]["post"];
    let content = &import["requestBody"]["content"];
    assert_eq!(
        content["application/json"]["schema"]["type"], "string",
        "{import}"
    );
    assert!(content["text/csv"].is_object(), "{import}");
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let mut body = draft_body("Reminded");
    body["election"]["remind_before_close"] = json!("3600s");
    let created = create_election(&api, &admin.access, body).await;
    assert_eq!(created["remind_before_close"], "3600s", "as documented");
}
