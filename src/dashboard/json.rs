//! A small JSON writer: objects are built field by field into one `String`, so answers never need a JSON library.

use std::fmt::Write as _;

/// A rendered JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Json(String);

impl Json {
    /// An object whose fields `build` writes, in order.
    pub fn object(build: impl FnOnce(&mut Object)) -> Json {
        let mut object = Object { out: String::from("{"), empty: true };
        build(&mut object);
        object.out.push('}');
        Json(object.out)
    }

    /// An array of `items`, each rendered by `render`.
    pub fn array<T>(items: impl IntoIterator<Item = T>, mut render: impl FnMut(T) -> Json) -> Json {
        let mut out = String::from("[");
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            out.push_str(&render(item).0);
        }
        out.push(']');
        Json(out)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The fields of an object being written.
pub struct Object {
    out: String,
    empty: bool,
}

impl Object {
    /// Adds the field `name` with `value`.
    pub fn field(&mut self, name: &str, value: impl ToJson) -> &mut Object {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_string(&mut self.out, name);
        self.out.push(':');
        value.write_json(&mut self.out);
        self
    }
}

/// A value that renders as JSON.
pub trait ToJson {
    fn write_json(&self, out: &mut String);
}

impl ToJson for Json {
    fn write_json(&self, out: &mut String) {
        out.push_str(&self.0);
    }
}

impl ToJson for str {
    fn write_json(&self, out: &mut String) {
        write_string(out, self);
    }
}

impl ToJson for String {
    fn write_json(&self, out: &mut String) {
        write_string(out, self);
    }
}

impl ToJson for bool {
    fn write_json(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

macro_rules! integers_to_json {
    ($($integer:ty),*) => {$(
        impl ToJson for $integer {
            fn write_json(&self, out: &mut String) {
                // Writing to a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
integers_to_json!(u8, u32, u64, usize, i64);

impl<T: ToJson + ?Sized> ToJson for &T {
    fn write_json(&self, out: &mut String) {
        (**self).write_json(out);
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn write_json(&self, out: &mut String) {
        match self {
            Some(value) => value.write_json(out),
            None => out.push_str("null"),
        }
    }
}

impl<T: ToJson> ToJson for [T] {
    fn write_json(&self, out: &mut String) {
        out.push('[');
        for (index, item) in self.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            item.write_json(out);
        }
        out.push(']');
    }
}

/// Writes `text` as a JSON string: quotes, backslashes and control characters escaped.
fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            control if control.is_control() => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_arrays_and_escapes_render_as_json() {
        let json = Json::object(|object| {
            object
                .field("name", "a\"b\\c\nd\u{1}")
                .field("count", 3u64)
                .field("missing", None::<u64>)
                .field("flags", [true, false].as_slice())
                .field(
                    "items",
                    Json::array(1..=2u64, |n| {
                        Json::object(|item| {
                            item.field("n", n);
                        })
                    }),
                );
        });
        assert_eq!(
            json.into_string(),
            r#"{"name":"a\"b\\c\nd\u0001","count":3,"missing":null,"flags":[true,false],"items":[{"n":1},{"n":2}]}"#
        );
        assert_eq!(Json::object(|_| {}).into_string(), "{}");
    }
}
