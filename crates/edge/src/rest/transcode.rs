//! JSON and URL parts to protobuf bytes and back, guided by the descriptors.

use prost::Message;
use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, SerializeOptions,
    Value,
};
use serde_json::Value as Json;

use super::{routes::decode_segment, RestError, Route};

fn is_json(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| ct.starts_with("application/json") || ct.ends_with("+json"))
}

/// The value of a route's body field: JSON for messages; for a string or bytes field a
/// non-JSON body (a CSV upload, say) is taken as it is.
fn body_field_value(field: &FieldDescriptor, body: &[u8], json: bool) -> Result<Value, RestError> {
    match field.kind() {
        Kind::Message(inner) => Ok(Value::Message(parse_json(&inner, body)?)),
        Kind::String if !json => String::from_utf8(body.to_vec())
            .map(Value::String)
            .map_err(|_| RestError::field(field.name(), "must be UTF-8 text")),
        Kind::Bytes if !json => Ok(Value::Bytes(body.to_vec().into())),
        Kind::String => serde_json::from_slice::<String>(body)
            .map(Value::String)
            .map_err(|_| {
                RestError::field(
                    field.name(),
                    "must be a JSON string, or send the text with its own content type",
                )
            }),
        _ => Err(RestError::field(
            "body",
            "route binds a field that cannot carry a body",
        )),
    }
}

/// Builds the request message from the body, path variables and query string.
pub fn request_message(
    route: &Route,
    bound: &[(String, String)],
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<u8>, RestError> {
    let descriptor = route.method().input();
    let mut message = match route.body.as_str() {
        "" => {
            if !body.iter().all(u8::is_ascii_whitespace) {
                return Err(RestError::field("body", "this route takes no body"));
            }
            DynamicMessage::new(descriptor.clone())
        }
        "*" => parse_json(&descriptor, body)?,
        field_name => {
            let field = descriptor
                .get_field_by_name(field_name)
                .ok_or_else(|| RestError::field("body", "route binds an unknown field"))?;
            let mut message = DynamicMessage::new(descriptor.clone());
            message.set_field(
                &field,
                body_field_value(&field, body, is_json(content_type))?,
            );
            message
        }
    };
    for (name, value) in bound {
        set_from_text(&mut message, name, value)?;
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if route.body == "*" {
            return Err(RestError::field(
                "query",
                "this route reads its fields from the body",
            ));
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_segment(&key.replace('+', " "))
                .ok_or_else(|| RestError::field("query", "bad percent-encoding"))?;
            let value = decode_segment(&value.replace('+', " "))
                .ok_or_else(|| RestError::field(key.clone(), "bad percent-encoding"))?;
            set_from_text(&mut message, &key, &value)?;
        }
    }
    Ok(message.encode_to_vec())
}

fn parse_json(descriptor: &MessageDescriptor, body: &[u8]) -> Result<DynamicMessage, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DynamicMessage::new(descriptor.clone()));
    }
    let json: Json = serde_json::from_slice(body)
        .map_err(|error| RestError::field("body", format!("malformed JSON: {error}")))?;
    let Json::Object(object) = &json else {
        return Err(RestError::field("body", "must be a JSON object"));
    };
    for key in object.keys() {
        if descriptor.get_field_by_name(key).is_none()
            && descriptor.get_field_by_json_name(key).is_none()
        {
            return Err(RestError::field(key.clone(), "unknown field"));
        }
    }
    match DynamicMessage::deserialize(descriptor.clone(), json.clone()) {
        Ok(message) => Ok(message),
        Err(whole_error) => {
            // Find the field at fault, so the error can name it.
            for (key, value) in object {
                let single =
                    Json::Object(serde_json::Map::from_iter([(key.clone(), value.clone())]));
                if let Err(error) = DynamicMessage::deserialize(descriptor.clone(), single) {
                    return Err(RestError::field(key.clone(), error));
                }
            }
            Err(RestError::field("body", whole_error))
        }
    }
}

fn set_from_text(message: &mut DynamicMessage, name: &str, text: &str) -> Result<(), RestError> {
    let descriptor = message.descriptor();
    let field = descriptor
        .get_field_by_name(name)
        .or_else(|| descriptor.get_field_by_json_name(name))
        .ok_or_else(|| RestError::field(name, "unknown field"))?;
    let value = scalar_from_text(&field, text)?;
    if field.is_list() {
        let mut list = match message.get_field(&field).into_owned() {
            Value::List(list) => list,
            _ => Vec::new(),
        };
        list.push(value);
        message.set_field(&field, Value::List(list));
    } else {
        message.set_field(&field, value);
    }
    Ok(())
}

