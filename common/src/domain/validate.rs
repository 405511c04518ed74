//! Input rules that need no stored state: lengths, formats, password policy.

use crate::error::{DomainError, FieldError};

/// Longest name, email or other short field.
pub const SHORT_MAX: usize = 200;
/// Longest remark or address.
pub const LONG_MAX: usize = 2000;
/// Shortest password.
pub const PASSWORD_MIN: usize = 8;
/// Longest password (argon2 input is bounded to keep hashing cheap to refuse).
pub const PASSWORD_MAX: usize = 200;

/// Collects field errors so a client learns every problem of a body at once.
#[derive(Debug, Default)]
pub struct Checker {
    errors: Vec<FieldError>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// A required short text: not blank, at most [`SHORT_MAX`] characters.
    pub fn required(&mut self, field: &str, value: &str) -> &mut Self {
        if value.trim().is_empty() {
            self.fail(field, "must not be blank");
        } else {
            self.max_len(field, value, SHORT_MAX);
        }
        self
    }

    /// Any text at most `max` characters long.
    pub fn max_len(&mut self, field: &str, value: &str, max: usize) -> &mut Self {
        if value.chars().count() > max {
            self.fail(field, format!("must be at most {max} characters"));
        }
        self
    }

    /// An optional text at most `max` characters long.
    pub fn opt_len(&mut self, field: &str, value: Option<&str>, max: usize) -> &mut Self {
        if let Some(v) = value {
            self.max_len(field, v, max);
        }
        self
    }

    pub fn email(&mut self, field: &str, value: &str) -> &mut Self {
        let ok = value.len() <= SHORT_MAX
            && value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(char::is_whitespace)
            });
        if !ok {
            self.fail(field, "must be an email address");
        }
        self
    }

    /// A `latitude,longitude` pair in decimal degrees.
    pub fn coordinate(&mut self, field: &str, value: &str) -> &mut Self {
        if !is_coordinate(value) {
            self.fail(field, "must be `latitude,longitude` in decimal degrees");
        }
        self
    }

    pub fn opt_coordinate(&mut self, field: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.coordinate(field, v);
        }
        self
    }

    /// Password policy: length bounds and `rePassword` equal to `password`.
    pub fn password(&mut self, password: &str, re_password: &str) -> &mut Self {
        let n = password.chars().count();
        if n < PASSWORD_MIN {
            self.fail("password", format!("must be at least {PASSWORD_MIN} characters"));
        } else if n > PASSWORD_MAX {
            self.fail("password", format!("must be at most {PASSWORD_MAX} characters"));
        }
        if password != re_password {
            self.fail("rePassword", "must equal password");
        }
        self
    }

    pub fn finish(&mut self) -> Result<(), DomainError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Validation(std::mem::take(&mut self.errors)))
        }
    }
}

/// A `latitude,longitude` pair in decimal degrees (latitude -90 to 90, longitude -180 to 180,
/// blanks around each number allowed), as a regular expression that reads the same in Rust, in
/// ECMAScript (the OpenAPI document's `pattern`, for app forms) and in Python (generators).
pub const COORDINATE_PATTERN: &str = concat!(
    r"^[ \t\r\n]*-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)[ \t\r\n]*,",
    r"[ \t\r\n]*-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)[ \t\r\n]*$"
);

fn is_coordinate(value: &str) -> bool {
    static COORDINATE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(COORDINATE_PATTERN).expect("the coordinate pattern compiles")
    });
    COORDINATE.is_match(value)
}

/// Emails compare case-insensitively; they are stored trimmed and lower-cased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<(), DomainError>) -> Vec<String> {
        match r {
            Ok(()) => vec![],
            Err(DomainError::Validation(errs)) => errs.into_iter().map(|e| e.field).collect(),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        for good in ["a@b.co", "noc.one@cgs.co.id"] {
            assert!(fields(Checker::new().email("email", good).finish()).is_empty(), "{good}");
        }
        for bad in ["", "a", "@b.co", "a@b", "a@.b", "a b@c.d", "a@b."] {
            assert_eq!(fields(Checker::new().email("email", bad).finish()), ["email"], "{bad}");
        }
    }

    #[test]
    fn passwords_must_be_long_enough_and_repeated() {
        assert_eq!(fields(Checker::new().password("short", "short").finish()), ["password"]);
        assert_eq!(fields(Checker::new().password("longenough", "other").finish()), ["rePassword"]);
        assert!(fields(Checker::new().password("longenough", "longenough").finish()).is_empty());
    }

    #[test]
    fn coordinates_are_latitude_comma_longitude() {
        for good in
            ["1.23124123151,-0.32413123", "-6.9, 107.6", "90,180", "-90.000,-180", " 0,0\n", "89.99,179.9"]
        {
            assert!(fields(Checker::new().coordinate("c", good).finish()).is_empty(), "{good}");
        }
        for bad in [
            "", "1.2", "a,b", "91,0", "0,181", "NaN,0", "1,2,3", "90.1,0", "0,-180.5", "1e1,2", "1,2x",
            "x1,2", "1.,2",
        ] {
            assert_eq!(fields(Checker::new().coordinate("c", bad).finish()), ["c"], "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let long = "x".repeat(SHORT_MAX + 1);
        let r = Checker::new().required("name", " ").required("nik", &long).finish();
        assert_eq!(fields(r), ["name", "nik"]);
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let s = "é".repeat(SHORT_MAX);
        assert!(fields(Checker::new().required("name", &s).finish()).is_empty());
    }
}
