//! Quick or full: how much data and training the notebooks use.

/// The environment variable that selects [`Mode::Quick`]: `FER_QUICK=1` (also `true`, `yes`).
pub const QUICK_ENV: &str = "FER_QUICK";

/// How much work the notebooks do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A small stratified subset and short training, so all five notebooks execute headless in
    /// minutes (the test command runs them this way). Its numbers only show that the code runs.
    Quick,
    /// All of FER2013; the CNN comes from the shipped checkpoint. These are the real numbers.
    Full,
}

impl Mode {
    /// [`Mode::Quick`] when `FER_QUICK` is `1`, `true` or `yes` (any case), else [`Mode::Full`].
    pub fn from_env() -> Mode {
        Mode::from_value(std::env::var(QUICK_ENV).ok().as_deref())
    }

    /// [`Mode::from_env`] with the variable's value passed in, so it can be tested without
    /// touching the process environment.
    fn from_value(value: Option<&str>) -> Mode {
        match value.map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "1" || v == "true" || v == "yes" => Mode::Quick,
            _ => Mode::Full,
        }
    }

    /// Whether this is [`Mode::Quick`].
    pub fn is_quick(self) -> bool {
        self == Mode::Quick
    }

    /// `"quick"` or `"full"`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_explicit_yes_values_mean_quick() {
        for yes in ["1", "true", "YES", " yes "] {
            assert_eq!(Mode::from_value(Some(yes)), Mode::Quick, "{yes}");
        }
        for no in [None, Some(""), Some("0"), Some("false"), Some("quick")] {
            assert_eq!(Mode::from_value(no), Mode::Full, "{no:?}");
        }
    }
}
