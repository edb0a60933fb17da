//! Input rules for accounts; each error names its field.

use kit::ServiceError;

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const DISPLAY_NAME_MAX_CHARS: usize = 80;

/// Returns the normalised (trimmed, lower-cased) email.
pub fn email(field: &str, value: &str) -> Result<String, ServiceError> {
    kit::validate::email(value)
        .ok_or_else(|| ServiceError::invalid(field, "not a valid email address"))
}

pub fn password(field: &str, value: &str) -> Result<(), ServiceError> {
    let chars = value.chars().count();
    if chars < PASSWORD_MIN_CHARS {
        return Err(ServiceError::invalid(
            field,
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if chars > PASSWORD_MAX_CHARS {
        return Err(ServiceError::invalid(
            field,
            format!("must be at most {PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(())
}

/// Returns the trimmed display name.
pub fn display_name(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars == 0 || chars > DISPLAY_NAME_MAX_CHARS {
        return Err(ServiceError::invalid(
            field,
            format!("must be 1 to {DISPLAY_NAME_MAX_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ServiceError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// An E.164 number (`+` then 8 to 15 digits), or empty to clear.
pub fn phone(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let digits = value.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(ServiceError::invalid(
            field,
            "must be E.164: + and 8 to 15 digits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            email("email", " Ada@Example.ORG ").expect("valid"),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "a b@example.org",
            "ada@exa mple.org",
            "ada@@example.org",
            "ada@-x.org",
        ] {
            let error = email("email", bad).expect_err(bad);
            assert_eq!(error.to_string(), "email: not a valid email address");
        }
    }

    #[test]
    fn passwords_are_12_to_128_characters() {
        assert!(password("password", &"x".repeat(11)).is_err());
        assert!(password("password", &"x".repeat(12)).is_ok());
        assert!(password("password", &"é".repeat(128)).is_ok());
        assert!(password("password", &"x".repeat(129)).is_err());
    }

    #[test]
    fn names_and_phones() {
        assert_eq!(
            display_name("display_name", "  Ada  ").expect("valid"),
            "Ada"
        );
        assert!(display_name("display_name", "   ").is_err());
        assert!(display_name("display_name", &"n".repeat(81)).is_err());
        assert_eq!(
            phone("phone", "+4915112345678").expect("valid"),
            "+4915112345678"
        );
        assert!(phone("phone", "12345678").is_err());
        assert!(phone("phone", "+12ab5678").is_err());
        assert_eq!(phone("phone", "").expect("clears"), "");
    }
}
