//! Path templates from `google.api.http` rules (`/v1/users/{user_id}`, `…/candidates:reorder`)
//! and matching requests against them.

use axum::http::Method;
use prost_reflect::{MethodDescriptor, Value};
use proto_gen::google::api::{http_rule::Pattern, HttpRule};

use kit::policy::{AccessPolicy, MethodRule};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
}

/// One REST binding of one RPC.
#[derive(Clone, Debug)]
pub struct Route {
    pub verb: Method,
    pub template: String,
    segments: Vec<Segment>,
    custom_verb: Option<String>,
    /// `*` for the whole request, a field name, or empty for none.
    pub body: String,
    pub grpc_path: String,
    pub rule: MethodRule,
}

impl Route {
    pub fn method(&self) -> &MethodDescriptor {
        &self.rule.descriptor
    }

    pub fn path_variables(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Variable(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    fn matches(&self, segments: &[String]) -> Option<Vec<(String, String)>> {
        let mut segments = segments.to_vec();
        if let Some(verb) = &self.custom_verb {
            let last = segments.last_mut()?;
            let stripped = last.strip_suffix(&format!(":{verb}"))?.to_owned();
            *last = stripped;
        }
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut bound = Vec::new();
        for (template, actual) in self.segments.iter().zip(&segments) {
            match template {
                Segment::Literal(literal) if literal == actual => {}
                Segment::Literal(_) => return None,
                Segment::Variable(_) if actual.is_empty() => return None,
                Segment::Variable(name) => bound.push((name.clone(), actual.clone())),
            }
        }
        Some(bound)
    }
}

pub enum RouteMatch<'a> {
    Found(&'a Route, Vec<(String, String)>),
    WrongVerb,
    NotFound,
}

#[derive(Clone, Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

fn parse_template(template: &str) -> Option<(Vec<Segment>, Option<String>)> {
    let path = template.strip_prefix('/')?;
    let (path, custom_verb) = match path.rsplit_once(':') {
        Some((head, verb)) if !verb.contains('/') && !verb.contains('}') => {
            (head, Some(verb.to_owned()))
        }
        _ => (path, None),
    };
    let segments = path
        .split('/')
        .map(
            |part| match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) => Segment::Variable(name.split('=').next().unwrap_or(name).to_owned()),
                None => Segment::Literal(part.to_owned()),
            },
        )
        .collect();
    Some((segments, custom_verb))
}

fn verb_and_template(rule: &HttpRule) -> Option<(Method, String)> {
    Some(match rule.pattern.as_ref()? {
        Pattern::Get(t) => (Method::GET, t.clone()),
        Pattern::Put(t) => (Method::PUT, t.clone()),
        Pattern::Post(t) => (Method::POST, t.clone()),
        Pattern::Delete(t) => (Method::DELETE, t.clone()),
        Pattern::Patch(t) => (Method::PATCH, t.clone()),
        Pattern::Custom(custom) => (
            Method::from_bytes(custom.kind.as_bytes()).ok()?,
            custom.path.clone(),
        ),
    })
}

/// Percent-decodes one path segment; `None` for invalid UTF-8 or escapes.
pub fn decode_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl RouteTable {
    /// Every HTTP binding declared in the contracts, internal methods excluded.
    pub fn from_policy(policy: &AccessPolicy) -> anyhow::Result<Self> {
        let http_ext = policy
            .pool()
            .get_extension_by_name("google.api.http")
            .ok_or_else(|| anyhow::anyhow!("google.api.http is missing from the descriptor set"))?;
        let mut routes = Vec::new();
        for (grpc_path, rule) in policy.rules() {
            if rule.access == proto_gen::options::v1::Access::Internal {
                continue;
            }
            let options = rule.descriptor.options();
            if !options.has_extension(&http_ext) {
                continue;
            }
            let Value::Message(message) = options.get_extension(&http_ext).into_owned() else {
                continue;
            };
            let http_rule: HttpRule = message.transcode_to()?;
            for binding in std::iter::once(&http_rule).chain(http_rule.additional_bindings.iter()) {
                let (verb, template) = verb_and_template(binding)
                    .ok_or_else(|| anyhow::anyhow!("{grpc_path}: HTTP rule without a pattern"))?;
                let (segments, custom_verb) = parse_template(&template)
                    .ok_or_else(|| anyhow::anyhow!("{grpc_path}: bad path template {template}"))?;
                routes.push(Route {
                    verb,
                    template,
                    segments,
                    custom_verb,
                    body: binding.body.clone(),
                    grpc_path: grpc_path.clone(),
                    rule: rule.clone(),
                });
            }
        }
        // Literal segments win over variables, so `/v1/me` never binds as a variable.
        routes.sort_by_key(|route| {
            route
                .segments
                .iter()
                .map(|s| matches!(s, Segment::Variable(_)))
                .collect::<Vec<_>>()
        });
        Ok(Self { routes })
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    pub fn find(&self, verb: &Method, path: &str) -> RouteMatch<'_> {
        let Some(segments) = path
            .strip_prefix('/')
            .and_then(|p| p.split('/').map(decode_segment).collect::<Option<Vec<_>>>())
        else {
            return RouteMatch::NotFound;
        };
        let mut wrong_verb = false;
        for route in &self.routes {
            if let Some(bound) = route.matches(&segments) {
                if route.verb == *verb {
                    return RouteMatch::Found(route, bound);
                }
                wrong_verb = true;
            }
        }
        if wrong_verb {
            RouteMatch::WrongVerb
        } else {
            RouteMatch::NotFound
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::from_policy(&AccessPolicy::from_contracts().expect("policy")).expect("routes")
    }

    #[test]
    fn templates_bind_variables_and_custom_verbs() {
        let table = table();
        match table.find(&Method::GET, "/v1/admin/users/abc-123") {
            RouteMatch::Found(route, bound) => {
                assert_eq!(route.grpc_path, "/votemesh.user.v1.UserService/GetUser");
                assert_eq!(bound, vec![("user_id".to_owned(), "abc-123".to_owned())]);
            }
            _ => panic!("GetUser route"),
        }
        match table.find(&Method::POST, "/v1/elections/e1/candidates:reorder") {
            RouteMatch::Found(route, bound) => {
                assert_eq!(
                    route.grpc_path,
                    "/votemesh.election.v1.ElectionService/ReorderCandidates"
                );
                assert_eq!(bound, vec![("election_id".to_owned(), "e1".to_owned())]);
            }
            _ => panic!("reorder route"),
        }
        match table.find(&Method::GET, "/v1/me") {
            RouteMatch::Found(route, _) => {
                assert_eq!(route.grpc_path, "/votemesh.user.v1.UserService/GetMe")
            }
            _ => panic!("me route"),
        }
        assert!(matches!(
            table.find(&Method::DELETE, "/v1/me"),
            RouteMatch::WrongVerb
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/nothing"),
            RouteMatch::NotFound
        ));
        assert!(matches!(
            table.find(&Method::GET, "/v1/admin/users/%zz"),
            RouteMatch::NotFound
        ));
    }

    #[test]
    fn internal_methods_have_no_routes() {
        let table = table();
        assert!(table
            .routes()
            .iter()
            .all(|r| !r.grpc_path.ends_with("/GetContact")));
        assert!(table
            .routes()
            .iter()
            .all(|r| !r.grpc_path.contains("Registry")));
    }
}
