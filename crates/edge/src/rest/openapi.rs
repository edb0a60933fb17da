//! An OpenAPI 3 document for the REST surface, derived from the same routes and descriptors.

use std::collections::BTreeMap;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use proto_gen::options::v1::Access;
use serde_json::{json, Map, Value as Json};

use super::RouteTable;

const TIMESTAMP: &str = "google.protobuf.Timestamp";
const DURATION: &str = "google.protobuf.Duration";

/// Well-known types proto JSON writes as strings, not objects.
fn as_string(message: &MessageDescriptor) -> Option<Json> {
    match message.full_name() {
        TIMESTAMP => Some(json!({"type": "string", "format": "date-time"})),
        // Seconds with up to nine decimals and an `s`, e.g. "3600s" or "1.5s".
        DURATION => Some(json!({"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$"})),
        _ => None,
    }
}

fn schema_ref(message: &MessageDescriptor) -> Json {
    json!({ "$ref": format!("#/components/schemas/{}", message.full_name()) })
}

fn scalar_schema(kind: &Kind) -> Json {
    match kind {
        Kind::String => json!({"type": "string"}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            json!({"type": "integer", "format": "int32"})
        }
        Kind::Uint32 | Kind::Fixed32 => {
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": u32::MAX})
        }
        // Proto JSON writes 64-bit integers as strings.
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
        Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
        Kind::Float => json!({"type": "number", "format": "float"}),
        Kind::Double => json!({"type": "number", "format": "double"}),
        Kind::Bytes => json!({"type": "string", "format": "byte"}),
        Kind::Enum(e) => {
            json!({"type": "string", "enum": e.values().map(|v| v.name().to_owned()).collect::<Vec<_>>()})
        }
        Kind::Message(m) => as_string(m).unwrap_or_else(|| schema_ref(m)),
    }
}

fn field_schema(field: &FieldDescriptor) -> Json {
    if field.is_map() {
        if let Kind::Message(entry) = field.kind() {
            let value = entry.map_entry_value_field();
            return json!({"type": "object", "additionalProperties": scalar_schema(&value.kind())});
        }
    }
    let item = scalar_schema(&field.kind());
    if field.is_list() {
        json!({"type": "array", "items": item})
    } else {
        item
    }
}

fn collect(message: &MessageDescriptor, schemas: &mut BTreeMap<String, Json>) {
    if as_string(message).is_some() || schemas.contains_key(message.full_name()) {
        return;
    }
    schemas.insert(message.full_name().to_owned(), Json::Null);
    let mut properties = Map::new();
    for field in message.fields() {
        properties.insert(field.name().to_owned(), field_schema(&field));
        let nested = match field.kind() {
            Kind::Message(m) if field.is_map() => match m.map_entry_value_field().kind() {
                Kind::Message(v) => Some(v),
                _ => None,
            },
            Kind::Message(m) => Some(m),
            _ => None,
        };
        if let Some(nested) = nested {
            collect(&nested, schemas);
        }
    }
    schemas.insert(
        message.full_name().to_owned(),
        json!({"type": "object", "properties": properties}),
    );
}

/// The whole document.
pub fn document(routes: &RouteTable) -> Json {
    let mut paths: BTreeMap<String, Map<String, Json>> = BTreeMap::new();
    let mut schemas = BTreeMap::new();
    for route in routes.routes() {
        let method = route.method();
        let input = method.input();
        let output = method.output();
        collect(&input, &mut schemas);
        collect(&output, &mut schemas);
        let path_vars: Vec<&str> = route.path_variables().collect();
        let mut parameters: Vec<Json> = path_vars
            .iter()
            .map(|name| {
                // Every `…_id` in a path is a UUID; the services refuse anything else.
                let schema = if name.ends_with("_id") {
                    json!({"type": "string", "format": "uuid"})
                } else {
                    json!({"type": "string"})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if route.body.is_empty() {
            for field in input.fields() {
                let is_scalar = !matches!(field.kind(), Kind::Message(_) | Kind::Bytes);
                if is_scalar && !path_vars.contains(&field.name()) {
                    parameters.push(json!({"name": field.name(), "in": "query", "schema": field_schema(&field)}));
                }
            }
        }
        let mut operation = json!({
            "operationId": format!("{}_{}", method.parent_service().name(), method.name()),
            "tags": [method.parent_service().name()],
            "parameters": parameters,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(&output)}}},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if route.body == "*" {
            operation["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema_ref(&input)}}
            });
        } else if let Some(field) = input.get_field_by_name(&route.body) {
            // The body is one field: as JSON, or a text field's text with its own media type.
            let schema = field_schema(&field);
            let mut content = json!({"application/json": {"schema": schema}});
            if field.kind() == Kind::String {
                content["text/csv"] = json!({"schema": {"type": "string"}});
                content["text/plain"] = json!({"schema": {"type": "string"}});
            }
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        if route.rule.access != Access::Public {
            operation["security"] = json!([{"bearer": []}]);
        }
        paths
            .entry(route.template.clone())
            .or_default()
            .insert(route.verb.as_str().to_lowercase(), operation);
    }
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "integer"}, "status": {"type": "string"},
            "message": {"type": "string"}, "field": {"type": "string"}
        }}}}),
    );
    json!({
        "openapi": "3.0.3",
        "info": {"title": "votemesh", "version": "v1", "description": "REST/JSON face of the votemesh gRPC contracts, transcoded from their google.api.http rules."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        }
    })
}
