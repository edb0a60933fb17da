//! The signed-in user behind a request, and how a service that has verified one hands it on
//! to the next hop in the caller header.

use proto_gen::user::v1::Role;

/// Header naming the user a service calls on behalf of. Only believed next to a valid
/// internal token: the edge strips it from client requests, and a service refuses it from
/// anyone without the token.
pub const CALLER_HEADER: &str = "x-votemesh-caller";

/// The caller header's third word for a proven account email, and for any other.
const VERIFIED: &str = "verified";
const UNVERIFIED: &str = "unverified";

/// The signed-in user behind a request, put into request extensions by
/// [`AuthLayer`](super::AuthLayer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    /// The role the account holds now (confirmed with svc-user where a verifier does that).
    pub role: Role,
    /// Whether the account email is proven, as svc-user said where a verifier asks it; false
    /// wherever nobody asked, so a check on it fails closed.
    pub email_verified: bool,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The caller header's value: `<user id> <role claim> verified|unverified`.
    pub fn to_header(&self) -> String {
        let email = if self.email_verified {
            VERIFIED
        } else {
            UNVERIFIED
        };
        format!("{} {} {email}", self.user_id, role_claim(self.role))
    }

    /// Reads a caller header's value; `None` when it is malformed. A header without the
    /// third word (from a hop that predates it) reads as unverified: failing closed.
    pub fn from_header(value: &str) -> Option<Self> {
        let mut words = value.split(' ');
        let (user_id, role) = (words.next()?, words.next()?);
        let email_verified = match words.next() {
            None | Some(UNVERIFIED) => false,
            Some(VERIFIED) => true,
            Some(_) => return None,
        };
        let well_formed =
            !user_id.is_empty() && !user_id.contains(char::is_whitespace) && words.next().is_none();
        well_formed.then_some(Self {
            user_id: user_id.to_owned(),
            role: role_from_claim(role)?,
            email_verified,
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

    fn caller(role: Role, email_verified: bool) -> Caller {
        Caller {
            user_id: "3f1c2a4e-7d8b-4b71-9d55-0d3e1f2a6b7c".into(),
            role,
            email_verified,
        }
    }

    #[test]
    fn the_header_round_trips() {
        for caller in [
            caller(Role::Admin, true),
            caller(Role::Admin, false),
            caller(Role::Voter, true),
            caller(Role::Voter, false),
        ] {
            assert_eq!(Caller::from_header(&caller.to_header()), Some(caller));
        }
    }

    #[test]
    fn the_header_says_whether_the_email_is_proven() {
        assert_eq!(
            caller(Role::Voter, true).to_header(),
            "3f1c2a4e-7d8b-4b71-9d55-0d3e1f2a6b7c voter verified"
        );
        assert_eq!(
            caller(Role::Admin, false).to_header(),
            "3f1c2a4e-7d8b-4b71-9d55-0d3e1f2a6b7c admin unverified"
        );
    }

    #[test]
    fn a_header_without_the_third_word_reads_as_unverified() {
        let read = Caller::from_header("u1 voter").expect("well formed");
        assert_eq!((read.user_id.as_str(), read.role), ("u1", Role::Voter));
        assert!(!read.email_verified, "fails closed");
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
            "id admin yes",
            "id admin Verified",
            "id admin verified extra",
            "id admin ",
            "id admin  verified",
        ] {
            assert_eq!(Caller::from_header(value), None, "{value:?}");
        }
    }
}
