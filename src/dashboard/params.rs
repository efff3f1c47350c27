//! Query parameters of an API request: percent-decoded, with typed getters that answer `400` on bad input.

use super::ApiError;

/// Rows of a page when the request does not say.
pub const DEFAULT_PAGE_ROWS: usize = 50;
/// Most rows of any page.
pub const MAX_PAGE_ROWS: usize = 500;

/// The decoded `name=value` pairs of a query string.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses the part of a URL after `?`.
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Params { pairs })
    }

    /// The value of `name`, if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(candidate, _)| candidate == name).map(|(_, value)| value.as_str())
    }

    /// The value of `name`, which must be given and not empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.text(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(ApiError::bad_request(format!("the parameter `{name}` is required"))),
        }
    }

    /// The whole number `name`, if given.
    pub fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.text(name) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("the parameter `{name}` must be a whole number, not {text:?}"))
            }),
        }
    }

    /// `limit`: rows of the page, 1..=[`MAX_PAGE_ROWS`], [`DEFAULT_PAGE_ROWS`] when not given.
    pub fn limit(&self) -> Result<usize, ApiError> {
        match self.number("limit")? {
            None => Ok(DEFAULT_PAGE_ROWS),
            Some(limit) if (1..=MAX_PAGE_ROWS as u64).contains(&limit) => Ok(limit as usize),
            Some(limit) => Err(ApiError::bad_request(format!("`limit` must be 1..={MAX_PAGE_ROWS}, not {limit}"))),
        }
    }

    /// `offset`: rows to skip, 0 when not given.
    pub fn offset(&self) -> Result<usize, ApiError> {
        let offset = self.number("offset")?.unwrap_or_default();
        usize::try_from(offset).map_err(|_| ApiError::bad_request(format!("`offset` {offset} is too large")))
    }
}

/// Percent-decodes one component (`+` is a space) into UTF-8 text.
fn decode(component: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(component.len());
    let mut rest = component.as_bytes();
    while let Some((&byte, after)) = rest.split_first() {
        rest = after;
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = rest.get(..2).and_then(|hex| std::str::from_utf8(hex).ok());
                let decoded = hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()).ok_or_else(|| {
                    ApiError::bad_request(format!("bad percent-encoding in the query parameter {component:?}"))
                })?;
                bytes.push(decoded);
                rest = &rest[2..];
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request(format!("the query parameter {component:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_decoded_and_checked() {
        let params = Params::parse("key=a%2Fb+c&limit=20&empty=&flag&offset=x").expect("parses");
        assert_eq!(params.text("key"), Some("a/b c"));
        assert_eq!(params.text("flag"), Some(""));
        assert_eq!(params.limit().expect("valid"), 20);
        assert!(params.offset().is_err());
        assert!(params.required("empty").is_err());
        assert!(params.required("missing").is_err());
        assert_eq!(Params::parse("").expect("parses").limit().expect("default"), DEFAULT_PAGE_ROWS);
        assert!(Params::parse("limit=501").expect("parses").limit().is_err());
        assert!(Params::parse("limit=0").expect("parses").limit().is_err());
        assert!(Params::parse("key=%zz").is_err());
        assert!(Params::parse("key=%ff").is_err(), "not UTF-8");
        assert!(Params::parse("key=%4").is_err());
    }
}
