//! Voter weights as people write them ("1", "2.5", "0.333333") and as they are counted
//! (millionths of a vote, exact).

use crate::{Weight, ONE};

/// The heaviest weight a voter may carry: a million votes.
pub const MAX: Weight = 1_000_000 * ONE;

/// Parses a positive decimal with up to six places, at most [`MAX`]; empty means 1.
pub fn parse(text: &str) -> Result<Weight, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(ONE);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return Err("must be a decimal number such as 1 or 2.5");
    }
    if fraction.len() > 6 {
        return Err("must have at most 6 decimal places");
    }
    let whole: Weight = whole
        .parse()
        .ok()
        .filter(|w| *w <= MAX / ONE)
        .ok_or("must be at most 1000000")?;
    let fraction: Weight = format!("{fraction:0<6}").parse().unwrap_or(0);
    let weight = whole * ONE + fraction;
    match weight {
        0 => Err("must be greater than 0"),
        w if w > MAX => Err("must be at most 1000000"),
        w => Ok(w),
    }
}

/// A weight (or a weighted count) as a decimal without trailing zeros: "1", "2.5".
pub fn display(weight: Weight) -> String {
    let (whole, fraction) = (weight / ONE, weight % ONE);
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:06}");
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_and_print_exactly() {
        assert_eq!(parse(""), Ok(ONE));
        assert_eq!(parse("1"), Ok(ONE));
        assert_eq!(parse("2.5"), Ok(2_500_000));
        assert_eq!(parse("0.000001"), Ok(1));
        assert_eq!(parse(" 1000000 "), Ok(MAX));
        for bad in [
            "0",
            "0.0",
            "-1",
            "1.",
            ".5",
            "1e3",
            "1.0000001",
            "1000000.5",
            "x",
            "1,5",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(display(ONE), "1");
        assert_eq!(display(2_500_000), "2.5");
        assert_eq!(display(1), "0.000001");
        assert_eq!(display(0), "0");
        for text in ["3", "0.333333", "12.05"] {
            assert_eq!(display(parse(text).expect("a weight")), text);
        }
    }
}
