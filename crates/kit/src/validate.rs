//! Input rules more than one service applies.

/// The normalised (trimmed, lower-cased) email, or `None` when it is not a plausible address.
pub fn email(value: &str) -> Option<String> {
    let value = value.trim().to_lowercase();
    if value.is_empty() || value.len() > 254 {
        return None;
    }
    let (local, domain) = value.split_once('@')?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    (local_ok && domain_ok).then_some(value)
}