fn scalar_from_text(field: &FieldDescriptor, text: &str) -> Result<Value, RestError> {
    let name = field.name();
    let bad = |what: &str| RestError::field(name, format!("must be {what}"));
    Ok(match field.kind() {
        Kind::String => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(text.parse().map_err(|_| bad("true or false"))?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::I32(text.parse().map_err(|_| bad("a 32-bit integer"))?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::I64(text.parse().map_err(|_| bad("a 64-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::U32(
            text.parse()
                .map_err(|_| bad("an unsigned 32-bit integer"))?,
        ),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(
            text.parse()
                .map_err(|_| bad("an unsigned 64-bit integer"))?,
        ),
        Kind::Float => Value::F32(text.parse().map_err(|_| bad("a number"))?),
        Kind::Double => Value::F64(text.parse().map_err(|_| bad("a number"))?),
        Kind::Enum(enumeration) => {
            let value = enumeration
                .get_value_by_name(text)
                .or_else(|| text.parse().ok().and_then(|n| enumeration.get_value(n)))
                .ok_or_else(|| bad("one of the enum's value names"))?;
            Value::EnumNumber(value.number())
        }
        Kind::Bytes | Kind::Message(_) => {
            return Err(RestError::field(name, "cannot be set from the URL"));
        }
    })
}

/// Decodes a response and renders it as JSON with proto field names and every field shown.
pub fn response_json(descriptor: MessageDescriptor, bytes: &[u8]) -> Result<Json, RestError> {
    let message = DynamicMessage::decode(descriptor, bytes).map_err(|error| {
        tracing::error!(%error, "upstream sent an undecodable response");
        RestError::new(
            tonic::Code::Internal,
            "upstream response could not be decoded",
        )
    })?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false);
    message
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|error| RestError::new(tonic::Code::Internal, format!("rendering JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::{RouteMatch, RouteTable};
    use axum::http::Method;
    use kit::policy::AccessPolicy;
    use proto_gen::user::v1::{ListUsersRequest, RegisterRequest, Role, SetRoleRequest};

    fn route(verb: Method, path: &str) -> (Route, Vec<(String, String)>) {
        let table = RouteTable::from_policy(&AccessPolicy::from_contracts().expect("policy"))
            .expect("routes");
        match table.find(&verb, path) {
            RouteMatch::Found(route, bound) => (route.clone(), bound),
            _ => panic!("no route for {path}"),
        }
    }

    #[test]
    fn a_json_body_and_path_variables_become_the_request() {
        let (route, bound) = route(Method::POST, "/v1/admin/users/u-1/role");
        let bytes = request_message(&route, &bound, None, None, br#"{"role": "ROLE_ADMIN"}"#)
            .expect("valid");
        let request = SetRoleRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(request.user_id, "u-1");
        assert_eq!(request.role, Role::Admin as i32);

        let (route, bound) = route_for_register();
        let bytes = request_message(
            &route,
            &bound,
            None,
            None,
            br#"{"email":"a@b.co","password":"p","displayName":"A"}"#,
        )
        .expect("camelCase accepted");
        assert_eq!(
            RegisterRequest::decode(bytes.as_slice())
                .expect("decodes")
                .display_name,
            "A"
        );
    }

    fn route_for_register() -> (Route, Vec<(String, String)>) {
        route(Method::POST, "/v1/auth/register")
    }

    #[test]
    fn a_text_body_fills_a_string_body_field() {
        let (route, bound) = route(Method::POST, "/v1/elections/e1/roll:import");
        let csv = b"email\nada@example.org\n";
        let bytes = request_message(&route, &bound, None, Some("text/csv"), csv).expect("csv body");
        let request = proto_gen::election::v1::ImportRollCsvRequest::decode(bytes.as_slice())
            .expect("decodes");
        assert_eq!(
            (request.election_id.as_str(), request.csv.as_bytes()),
            ("e1", &csv[..])
        );
    }

    #[test]
    fn query_parameters_fill_get_requests() {
        let (route, bound) = route(Method::GET, "/v1/admin/users");
        let bytes = request_message(
            &route,
            &bound,
            Some("page_size=5&email_contains=ada%40x&role=ROLE_VOTER"),
            None,
            b"",
        )
        .expect("valid");
        let request = ListUsersRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(
            (request.page_size, request.email_contains.as_str()),
            (5, "ada@x")
        );
        assert_eq!(request.role, Role::Voter as i32);
    }

    #[test]
    fn bad_input_names_the_field() {
        let (register, bound) = route_for_register();
        let error = request_message(&register, &bound, None, None, br#"{"email": 5}"#)
            .expect_err("wrong type");
        assert_eq!(error.field.as_deref(), Some("email"));
        let error = request_message(&register, &bound, None, None, br#"{"emial": "x"}"#)
            .expect_err("unknown");
        assert_eq!(error.field.as_deref(), Some("emial"));
        let error =
            request_message(&register, &bound, None, None, b"{not json").expect_err("malformed");
        assert_eq!(error.field.as_deref(), Some("body"));
        let error =
            request_message(&register, &bound, None, None, b"[1,2]").expect_err("not an object");
        assert_eq!(error.field.as_deref(), Some("body"));

        let (list, bound) = route(Method::GET, "/v1/admin/users");
        let error = request_message(&list, &bound, Some("page_size=lots"), None, b"")
            .expect_err("not a number");
        assert_eq!(error.field.as_deref(), Some("page_size"));
        let error =
            request_message(&list, &bound, Some("sort=desc"), None, b"").expect_err("unknown");
        assert_eq!(error.field.as_deref(), Some("sort"));
    }
}
