//! Configuration diagnostics, collected (never early-returned) and rendered in HAProxy 1.4's
//! own form: `[ALERT] 325/031500 (1234) : parsing [haproxy.cfg:12] : unknown keyword ...`.
//! Compare with 1.4 `src/log.c` (`Alert`, `Warning`) and the `ERR_*` bits of
//! `include/common/errors.h`: an alert makes the configuration invalid, a warning does not.

use crate::span::Span;
use std::fmt::Write as _;

/// Severity of a diagnostic. `Alert` is fatal for the configuration; `Warning` is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Notice,
    Warning,
    Alert,
}

impl Level {
    /// The bracketed tag HAProxy prints.
    pub fn tag(self) -> &'static str {
        match self {
            Level::Alert => "[ALERT]",
            Level::Warning => "[WARNING]",
            Level::Notice => "[NOTICE]",
        }
    }
}

/// Where a diagnostic points, which decides the text between the prefix and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    /// `parsing [file:line] : ` — a problem on a given line.
    Parsing(Span),
    /// `parsing [file:line]: ` — the same without the space before the colon, as a number
    /// of 1.4 messages print it.
    ParsingTight(Span),
    /// `config : ` — a post-parse problem (1.4 `check_config_validity`).
    Config,
    /// No context: the message stands alone (summary lines, startup errors).
    Bare,
}

/// One message for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: Level,
    pub context: Context,
    pub text: String,
}

impl Diagnostic {
    pub fn alert(span: &Span, text: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Alert,
            context: Context::Parsing(span.clone()),
            text: text.into(),
        }
    }

    pub fn warning(span: &Span, text: impl Into<String>) -> Self {
        Diagnostic {
            level: Level::Warning,
            context: Context::Parsing(span.clone()),
            text: text.into(),
        }
    }

    /// Renders the message without the `[LEVEL] date (pid) : ` prefix.
    pub fn body(&self) -> String {
        match &self.context {
            Context::Parsing(span) => {
                format!("parsing [{}:{}] : {}", span.file, span.line, self.text)
            }
            Context::ParsingTight(span) => {
                format!("parsing [{}:{}]: {}", span.file, span.line, self.text)
            }
            Context::Config => format!("config : {}", self.text),
            Context::Bare => self.text.clone(),
        }
    }

    /// Renders the whole line; `stamp` is HAProxy's `DDD/HHMMSS (pid)` part, supplied by the
    /// caller so golden tests can pin it.
    pub fn render(&self, stamp: &str) -> String {
        format!("{} {} : {}", self.level.tag(), stamp, self.body())
    }
}

/// Every diagnostic produced while loading, in order.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub diags: Vec<Diagnostic>,
}

impl Report {
    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    pub fn alert(&mut self, span: &Span, text: impl Into<String>) {
        self.push(Diagnostic::alert(span, text));
    }

    pub fn warning(&mut self, span: &Span, text: impl Into<String>) {
        self.push(Diagnostic::warning(span, text));
    }

    pub fn config_alert(&mut self, text: impl Into<String>) {
        self.push(Diagnostic {
            level: Level::Alert,
            context: Context::Config,
            text: text.into(),
        });
    }

    pub fn config_warning(&mut self, text: impl Into<String>) {
        self.push(Diagnostic {
            level: Level::Warning,
            context: Context::Config,
            text: text.into(),
        });
    }

    pub fn bare(&mut self, level: Level, text: impl Into<String>) {
        self.push(Diagnostic {
            level,
            context: Context::Bare,
            text: text.into(),
        });
    }

    /// True when at least one alert was reported: the configuration must not be used.
    pub fn has_alerts(&self) -> bool {
        self.diags.iter().any(|d| d.level == Level::Alert)
    }

    pub fn alerts(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diags.iter().filter(|d| d.level == Level::Alert)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diags.iter().filter(|d| d.level == Level::Warning)
    }

    /// All lines, each ending with `\n`, with the given stamp.
    pub fn render(&self, stamp: &str) -> String {
        let mut out = String::new();
        for d in &self.diags {
            let _ = writeln!(out, "{}", d.render(stamp));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn renders_haproxy_form() {
        let span = Span::new(Arc::from("haproxy.cfg"), 12);
        let d = Diagnostic::alert(&span, "unknown keyword 'foo' in 'backend' section");
        assert_eq!(
            d.render("325/031500 (1234)"),
            "[ALERT] 325/031500 (1234) : parsing [haproxy.cfg:12] : unknown keyword 'foo' in 'backend' section"
        );
        let mut r = Report::default();
        r.warning(&span, "w");
        assert!(!r.has_alerts());
        r.config_alert("proxy 'x' has no listen address.");
        assert!(r.has_alerts());
        assert_eq!(
            r.render("000/000000 (1)"),
            "[WARNING] 000/000000 (1) : parsing [haproxy.cfg:12] : w\n[ALERT] 000/000000 (1) : config : proxy 'x' has no listen address.\n"
        );
    }
}
