//! Voter-roll rows: CSV parsing and per-row checks. Good rows go on; every bad row is
//! reported with its number, value and reason, and never aborts the import.

use std::collections::HashMap;

use proto_gen::election::v1::{RollEntry, RollRowError};

/// Rows kept and rows refused, before the store has said which are already on the roll.
pub struct Classified {
    /// Normalised emails, each once, with the row it came from and the weight in millionths.
    pub good: Vec<(u32, String, i64)>,
    pub refused: Vec<RollRowError>,
}

/// The entries of a CSV upload: one per line, the email in the first column and an optional
/// weight in the second; a first line `email` (or `email,weight`) is a header and is not
/// counted as a row; trailing empty lines are ignored.
pub fn parse_csv(text: &str) -> Vec<RollEntry> {
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let column = |line: &str, index: usize| {
        let field = line.split(',').nth(index).unwrap_or_default().trim();
        field.trim_matches('"').trim().to_owned()
    };
    let skip_header = lines
        .first()
        .is_some_and(|line| column(line, 0).eq_ignore_ascii_case("email"));
    let weighted = skip_header
        && lines
            .first()
            .is_some_and(|line| column(line, 1).eq_ignore_ascii_case("weight"));
    lines
        .into_iter()
        .skip(usize::from(skip_header))
        .map(|line| RollEntry {
            email: column(line, 0),
            // Without a header, a second column is a weight only when it reads as a number.
            weight: match column(line, 1) {
                weight if weighted || weight.starts_with(|c: char| c.is_ascii_digit()) => weight,
                _ => String::new(),
            },
        })
        .collect()
}

/// Checks rows numbered from 1: malformed, duplicate within the import, or past `limit`.
pub fn classify(rows: impl IntoIterator<Item = RollEntry>, limit: usize) -> Classified {
    let mut good = Vec::new();
    let mut refused = Vec::new();
    let mut first_row: HashMap<String, u32> = HashMap::new();
    for (index, entry) in rows.into_iter().enumerate() {
        let row = index as u32 + 1;
        let value = entry.email;
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
        let weight = match counting::weight::parse(&entry.weight) {
            Ok(weight) => weight as i64,
            Err(why) => {
                refused.push(refuse(format!("weight {:?} {why}", entry.weight)));
                continue;
            }
        };
        first_row.insert(email.clone(), row);
        good.push((row, email, weight));
    }
    Classified { good, refused }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_headers_columns_and_line_endings() {
        let emails =
            |rows: Vec<RollEntry>| -> Vec<String> { rows.into_iter().map(|r| r.email).collect() };
        let rows = parse_csv("Email,name\r\nada@example.org,Ada\r\n\"bob@example.org\"\r\n\r\n");
        assert_eq!(rows[0].weight, "", "a name is not a weight");
        assert_eq!(emails(rows), ["ada@example.org", "bob@example.org"]);
        assert_eq!(
            emails(parse_csv("x@y.org\n\nz@y.org")),
            ["x@y.org", "", "z@y.org"]
        );
        let weighted = parse_csv("email,weight\na@x.org,2.5\nb@x.org\nc@x.org,1,x\n");
        let weights: Vec<&str> = weighted.iter().map(|r| r.weight.as_str()).collect();
        assert_eq!(weights, ["2.5", "", "1"]);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number() {
        let rows = ["a@x.org", "nope", "A@X.org ", "b@x.org", "c@x.org"].map(|email| RollEntry {
            email: email.into(),
            weight: String::new(),
        });
        let classified = classify(rows, 4);
        let good: Vec<_> = classified
            .good
            .iter()
            .map(|(row, email, weight)| (*row, email.as_str(), *weight))
            .collect();
        assert_eq!(good, [(1, "a@x.org", 1_000_000), (4, "b@x.org", 1_000_000)]);
        let weighed = |weight: &str| {
            classify(
                [RollEntry {
                    email: "w@x.org".into(),
                    weight: weight.into(),
                }],
                10,
            )
        };
        assert_eq!(weighed("1.25").good[0].2, 1_250_000);
        let refused = weighed("0").refused;
        assert_eq!(refused[0].reason, "weight \"0\" must be greater than 0");
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
