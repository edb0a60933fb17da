//! Recipients as API answers show them: enough to recognise, not enough to harvest.

/// `ada@example.org` → `a***@example.org`; `+447700900123` → `+44*******23`.
pub fn recipient(address: &str) -> String {
    if let Some((local, domain)) = address.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let chars: Vec<char> = address.chars().collect();
    if chars.len() <= 5 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 5))
}

#[cfg(test)]
mod tests {
    use super::recipient;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(recipient("ada@example.org"), "a***@example.org");
        assert_eq!(recipient("+447700900123"), "+44********23");
        assert_eq!(recipient("+1234"), "*****");
        assert_eq!(recipient(""), "");
    }
}
