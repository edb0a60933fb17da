//! Message templates: compiled in, and replaceable one by one from a directory. A template
//! is text with `{{name}}` placeholders; an email template's first line is `Subject: …`,
//! then a blank line, then the body. SMS templates are a body only.

use std::{collections::HashMap, path::Path};

/// Every template, by file name without `.txt`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "verification_email",
        include_str!("templates/verification_email.txt"),
    ),
    (
        "verification_sms",
        include_str!("templates/verification_sms.txt"),
    ),
    (
        "confirmation_email",
        include_str!("templates/confirmation_email.txt"),
    ),
    (
        "confirmation_sms",
        include_str!("templates/confirmation_sms.txt"),
    ),
    (
        "invitation_email",
        include_str!("templates/invitation_email.txt"),
    ),
    (
        "reminder_email",
        include_str!("templates/reminder_email.txt"),
    ),
    ("reminder_sms", include_str!("templates/reminder_sms.txt")),
];

/// A rendered message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

#[derive(Clone, Debug)]
pub struct Templates {
    by_name: HashMap<&'static str, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("reading {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{0}: an email template starts with a `Subject:` line")]
    NoSubject(String),
}

fn check(name: &str, text: &str) -> Result<(), TemplateError> {
    if name.ends_with("_email") && !text.starts_with("Subject:") {
        return Err(TemplateError::NoSubject(format!("{name}.txt")));
    }
    Ok(())
}

impl Templates {
    /// The built-in templates, each replaced by `<dir>/<name>.txt` where that file exists.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        let mut by_name = HashMap::new();
        for (name, text) in BUILT_IN {
            let text = match dir.map(|dir| dir.join(format!("{name}.txt"))) {
                Some(path) if path.exists() => {
                    std::fs::read_to_string(&path).map_err(|error| TemplateError::Read {
                        path: path.display().to_string(),
                        error,
                    })?
                }
                _ => (*text).to_owned(),
            };
            check(name, &text)?;
            by_name.insert(*name, text);
        }
        Ok(Self { by_name })
    }

    /// Renders template `name` with `values` (a placeholder with no value stays empty).
    pub fn render(&self, name: &str, values: &[(&str, &str)]) -> Rendered {
        let text = self.by_name.get(name).map(String::as_str).unwrap_or("");
        let filled = fill(text, values);
        match filled.strip_prefix("Subject:") {
            Some(rest) => {
                let (subject, body) = rest.split_once('\n').unwrap_or((rest, ""));
                Rendered {
                    subject: subject.trim().to_owned(),
                    body: body.trim_start_matches(['\r', '\n']).to_owned(),
                }
            }
            None => Rendered {
                subject: String::new(),
                body: filled.trim_end().to_owned(),
            },
        }
    }
}

fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = after[..end].trim();
                let value = values.iter().find(|(key, _)| *key == name);
                out.push_str(value.map(|(_, v)| *v).unwrap_or(""));
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_template_renders_subject_and_body() {
        let templates = Templates::load(None).expect("built in");
        let rendered = templates.render(
            "confirmation_email",
            &[("election", "Board 2026"), ("name", "Ada")],
        );
        assert_eq!(rendered.subject, "Your ballot in Board 2026 was recorded");
        assert!(rendered.body.starts_with("Hello Ada,"));
        assert!(!rendered.body.contains("{{"));
    }

    #[test]
    fn a_directory_replaces_one_template() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("verification_sms.txt"),
            "Code {{code}} for {{name}}",
        )
        .expect("write");
        let templates = Templates::load(Some(dir.path())).expect("loads");
        let sms = templates.render("verification_sms", &[("code", "123456"), ("name", "Ada")]);
        assert_eq!(sms.body, "Code 123456 for Ada");
        // The others stay built in.
        let mail = templates.render("verification_email", &[("code", "1")]);
        assert!(mail.subject.contains('1'));
    }

    #[test]
    fn an_email_template_without_a_subject_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("reminder_email.txt"), "no subject").expect("write");
        let error = Templates::load(Some(dir.path())).expect_err("refused");
        assert!(error.to_string().contains("reminder_email.txt"));
    }
}
