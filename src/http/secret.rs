//! API tokens as a type that cannot leak by accident.
//!
//! A [`Secret`] prints as `[redacted]` through both `Debug` and `Display`, so a token inside a
//! settings struct, an error or a log line shows nothing. The only way to the value is
//! [`Secret::dangerously_expose`], whose name makes every use stand out in review; the HTTP layer
//! calls it once per request, to build a header it marks sensitive.
//!
//! Tokens are loaded from an environment variable or a file, never from a command-line argument
//! (which would end up in shell history and process listings). Errors name where the token was
//! looked for, never what was found there.

use std::fmt;
use std::path::{Path, PathBuf};

/// What every rendering of a secret shows.
const REDACTED: &str = "[redacted]";

/// A token or other credential. Cheap to clone; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

/// Where a secret was read from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    EnvVar(String),
    File(PathBuf),
    /// Handed over in memory by other code, described for error messages.
    Given(&'static str),
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EnvVar(name) => write!(f, "environment variable `{name}`"),
            Self::File(path) => write!(f, "file `{}`", path.display()),
            Self::Given(what) => f.write_str(what),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set")]
    NotSet(String),
    #[error("environment variable `{0}` does not hold valid UTF-8")]
    NotUnicode(String),
    #[error("could not read the token file `{}`", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token from the {0} is empty")]
    Empty(SecretSource),
    /// A token with a space, newline or control character inside cannot be a bearer token (and
    /// would not fit in an HTTP header); usually a file holding more than the token.
    #[error(
        "the token from the {0} contains whitespace or control characters; it should hold the \
         token alone"
    )]
    Malformed(SecretSource),
}

impl Secret {
    /// Wraps a value already in memory (for tests and for values handed over by other code).
    /// Surrounding whitespace is trimmed; the same checks as for loaded tokens apply.
    pub fn new(value: impl Into<String>, source: SecretSource) -> Result<Self, SecretError> {
        let value = value.into();
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(SecretError::Empty(source));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SecretError::Malformed(source));
        }
        Ok(Self(trimmed.into()))
    }

    /// Reads the token from the environment variable `name`.
    pub fn from_env(name: &str) -> Result<Self, SecretError> {
        match std::env::var(name) {
            Ok(value) => Self::new(value, SecretSource::EnvVar(name.to_owned())),
            Err(std::env::VarError::NotPresent) => Err(SecretError::NotSet(name.to_owned())),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::NotUnicode(name.to_owned())),
        }
    }

    /// Reads the token from a file, ignoring surrounding whitespace (editors and `echo` add a
    /// trailing newline).
    pub fn from_file(path: &Path) -> Result<Self, SecretError> {
        let value = std::fs::read_to_string(path).map_err(|source| SecretError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Self::new(value, SecretSource::File(path.to_owned()))
    }

    /// The value itself. Call it only to put the token on the wire.
    pub fn dangerously_expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str =
        "qiTgISif4zprgBb_5j4hXfp3qhDbxrntWwwOaHgAMr8.gg9ok4Bk7sWlP67rFyXeH3ABBsXyWqNuoXbXZPv1y2g";

    fn source() -> SecretSource {
        SecretSource::EnvVar("TEST".into())
    }

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new(TOKEN, source()).unwrap();
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.dangerously_expose(), TOKEN);
    }

    #[test]
    fn files_lose_their_trailing_newline_and_empty_ones_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, format!("{TOKEN}\r\n")).unwrap();
        assert_eq!(
            Secret::from_file(&path).unwrap().dangerously_expose(),
            TOKEN
        );

        std::fs::write(&path, "\n").unwrap();
        let err = Secret::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("is empty") && err.contains("token"), "{err}");

        let missing = dir.path().join("missing");
        let err = Secret::from_file(&missing).unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn errors_name_the_source_never_the_value() {
        let err = Secret::new(format!("{TOKEN}\nsecond line"), source()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("`TEST`"), "{text}");
        assert!(!text.contains(TOKEN) && !text.contains("second"), "{text}");
        assert!(matches!(
            Secret::new("   ", source()),
            Err(SecretError::Empty(_))
        ));
    }

    #[test]
    fn an_unset_variable_is_named() {
        let err = Secret::from_env("SEGBRIDGE_TEST_VARIABLE_THAT_IS_NEVER_SET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable `SEGBRIDGE_TEST_VARIABLE_THAT_IS_NEVER_SET` is not set"
        );
    }
}
