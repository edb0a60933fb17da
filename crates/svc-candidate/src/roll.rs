//! Voter-roll rows: CSV parsing and per-row checks. Good rows go on; every bad row is
//! reported with its number, value and reason, and never aborts the import.

use std::collections::HashMap;

use proto_gen::election::v1::RollRowError;

/// Rows kept and rows refused, before the store has said which are already on the roll.
pub struct Classified {
    /// Normalised emails, each once, with the row it came from.
    pub good: Vec<(u32, String)>,
    pub refused: Vec<RollRowError>,
}

/// The emails of a CSV upload: one per line, first column; a first line `email` is a header
/// and is not counted as a row; trailing empty lines are ignored.
pub fn parse_csv(text: &str) -> Vec<String> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let first_column = |line: &str| {
        let field = line.split(',').next().unwrap_or_default().trim();
        field.trim_matches('"').trim().to_owned()
    };
    let skip_header = lines
        .first()
        .is_some_and(|line| first_column(line).eq_ignore_ascii_case("email"));
    lines
        .into_iter()
        .skip(usize::from(skip_header))
        .map(first_column)
        .collect()
}

/// Checks rows numbered from 1: malformed, duplicate within the import, or past `limit`.
pub fn classify(rows: impl IntoIterator<Item = String>, limit: usize) -> Classified {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    let mut first_row: HashMap<String, u32> = HashMap::new();
    for (index, value) in rows.into_iter().enumerate() {
        let row = index as u32 + 1;
        let refuse = |reason: String| RollRowError {
            row,
            value: value.clone(),
            reason,
        };
        if index >= limit {
            refused.push(refuse(format!("beyond the import limit of {limit} rows")));
            continue;
        }
        let Some(email) = kit::validate::email(&value) else {
            refused.push(refuse("malformed email".into()));
            continue;
        };
        if let Some(first) = first_row.get(&email) {
            refused.push(refuse(format!("duplicate of row {first}")));
            continue;
        }
        first_row.insert(email.clone(), row);
        good.push((row, email));
    }
    Classified { good, refused }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_columns_and_line_endings() {
        let rows = parse_csv("Email,name\r\nada@example.org,Ada\r\n\"bob@example.org\"\r\n\r\n");
        assert_eq!(rows, ["ada@example.org", "bob@example.org"]);
        assert_eq!(parse_csv("x@y.org\n\nz@y.org"), ["x@y.org", "", "z@y.org"]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number() {
        let rows = ["a@x.org", "nope", "A@X.org ", "b@x.org", "c@x.org"].map(String::from);
        let classified = classify(rows, 4);
        let good: Vec<_> = classified
            .good
            .iter()
            .map(|(row, email)| (*row, email.as_str()))
            .collect();
        assert_eq!(good, [(1, "a@x.org"), (4, "b@x.org")]);
        let refused: Vec<_> = classified
            .refused
            .iter()
            .map(|e| (e.row, e.reason.as_str()))
            .collect();
        assert_eq!(
            refused,
            [
                (2, "malformed email"),
                (3, "duplicate of row 1"),
                (5, "beyond the import limit of 4 rows")
            ]
        );
    }
}
