//! Statistics: what HAProxy 1.4 reports about its proxies and servers, and the four ways it
//! is read.
//!
//! * [`row`]: one stats row (frontend, server, backend) as the 51 CSV fields, built from the
//!   live counters; every output below reads these rows so they always agree.
//! * [`csv`]: `;csv` on the stats URI and `show stat` (1.4 `print_csv_header`,
//!   `stats_dump_proxy` CSV branch).
//! * [`html`]: the HTML page (1.4 `stats_dump_http`, `stats_dump_proxy` HTML branch).
//! * [`http`]: the stats URI hook called by the HTTP stream: flags (`;up`, `;norefresh`,
//!   `;csv`, `;st=`), `stats admin` POST actions and the 303 (1.4 `stats_check_uri`,
//!   `http_process_req_stat_post`, `stats_http_redir`).
//! * [`info`]: `show info` and the process block of the HTML page.
//! * [`socket`]: the unix stats socket (1.4 `stats_io_handler`, `stats_sock_parse_request`).
//! * [`sess`]: `show sess [<id>]` (1.4 `stats_dump_sess_to_buffer`,
//!   `stats_dump_full_sess_to_buffer`).
//! * [`errors`]: `show errors [<iid>]` (1.4 `stats_dump_errors_to_buffer`).
//! * [`prometheus`]: the haproxide `stats prometheus-uri` extension.
//!
//! Keywords: proxy `stats enable|uri|realm|auth|refresh|scope|hide-version|show-node|
//! show-desc|show-legends|admin|http-request`, global `stats socket|timeout|maxconn`, and
//! `stats prometheus-uri` (extension). Compare with 1.4 `src/dumpstats.c`.

pub mod csv;
pub mod errors;
pub mod html;
pub mod http;
pub mod info;
pub mod prometheus;
pub mod row;
pub mod sess;
pub mod socket;

use crate::runtime::{Proxy, Runtime};

/// 1.4's `PRODUCT_NAME`.
pub const PRODUCT_NAME: &str = "HAProxy";
/// Links of the HTML page (1.4 `PRODUCT_URL`, `PRODUCT_URL_UPD`, `PRODUCT_URL_DOC`).
pub const PRODUCT_URL: &str = "http://haproxy.1wt.eu/";
pub const PRODUCT_URL_UPD: &str = "http://haproxy.1wt.eu/#down";
pub const PRODUCT_URL_DOC: &str = "http://haproxy.1wt.eu/#docs";
pub const PRODUCT_BRANCH: &str = "1.4";

/// The version the HTML heading shows: 1.4's number, then our own.
pub fn version() -> String {
    format!(
        "{}-haproxide-{}",
        crate::cli::COMPAT_VERSION,
        crate::cli::VERSION
    )
}

/// 1.4's process number (`relative_pid`): always 1, haproxide runs one process.
pub const RELATIVE_PID: u32 = 1;

/// 1.4's `human_time(t, 1)`: at most two units among `d`, `h`, `m`, `s`, `0s` for zero
/// (`3d2h`, `1h5m`, `59m59s`, `12s`).
pub fn human_time(t: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    const DAY: u64 = 86400;
    let mut s = String::new();
    let mut cnt = 2;
    if t >= DAY {
        s.push_str(&format!("{}d", t / DAY));
        cnt -= 1;
    }
    if cnt > 0 && t % DAY / HOUR != 0 {
        s.push_str(&format!("{}h", t % DAY / HOUR));
        cnt -= 1;
    }
    if cnt > 0 && t % HOUR / MIN != 0 {
        s.push_str(&format!("{}m", t % HOUR / MIN));
        cnt -= 1;
    }
    if (cnt > 0 && t % MIN != 0) || t == 0 {
        s.push_str(&format!("{}s", t % MIN));
    }
    s
}

