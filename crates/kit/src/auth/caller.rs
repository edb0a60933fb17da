//! The signed-in user behind a request, and how a service that has verified one hands it on
//! to the next hop in the caller header.

use proto_gen::user::v1::Role;

/// Header naming the user a service calls on behalf of. Only believed next to a valid
/// internal token: the edge strips it from client requests, and a service refuses it from
/// anyone without the token.
pub const CALLER_HEADER: &str = "x-votemesh-caller";

/// The signed-in user behind a request, put into request extensions by
/// [`AuthLayer`](super::AuthLayer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The role the account holds now (confirmed with svc-user where a verifier does that).
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The caller header's value: `<user id> <role claim>`.
    pub fn to_header(&self) -> String {
        format!("{} {}", self.user_id, role_claim(self.role))
    }

    /// Reads a caller header's value; `None` when it is malformed.
    pub fn from_header(value: &str) -> Option<Self> {
        let (user_id, role) = value.split_once(' ')?;
        let well_formed = !user_id.is_empty() && !user_id.contains(char::is_whitespace);
        well_formed.then_some(Self {
            user_id: user_id.to_owned(),
            role: role_from_claim(role)?,
        })
    }
}

/// The caller of a request that the policy let through as a user.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, crate::ServiceError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| crate::ServiceError::Unauthenticated("sign in first".into()))
}

pub fn role_claim(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        _ => "voter",
    }
}

pub fn role_from_claim(claim: &str) -> Option<Role> {
    match claim {
        "admin" => Some(Role::Admin),
        "voter" => Some(Role::Voter),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_round_trips() {
        let caller = Caller {
            user_id: "3f1c2a4e-7d8b-4b71-9d55-0d3e1f2a6b7c".into(),
            role: Role::Admin,
        };
        assert_eq!(Caller::from_header(&caller.to_header()), Some(caller));
    }

    #[test]
    fn malformed_headers_are_refused() {
        for value in [
            "",
            "only-an-id",
            " admin",
            "id superuser",
            "id  admin",
            "a b admin",
        ] {
            assert_eq!(Caller::from_header(value), None, "{value:?}");
        }
    }
}
