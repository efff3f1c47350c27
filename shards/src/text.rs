//! Text helpers the engines share.

/// `text` cut to at most `max_bytes` bytes at a character boundary (the longest prefix that fits).
pub fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    let mut end = text.len().min(max_bytes);
    // A UTF-8 character is at most 4 bytes, so this steps back at most 3 times.
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limit the tests cut at.
    const LIMIT: usize = 1024;

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        assert_eq!(truncate_at_char_boundary("boom", LIMIT), "boom");
        let exact = "x".repeat(LIMIT);
        assert_eq!(truncate_at_char_boundary(&exact, LIMIT), exact);
        let long = format!("{}é", "x".repeat(LIMIT - 1));
        assert_eq!(truncate_at_char_boundary(&long, LIMIT).len(), LIMIT - 1, "é would straddle the limit");
        assert!(truncate_at_char_boundary(&"€".repeat(1_000), LIMIT).len() <= LIMIT);
    }
}
