//! Checks a selection against the election's method; each refusal says what is wrong.

use std::collections::HashSet;

use kit::ServiceError;
use proto_gen::election::v1::{BallotMethod, Election};

/// The candidate ids of a valid selection, in the voter's order.
pub fn validate(
    election: &Election,
    candidate_ids: &[String],
    choices: &[String],
) -> Result<Vec<String>, ServiceError> {
    let field = "selection.candidate_ids";
    if choices.is_empty() {
        return Err(ServiceError::invalid(
            field,
            "choose at least one candidate",
        ));
    }
    let known: HashSet<&str> = candidate_ids.iter().map(String::as_str).collect();
    if let Some(unknown) = choices.iter().find(|c| !known.contains(c.as_str())) {
        return Err(ServiceError::invalid(
            field,
            format!("{unknown} is not a candidate in this election"),
        ));
    }
    let distinct: HashSet<&str> = choices.iter().map(String::as_str).collect();
    if distinct.len() != choices.len() {
        return Err(ServiceError::invalid(
            field,
            "a candidate appears more than once",
        ));
    }
    let max = election.max_choices as usize;
    match BallotMethod::try_from(election.method).unwrap_or(BallotMethod::Unspecified) {
        BallotMethod::Plurality if choices.len() != 1 => {
            return Err(ServiceError::invalid(
                field,
                "PLURALITY takes exactly one choice",
            ))
        }
        BallotMethod::Approval if max > 0 && choices.len() > max => {
            return Err(ServiceError::invalid(
                field,
                format!("too many choices: at most {max}"),
            ))
        }
        BallotMethod::Ranked if max > 0 && choices.len() > max => {
            return Err(ServiceError::invalid(
                field,
                format!("ranking too long: at most {max}"),
            ))
        }
        BallotMethod::Unspecified => {
            return Err(ServiceError::FailedPrecondition(
                "election has no ballot method".into(),
            ))
        }
        // A ranking is the list's order, so it has no gaps by construction.
        _ => {}
    }
    Ok(choices.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(method: BallotMethod, max: u32) -> Election {
        Election {
            method: method as i32,
            max_choices: max,
            ..Default::default()
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_method_has_its_limits() {
        let candidates = ids(&["a", "b", "c"]);
        let plurality = election(BallotMethod::Plurality, 1);
        assert!(validate(&plurality, &candidates, &ids(&["a"])).is_ok());
        assert!(validate(&plurality, &candidates, &ids(&["a", "b"])).is_err());
        let approval = election(BallotMethod::Approval, 2);
        assert!(validate(&approval, &candidates, &ids(&["a", "c"])).is_ok());
        let error = validate(&approval, &candidates, &ids(&["a", "b", "c"])).expect_err("too many");
        assert!(error.to_string().contains("too many choices"));
        let ranked = election(BallotMethod::Ranked, 0);
        assert!(validate(&ranked, &candidates, &ids(&["c", "a", "b"])).is_ok());
        assert!(validate(&ranked, &candidates, &ids(&["c", "c"]))
            .expect_err("dup")
            .to_string()
            .contains("more than once"));
        assert!(validate(&ranked, &candidates, &ids(&["z"]))
            .expect_err("unknown")
            .to_string()
            .contains("not a candidate"));
        assert!(validate(&ranked, &candidates, &[]).is_err());
    }
}
