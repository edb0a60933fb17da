//! Property tests of the REST side against whatever a client may send: any path finds a
//! route or none without panicking, and any body, query and path values for any route are
//! either transcoded into a message that decodes as the method's input or refused as the
//! client's mistake (4xx), never a panic or a server error.

use axum::http::Method;
use kit::policy::AccessPolicy;
use proptest::prelude::*;
use prost_reflect::DynamicMessage;
use serde_json::Value;

use super::{request_message, RouteMatch, RouteTable};

/// Built once: reading the contracts costs far more than a case.
fn table() -> &'static RouteTable {
    static TABLE: std::sync::OnceLock<RouteTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        RouteTable::from_policy(&AccessPolicy::from_contracts().expect("policy")).expect("routes")
    })
}

/// JSON of any shape, with the names the contracts use so that fields are often hit.
fn json() -> impl Strategy<Value = Value> {
    let names = prop_oneof![
        Just("election".to_owned()),
        Just("title".to_owned()),
        Just("email".to_owned()),
        Just("candidate_ids".to_owned()),
        Just("selection".to_owned()),
        Just("answers".to_owned()),
        Just("method".to_owned()),
        Just("opens_at".to_owned()),
        Just("page_size".to_owned()),
        "[a-z_]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
        Just(Value::String("BALLOT_METHOD_RANKED".into())),
        Just(Value::String("2030-01-01T00:00:00Z".into())),
        Just(Value::String("3600s".into())),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(names.clone(), inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json().prop_map(|value| value.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..64),
        Just(Vec::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn any_request_is_transcoded_or_refused_as_a_client_mistake(
        which in any::<prop::sample::Index>(),
        values in proptest::collection::vec(".{0,40}", 0..4),
        query in proptest::option::of("[a-z_=&%0-9.]{0,40}"),
        content_type in proptest::option::of(prop_oneof![
            Just("application/json"), Just("text/csv"), Just("text/plain"), Just("x/y")
        ]),
        body in body(),
    ) {
        let route = which.get(table().routes());
        let bound: Vec<(String, String)> = route
            .path_variables()
            .zip(values.iter().chain(std::iter::repeat(&String::new())))
            .map(|(name, value)| (name.to_owned(), value.clone()))
            .collect();
        match request_message(route, &bound, query.as_deref(), content_type, &body) {
            Ok(bytes) => {
                let decoded = DynamicMessage::decode(route.method().input(), bytes.as_slice());
                prop_assert!(decoded.is_ok(), "{} built a message that does not decode", route.grpc_path);
            }
            Err(error) => {
                let status = error.http_status.unwrap_or_else(|| kit::error::http_status_for(error.code));
                prop_assert!((400..500).contains(&status), "{}: {status} {}", route.grpc_path, error.message);
            }
        }
    }

    #[test]
    fn any_path_and_verb_find_a_route_or_none(
        path in "/[a-zA-Z0-9/:%._-]{0,60}",
        verb in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PATCH), Just(Method::DELETE)],
    ) {
        if let RouteMatch::Found(route, bound) = table().find(&verb, &path) {
            prop_assert_eq!(bound.len(), route.path_variables().count());
        }
    }
}
