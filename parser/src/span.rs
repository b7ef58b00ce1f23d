//! Source positions. Every IR item carries the `file:line` it came from so runtime alerts and
//! `-c` diagnostics can point at the line, as HAProxy's `parsing [file:line]` does.

use std::fmt;
use std::sync::Arc;

/// A position in a configuration file. Lines count from 1; `col` is the byte column of the
/// first word of the item (1-based), 0 when unknown.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub fn new(file: Arc<str>, line: u32) -> Span {
        Span { file, line, col: 0 }
    }

    /// A span for items that do not come from a file (built-in defaults, command line).
    pub fn builtin() -> Span {
        Span {
            file: Arc::from("<builtin>"),
            line: 0,
            col: 0,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A value together with the place it was configured.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub span: Span,
    pub node: T,
}

impl<T> Spanned<T> {
    pub fn new(span: Span, node: T) -> Self {
        Spanned { span, node }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.node
    }
}

impl<T> std::ops::DerefMut for Spanned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.node
    }
}