/// 1.4's `ulltoh_r` (the `U2H` macros): a number for the HTML page where the digit that
/// starts each group of three (from the right) is wrapped in `<span class="rls">` so the
/// style sheet's letter spacing separates thousands: `1234567` →
/// `<span class="rls">1</span>23<span class="rls">4</span>567`.
pub fn u2h(n: u64) -> String {
    let digits = n.to_string();
    let len = digits.len();
    let mut out = String::with_capacity(len + 25 * (len / 3));
    for (i, c) in digits.chars().enumerate() {
        let from_right = len - i; // 1-based position from the right
        if from_right > 3 && from_right % 3 == 1 {
            out.push_str("<span class=\"rls\">");
            out.push(c);
            out.push_str("</span>");
        } else {
            out.push(c);
        }
    }
    out
}

/// 1.4's `LIM2A`: the number, or `alt` when it is 0 (no limit).
pub fn lim(n: u64, alt: &str) -> String {
    if n == 0 {
        alt.to_string()
    } else {
        n.to_string()
    }
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attributes (1.4 `chunk_htmlencode`
/// encodes every non-alphanumeric punctuation character as an entity; these are the ones
/// that matter for well-formed output).
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Whether a proxy appears in the stats at all: 1.4 skips stopped (`disabled`) proxies.
pub fn is_listed(px: &Proxy) -> bool {
    px.cfg.disabled.is_none()
}

/// The live backend by name, or by `#<id>` (1.4 `get_backend_server` / `findproxy`).
pub fn find_backend<'a>(rt: &'a Runtime, name: &str) -> Option<&'a Proxy> {
    if let Some(id) = name.strip_prefix('#') {
        let id = atoi(id);
        return rt
            .proxies
            .iter()
            .find(|p| p.cfg.kind.has_be() && i64::from(p.uuid) == id);
    }
    rt.proxies
        .iter()
        .find(|p| p.cfg.kind.has_be() && p.cfg.name == name)
}

/// A server of `px` by name or by `#<id>`.
pub fn find_server(px: &Proxy, name: &str) -> Option<usize> {
    if let Some(id) = name.strip_prefix('#') {
        let id = atoi(id);
        return px.servers.iter().position(|s| i64::from(s.puid) == id);
    }
    px.servers.iter().position(|s| s.cfg.name == name)
}

/// C's `atoi`: optional spaces and sign, then leading digits; 0 when there are none.
pub fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut v: i64 = 0;
    for b in rest.bytes() {
        if !b.is_ascii_digit() {
            break;
        }
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_time_keeps_two_units() {
        assert_eq!(human_time(0), "0s");
        assert_eq!(human_time(59), "59s");
        assert_eq!(human_time(60), "1m");
        assert_eq!(human_time(3599), "59m59s");
        assert_eq!(human_time(3600), "1h");
        assert_eq!(human_time(3601), "1h1s");
        assert_eq!(human_time(3661), "1h1m");
        assert_eq!(human_time(86400 * 3 + 7200 + 61), "3d2h");
        assert_eq!(human_time(86400 + 30), "1d30s");
    }

    #[test]
    fn u2h_groups_digits_as_1_4() {
        assert_eq!(u2h(0), "0");
        assert_eq!(u2h(999), "999");
        assert_eq!(u2h(1234), "<span class=\"rls\">1</span>234");
        assert_eq!(
            u2h(1234567),
            "<span class=\"rls\">1</span>23<span class=\"rls\">4</span>567"
        );
        assert_eq!(u2h(123456), "12<span class=\"rls\">3</span>456");
    }

    #[test]
    fn atoi_is_lenient_like_c() {
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("-1"), -1);
        assert_eq!(atoi("x"), 0);
        assert_eq!(atoi(" 7"), 7);
    }

    #[test]
    fn lim_and_escape() {
        assert_eq!(lim(0, "-"), "-");
        assert_eq!(lim(5, "-"), "5");
        assert_eq!(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }
}
