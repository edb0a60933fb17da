//! The per-method access rules and rate classes declared in the protos, read from the
//! descriptor set so the edge and every service enforce the same declaration.

use std::collections::HashMap;

use prost_reflect::{DescriptorPool, MethodDescriptor, Value};
use proto_gen::options::v1::{Access, RateClass};

/// What the protos say about one method.
#[derive(Clone, Debug)]
pub struct MethodRule {
    pub access: Access,
    pub rate_class: RateClass,
    pub descriptor: MethodDescriptor,
}

/// Every votemesh method, keyed by its gRPC path `/package.Service/Method`.
#[derive(Clone, Debug)]
pub struct AccessPolicy {
    pool: DescriptorPool,
    rules: HashMap<String, MethodRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("descriptor set does not decode: {0}")]
    Descriptor(#[from] prost_reflect::DescriptorError),
    #[error("extension {0} is missing from the descriptor set")]
    MissingExtension(&'static str),
    #[error("{0} declares no access rule; every votemesh method must")]
    Undeclared(String),
}

const ACCESS_EXTENSION: &str = "votemesh.options.v1.access";
const RATE_CLASS_EXTENSION: &str = "votemesh.options.v1.rate_class";

impl AccessPolicy {
    /// The policy of the contracts compiled into this binary.
    pub fn from_contracts() -> Result<Self, PolicyError> {
        Self::from_descriptor_set(proto_gen::FILE_DESCRIPTOR_SET)
    }

    pub fn from_descriptor_set(bytes: &[u8]) -> Result<Self, PolicyError> {
        let pool = DescriptorPool::decode(bytes)?;
        let access_ext = pool
            .get_extension_by_name(ACCESS_EXTENSION)
            .ok_or(PolicyError::MissingExtension(ACCESS_EXTENSION))?;
        let rate_ext = pool
            .get_extension_by_name(RATE_CLASS_EXTENSION)
            .ok_or(PolicyError::MissingExtension(RATE_CLASS_EXTENSION))?;
        let mut rules = HashMap::new();
        for service in pool.services() {
            if !service.full_name().starts_with("votemesh.") {
                continue;
            }
            for method in service.methods() {
                let options = method.options();
                let access = match options.get_extension(&access_ext).as_ref() {
                    Value::EnumNumber(n) => Access::try_from(*n).unwrap_or(Access::Unspecified),
                    _ => Access::Unspecified,
                };
                if access == Access::Unspecified {
                    return Err(PolicyError::Undeclared(method.full_name().to_owned()));
                }
                let rate_class = match options.get_extension(&rate_ext).as_ref() {
                    Value::EnumNumber(n) => match RateClass::try_from(*n) {
                        Ok(RateClass::Credentials) => RateClass::Credentials,
                        _ => RateClass::Standard,
                    },
                    _ => RateClass::Standard,
                };
                let path = format!("/{}/{}", service.full_name(), method.name());
                rules.insert(
                    path,
                    MethodRule {
                        access,
                        rate_class,
                        descriptor: method,
                    },
                );
            }
        }
        Ok(Self { pool, rules })
    }

    /// The rule for a gRPC path, or `None` for methods outside votemesh (health, reflection).
    pub fn rule(&self, path: &str) -> Option<&MethodRule> {
        self.rules.get(path)
    }

    pub fn pool(&self) -> &DescriptorPool {
        &self.pool
    }

    pub fn rules(&self) -> impl Iterator<Item = (&String, &MethodRule)> {
        self.rules.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_declares_access_and_the_declarations_are_read() {
        let policy = AccessPolicy::from_contracts().expect("contracts carry a rule per method");
        let access = |path: &str| policy.rule(path).map(|rule| rule.access);
        assert_eq!(
            access("/votemesh.user.v1.UserService/Login"),
            Some(Access::Public)
        );
        assert_eq!(
            access("/votemesh.user.v1.UserService/GetMe"),
            Some(Access::Authenticated)
        );
        assert_eq!(
            access("/votemesh.user.v1.UserService/ListUsers"),
            Some(Access::Admin)
        );
        assert_eq!(
            access("/votemesh.user.v1.UserService/GetContact"),
            Some(Access::Internal)
        );
        assert_eq!(
            access("/votemesh.registry.v1.RegistryService/Watch"),
            Some(Access::Internal)
        );
        assert_eq!(access("/grpc.health.v1.Health/Check"), None);
    }

    #[test]
    fn credential_methods_are_in_the_strict_rate_class() {
        let policy = AccessPolicy::from_contracts().expect("policy");
        let class = |path: &str| policy.rule(path).map(|rule| rule.rate_class);
        assert_eq!(
            class("/votemesh.user.v1.UserService/Login"),
            Some(RateClass::Credentials)
        );
        assert_eq!(
            class("/votemesh.user.v1.UserService/Register"),
            Some(RateClass::Credentials)
        );
        assert_eq!(
            class("/votemesh.user.v1.UserService/GetMe"),
            Some(RateClass::Standard)
        );
    }
}
