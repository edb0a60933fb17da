//! Input rules for elections and candidates; each error names its field.

use kit::ServiceError;
use proto_gen::election::v1::{
    BallotExport, BallotMethod, Eligibility, Question, ResultsVisibility,
};

use crate::{
    convert::{eligibility_name, method_name, millis, visibility_name},
    store::DraftFields,
};

pub fn id(field: &str, value: &str) -> Result<String, ServiceError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| ServiceError::invalid(field, "not a valid id"))
}

pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, ServiceError> {
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min || chars > max {
        let bounds = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(ServiceError::invalid(field, format!("must be {bounds}")));
    }
    Ok(value.to_owned())
}

/// Empty, or an https URL with a host and no spaces.
pub fn image_url(field: &str, value: &str) -> Result<String, ServiceError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    let host = value
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or(""));
    let valid = value.len() <= 2048
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && host.is_some_and(|h| !h.is_empty() && h.contains('.') && !h.starts_with('.'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err(ServiceError::invalid(field, "must be an https URL"))
    }
}

/// The fields of an election as a client set them, before checks.
pub struct ElectionInput<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The first question, already checked: the election's method and max_choices are its.
    pub first_question: &'a Question,
    pub opens_at: Option<&'a prost_types::Timestamp>,
    pub closes_at: Option<&'a prost_types::Timestamp>,
    pub results_visibility: i32,
    pub eligibility: i32,
    /// A zero duration, like none, means no automatic reminder.
    pub remind_before_close: Option<&'a prost_types::Duration>,
    pub ballot_export: i32,
}

/// The shortest and longest reminder lead times: a minute before closing is the last useful
/// moment, and an election rarely runs longer than a season.
const MIN_REMIND_BEFORE_CLOSE_MS: i64 = 60_000;
const MAX_REMIND_BEFORE_CLOSE_MS: i64 = 90 * 24 * 3_600_000;

/// The reminder lead time in milliseconds, `None` for no automatic reminder.
pub fn remind_before_close(
    value: Option<&prost_types::Duration>,
) -> Result<Option<i64>, ServiceError> {
    let field = "remind_before_close";
    let Some(duration) = value.filter(|d| d.seconds != 0 || d.nanos != 0) else {
        return Ok(None);
    };
    let well_formed = duration.nanos.abs() < 1_000_000_000
        && (duration.seconds == 0
            || duration.nanos == 0
            || (duration.seconds > 0) == (duration.nanos > 0));
    if !well_formed {
        return Err(ServiceError::invalid(field, "not a valid duration"));
    }
    let ms = duration
        .seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(duration.nanos) / 1_000_000);
    if !(MIN_REMIND_BEFORE_CLOSE_MS..=MAX_REMIND_BEFORE_CLOSE_MS).contains(&ms) {
        return Err(ServiceError::invalid(
            field,
            "must be at least 1 minute and at most 90 days (zero turns reminders off)",
        ));
    }
    Ok(Some(ms))
}

pub fn election(input: ElectionInput<'_>, now_ms: i64) -> Result<DraftFields, ServiceError> {
    let title = text("title", input.title, 1, 200)?;
    let description = text("description", input.description, 0, 5000)?;
    let method = BallotMethod::try_from(input.first_question.method).unwrap_or_default();
    let max_choices = i64::from(input.first_question.max_choices);
    let opens_at = input
        .opens_at
        .map(millis)
        .ok_or_else(|| ServiceError::invalid("opens_at", "required"))?;
    let closes_at = input
        .closes_at
        .map(millis)
        .ok_or_else(|| ServiceError::invalid("closes_at", "required"))?;
    if opens_at <= now_ms {
        return Err(ServiceError::invalid(
            "opens_at",
            "must be in the future; open early to start now",
        ));
    }
    if closes_at <= opens_at {
        return Err(ServiceError::invalid("closes_at", "must be after opens_at"));
    }
    let visibility = ResultsVisibility::try_from(input.results_visibility)
        .map_err(|_| ServiceError::invalid("results_visibility", "unknown value"))?;
    let eligibility = Eligibility::try_from(input.eligibility)
        .map_err(|_| ServiceError::invalid("eligibility", "unknown value"))?;
    let remind_before_close_ms = remind_before_close(input.remind_before_close)?;
    let ballot_export = match BallotExport::try_from(input.ballot_export) {
        Ok(BallotExport::Public) => "public",
        Ok(_) => "admins",
        Err(_) => return Err(ServiceError::invalid("ballot_export", "unknown value")),
    };
    Ok(DraftFields {
        title,
        description,
        method: method_name(method).into(),
        max_choices,
        opens_at_ms: opens_at,
        closes_at_ms: closes_at,
        results_visibility: visibility_name(visibility).into(),
        eligibility: eligibility_name(eligibility).into(),
        remind_before_close_ms,
        ballot_export: ballot_export.into(),
        // The caller has the questions, checked with the election's id.
        questions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_urls_must_be_https() {
        assert!(image_url("image_url", "").is_ok());
        assert!(image_url("image_url", "https://cdn.example.org/a.png").is_ok());
        for bad in [
            "http://x.org/a.png",
            "https://",
            "https://nohost",
            "javascript:alert(1)",
            "https://x.org/a b.png",
        ] {
            assert!(image_url("image_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reminder_lead_times_run_from_a_minute_to_ninety_days() {
        let lead = |seconds: i64, nanos: i32| {
            remind_before_close(Some(&prost_types::Duration { seconds, nanos }))
        };
        assert_eq!(remind_before_close(None).ok(), Some(None));
        assert_eq!(lead(0, 0).ok(), Some(None), "zero turns reminders off");
        assert_eq!(lead(60, 0).ok(), Some(Some(60_000)));
        assert_eq!(lead(3_600, 500_000_000).ok(), Some(Some(3_600_500)));
        assert_eq!(
            lead(90 * 24 * 3_600, 0).ok(),
            Some(Some(90 * 24 * 3_600_000))
        );
        for (seconds, nanos) in [
            (59, 999_999_999),
            (90 * 24 * 3_600, 1_000_000),
            (-60, 0),
            (0, 5),
            (60, -1),
            (60, 1_000_000_000),
            (i64::MAX, 0),
        ] {
            let refused = lead(seconds, nanos).expect_err("out of range");
            assert!(
                matches!(&refused, ServiceError::InvalidArgument { field, .. } if field == "remind_before_close"),
                "{seconds}s {nanos}ns: {refused:?}"
            );
        }
    }
}
