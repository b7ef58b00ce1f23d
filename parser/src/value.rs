//! Grammars for single configuration tokens: times, sizes, integers, addresses, networks.
//!
//! Each function takes one word (bytes, after the lexer's unescaping) and reproduces the
//! behaviour of the 1.4 helper it replaces, quirks included, because configurations in the
//! wild rely on them: `parse_time_err` (units `us ms s m h d`, trailing text after a unit
//! ignored, 32-bit wrapping arithmetic, results rounded up), `parse_size_err`, C `atol`,
//! `str2sa`, `str2sa_range`, `str2net` and `str2listener` of 1.4 `src/standard.c` and
//! `src/cfgparse.c`. Host names are resolved through a [`Resolver`], which callers can switch
//! off (fuzzing must touch neither DNS nor NSS).

use nom::bytes::complete::{tag, take_while};
use nom::character::complete::digit1;
use nom::combinator::opt;
use nom::IResult;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};

/// The unit a bare number is read in (1.4 `TIME_UNIT_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Ms,
    S,
}

/// `parse_time_err`: `<digits>[us|ms|s|m|h|d][anything]` converted to `unit`, rounded up.
///
/// Accepts an empty word (value 0) and any text after a recognised unit (`5sec` = 5 s);
/// `m` followed by `s` is milliseconds, otherwise minutes; a lone `u` counts as seconds.
/// Returns the offending byte when a character other than a unit follows the digits.
/// Arithmetic wraps at 32 bits exactly as the C code does.
pub fn parse_time(text: &[u8], unit: TimeUnit) -> Result<u32, u8> {
    let (rest, digits) = take_digits(text);
    let mut value: u32 = 0;
    for d in digits {
        value = value.wrapping_mul(10).wrapping_add(u32::from(d - b'0'));
    }
    let (mut omult, mut odiv): (u32, u32) = match unit {
        TimeUnit::Ms => (1000, 1),
        TimeUnit::S => (1, 1),
    };
    let (mut imult, mut idiv): (u32, u32) = (1, 1);
    match time_unit(rest) {
        Ok((_, u)) => match u {
            b"" => return Ok(value),
            b"us" => idiv = 1_000_000,
            b"ms" => idiv = 1000,
            b"m" => imult = 60,
            b"h" => imult = 3600,
            b"d" => imult = 86400,
            // "s" and a lone "u": the unscaled unit (seconds)
            _ => {}
        },
        Err(_) => return Err(rest.first().copied().unwrap_or(b'?')),
    }
    if omult % idiv == 0 {
        omult /= idiv;
        idiv = 1;
    }
    if idiv % omult == 0 {
        idiv /= omult;
        omult = 1;
    }
    if imult % odiv == 0 {
        imult /= odiv;
        odiv = 1;
    }
    if odiv % imult == 0 {
        odiv /= imult;
        imult = 1;
    }
    let div = idiv.wrapping_mul(odiv);
    let num = value
        .wrapping_mul(imult.wrapping_mul(omult))
        .wrapping_add(div.wrapping_sub(1));
    Ok(num.checked_div(div).unwrap_or(0))
}

fn take_digits(text: &[u8]) -> (&[u8], &[u8]) {
    let r: IResult<&[u8], &[u8]> = take_while(|c: u8| c.is_ascii_digit())(text);
    r.unwrap_or((text, &text[..0]))
}

/// The unit part of a time value; only its first one or two bytes are examined.
fn time_unit(i: &[u8]) -> IResult<&[u8], &[u8]> {
    if i.is_empty() {
        return Ok((i, &i[..0]));
    }
    nom::branch::alt((
        tag("us"),
        tag("ms"),
        tag("u"),
        tag("m"),
        tag("s"),
        tag("h"),
        tag("d"),
    ))(i)
}

/// `parse_size_err`: `<digits>[k|m|g]` (binary multiples, case-insensitive).
/// Returns the offending byte on garbage or 32-bit overflow.
pub fn parse_size(text: &[u8]) -> Result<u32, u8> {
    let (rest, digits) = take_digits(text);
    let mut value: u32 = 0;
    for (i, d) in digits.iter().enumerate() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or(digits[i])?;
    }
    let shift = match rest.first() {
        None => return Ok(value),
        Some(b'k' | b'K') => 10,
        Some(b'm' | b'M') => 20,
        Some(b'g' | b'G') => 30,
        Some(&c) => return Err(c),
    };
    if rest.len() > 1 {
        return Err(rest[1]);
    }
    if value > (u32::MAX >> shift) {
        return Err(rest[0]);
    }
    Ok(value << shift)
}

/// C `atol`: optional leading blanks and sign, then digits; anything else stops the number.
/// Saturates like glibc's `strtol` instead of overflowing.
pub fn atol(text: &[u8]) -> i64 {
    let t = skip_c_spaces(text);
    let (neg, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (_, digits) = take_digits(t);
    let mut v: i64 = 0;
    for d in digits {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
    }
    if neg {
        -v
    } else {
        v
    }
}

/// `atol` narrowed to a C `int` the way 1.4 stores most integers (wrapping truncation).
pub fn atoi(text: &[u8]) -> i32 {
    atol(text) as i32
}

/// `str2uic`: leading digits only (no sign, no blanks), wrapping at 32 bits.
pub fn str2uic(text: &[u8]) -> u32 {
    let (_, digits) = take_digits(text);
    digits.iter().fold(0u32, |v, d| {
        v.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
    })
}

fn skip_c_spaces(t: &[u8]) -> &[u8] {
    let n = t.iter().take_while(|c| is_c_space(**c)).count();
    &t[n..]
}

/// C-locale `isspace()`.
pub fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// `strtoul(text, &end, base)` for bases 0 (auto: `0x` hex, `0` octal, else decimal) and 8.
/// Returns the value and the unparsed rest.
pub fn strtoul(text: &[u8], base: u32) -> (u64, &[u8]) {
    let t = skip_c_spaces(text);
    let (neg, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, body) = if base == 0 {
        if (t.starts_with(b"0x") || t.starts_with(b"0X"))
            && t.get(2).is_some_and(|c| c.is_ascii_hexdigit())
        {
            (16, &t[2..])
        } else if t.starts_with(b"0") {
            (8, t)
        } else {
            (10, t)
        }
    } else {
        (base, t)
    };
    let n = body
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    if n == 0 {
        // nothing converted: the whole input is the rest, as strtoul reports
        return (0, text);
    }
    let v = body[..n].iter().fold(0u64, |v, c| {
        let d = (*c as char).to_digit(radix).unwrap_or(0);
        v.saturating_mul(u64::from(radix))
            .saturating_add(u64::from(d))
    });
    let v = if neg { v.wrapping_neg() } else { v };
    (v, &body[n..])
}

/// A strict dotted-quad IPv4 address (`inet_pton(AF_INET)`).
pub fn ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// An IPv6 address (`inet_pton(AF_INET6)`).
pub fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Resolves host names to IPv4 addresses (`gethostbyname`), or refuses every name when
/// resolution is disabled. Results are cached for the duration of one load.
#[derive(Debug, Default)]
pub struct Resolver {
    enabled: bool,
    cache: RefCell<HashMap<Vec<u8>, Option<Ipv4Addr>>>,
}

impl Resolver {
    pub fn new(enabled: bool) -> Self {
        Resolver {
            enabled,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// A literal IPv4 address, or a name resolved to its first IPv4 address.
    pub fn v4(&self, host: &[u8]) -> Option<Ipv4Addr> {
        if let Some(ip) = ipv4(host) {
            return Some(ip);
        }
        if !self.enabled || host.is_empty() {
            return None;
        }
        if let Some(hit) = self.cache.borrow().get(host) {
            return *hit;
        }
        let res = std::str::from_utf8(host).ok().and_then(|h| {
            (h, 0u16)
                .to_socket_addrs()
                .ok()?
                .find_map(|sa| match sa.ip() {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                })
        });
        self.cache.borrow_mut().insert(host.to_vec(), res);
        res
    }
}

/// `str2sa`: `[addr][:port]` where addr is empty or `*` (any), a dotted quad or a host name.
/// The port is read with `atol` after the last colon (0 when absent or not numeric).
/// Returns `None` when the name does not resolve.
pub fn str2sa(text: &[u8], res: &Resolver) -> Option<(Ipv4Addr, u16)> {
    let (host, port) = match text.iter().rposition(|c| *c == b':') {
        Some(p) => (&text[..p], atol(&text[p + 1..]) as u16),
        None => (text, 0),
    };
    let ip = if host.is_empty() || host.first() == Some(&b'*') {
        Ipv4Addr::UNSPECIFIED
    } else {
        res.v4(host)?
    };
    Some((ip, port))
}

/// `str2sa_range`: `addr[:low[-high]]`; without a dash both ports are `low`.
pub fn str2sa_range(text: &[u8], res: &Resolver) -> Option<(Ipv4Addr, i64, i64)> {
    let (host, lo, hi) = match text.iter().rposition(|c| *c == b':') {
        Some(p) => {
            let ports = &text[p + 1..];
            match ports.iter().position(|c| *c == b'-') {
                Some(d) => (&text[..p], atol(&ports[..d]), atol(&ports[d + 1..])),
                None => (&text[..p], atol(ports), atol(ports)),
            }
        }
        None => (text, 0, 0),
    };
    let ip = if host.is_empty() || host.first() == Some(&b'*') {
        Ipv4Addr::UNSPECIFIED
    } else {
        res.v4(host)?
    };
    Some((ip, lo, hi))
}

/// `str2net`: `addr[/mask]`, mask as a dotted quad or a length 0..=32; addr may be a name.
/// Returns the address and the mask as a 32-bit value.
pub fn str2net(text: &[u8], res: &Resolver) -> Option<(Ipv4Addr, u32)> {
    let (addr, mask) = match text.iter().rposition(|c| *c == b'/') {
        Some(p) => {
            let m = &text[p + 1..];
            let mask = if m.contains(&b'.') {
                u32::from(ipv4(m)?)
            } else {
                let (_, d) = opt_digits(m);
                if m.is_empty() || d.len() != m.len() {
                    return None;
                }
                let len = atol(m);
                if !(0..=32).contains(&len) {
                    return None;
                }
                prefix_to_mask(len as u8)
            };
            (&text[..p], mask)
        }
        None => (text, u32::MAX),
    };
    let ip = res.v4(addr)?;
    Some((ip, mask))
}

fn opt_digits(i: &[u8]) -> (&[u8], &[u8]) {
    let r: IResult<&[u8], Option<&[u8]>> = opt(digit1)(i);
    match r {
        Ok((rest, d)) => (rest, d.unwrap_or(&i[..0])),
        Err(_) => (i, &i[..0]),
    }
}

/// A prefix length as a 32-bit mask.
pub fn prefix_to_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len.min(32)))
    }
}

/// The prefix length of a contiguous mask, `None` for masks like `255.0.255.0`.
pub fn mask_to_prefix(mask: u32) -> Option<u8> {
    let ones = mask.leading_ones();
    if prefix_to_mask(ones as u8) == mask {
        Some(ones as u8)
    } else {
        None
    }
}

/// One address of a `bind` line or proxy header: `[addr]:port[-end]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenAddr {
    /// `None` = any IPv4 address.
    pub ip: Option<IpAddr>,
    pub port_lo: u16,
    pub port_hi: u16,
}

/// `str2listener`: a comma-separated list of `[addr]:port[-end]`. On failure returns the
/// bare alert 1.4 prints (`Missing port number: ...`, `Invalid port ...`, ...).
/// A range whose end is below its start yields no address, as in 1.4.
pub fn str2listener(text: &[u8], res: &Resolver) -> Result<Vec<ListenAddr>, String> {
    let mut out = Vec::new();
    let items: Vec<&[u8]> = text.split(|c| *c == b',').collect();
    for (n, item) in items.iter().enumerate() {
        if item.is_empty() && n + 1 == items.len() {
            // a trailing comma ends the list (`while (next && *next)`)
            break;
        }
        let p = match item.iter().rposition(|c| *c == b':') {
            Some(p) => p,
            None => return Err(format!("Missing port number: '{}'", lossy(item))),
        };
        let (host, range) = (&item[..p], &item[p + 1..]);
        let ip = if host.contains(&b':') {
            match ipv6(host) {
                Some(v6) => Some(IpAddr::V6(v6)),
                None => return Err(format!("Invalid server address: '{}'", lossy(host))),
            }
        } else if host.is_empty() || host.first() == Some(&b'*') {
            None
        } else {
            match res.v4(host) {
                Some(v4) if v4.is_unspecified() => None,
                Some(v4) => Some(IpAddr::V4(v4)),
                None => return Err(format!("Invalid server name: '{}'", lossy(host))),
            }
        };
        let (lo, hi) = match range.iter().position(|c| *c == b'-') {
            Some(d) => (atol(&range[..d]), atol(&range[d + 1..])),
            None => (atol(range), atol(range)),
        };
        let shown = lossy(host);
        if !(1..=65535).contains(&lo) {
            return Err(format!(
                "Invalid port '{}' specified for address '{}'.",
                lo as i32, shown
            ));
        }
        if !(1..=65535).contains(&hi) {
            return Err(format!(
                "Invalid port '{}' specified for address '{}'.",
                hi as i32, shown
            ));
        }
        if lo <= hi {
            out.push(ListenAddr {
                ip,
                port_lo: lo as u16,
                port_hi: hi as u16,
            });
        }
    }
    Ok(out)
}

/// Bytes shown in a message (invalid UTF-8 replaced).
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// 1.4 `invalid_char`: the first byte outside `[A-Za-z0-9_:.-]`, or the first byte of an
/// empty name (reported as NUL).
pub fn invalid_char(name: &[u8]) -> Option<u8> {
    if name.is_empty() {
        return Some(0);
    }
    name.iter()
        .copied()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'_' | b'-')))
}

/// 1.4 `invalid_domainchar`: like [`invalid_char`] without `:`.
pub fn invalid_domainchar(name: &[u8]) -> Option<u8> {
    if name.is_empty() {
        return Some(0);
    }
    name.iter()
        .copied()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')))
}

/// Renders a byte the way `%c` prints it in a message.
pub fn show_char(c: u8) -> String {
    if c == 0 {
        String::new()
    } else {
        lossy(&[c])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<u32, u8> {
        parse_time(s.as_bytes(), TimeUnit::Ms)
    }

    #[test]
    fn times_in_ms() {
        assert_eq!(t("5000"), Ok(5000));
        assert_eq!(t("5s"), Ok(5000));
        assert_eq!(t("1m"), Ok(60000));
        assert_eq!(t("5h"), Ok(18_000_000));
        assert_eq!(t("1d"), Ok(86_400_000));
        assert_eq!(t("10ms"), Ok(10));
        assert_eq!(t("1500us"), Ok(2), "rounded up");
        assert_eq!(t("1us"), Ok(1));
        assert_eq!(t(""), Ok(0));
    }

    #[test]
    fn time_quirks() {
        // only the first unit letters count; the rest is ignored
        assert_eq!(t("5sec"), Ok(5000));
        assert_eq!(t("2mn"), Ok(120_000));
        assert_eq!(t("3msx"), Ok(3));
        // a lone 'u' is the unscaled unit (seconds)
        assert_eq!(t("2u"), Ok(2000));
        // unknown letter right after the digits
        assert_eq!(t("5x"), Err(b'x'));
        assert_eq!(t("abc"), Err(b'a'));
        assert_eq!(t("-5"), Err(b'-'));
        // 32-bit wrap as in C: 50 days in ms overflows
        assert_eq!(t("50d"), Ok(50u32.wrapping_mul(86_400_000)));
    }

    #[test]
    fn times_in_seconds() {
        let s = |x: &str| parse_time(x.as_bytes(), TimeUnit::S);
        assert_eq!(s("5"), Ok(5));
        assert_eq!(s("5s"), Ok(5));
        assert_eq!(s("1m"), Ok(60));
        assert_eq!(s("1500ms"), Ok(2), "rounded up");
        assert_eq!(s("2h"), Ok(7200));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size(b"100"), Ok(100));
        assert_eq!(parse_size(b"200k"), Ok(200 * 1024));
        assert_eq!(parse_size(b"1M"), Ok(1 << 20));
        assert_eq!(parse_size(b"2g"), Ok(2 << 30));
        assert_eq!(parse_size(b"30x"), Err(b'x'));
        assert_eq!(parse_size(b"5kb"), Err(b'b'));
        assert_eq!(parse_size(b"8g"), Err(b'g'), "overflow");
    }

    #[test]
    fn c_integers() {
        assert_eq!(atol(b"42"), 42);
        assert_eq!(atol(b"  -7x"), -7);
        assert_eq!(atol(b"+3"), 3);
        assert_eq!(atol(b"abc"), 0);
        assert_eq!(atol(b"1500ms"), 1500);
        assert_eq!(atoi(b"4294967297"), 1, "wraps to int");
        assert_eq!(str2uic(b"12a"), 12);
        assert_eq!(str2uic(b"-1"), 0);
        assert_eq!(strtoul(b"0x10", 0), (16, &b""[..]));
        assert_eq!(strtoul(b"010", 0), (8, &b""[..]));
        assert_eq!(strtoul(b"12a", 0), (12, &b"a"[..]));
        assert_eq!(strtoul(b"660", 8).0, 0o660);
        assert_eq!(strtoul(b"x", 0), (0, &b"x"[..]));
    }

    #[test]
    fn addresses() {
        let r = Resolver::new(false);
        assert_eq!(
            str2sa(b"127.0.0.1:514", &r),
            Some((Ipv4Addr::new(127, 0, 0, 1), 514))
        );
        assert_eq!(
            str2sa(b"10.0.0.1", &r),
            Some((Ipv4Addr::new(10, 0, 0, 1), 0))
        );
        assert_eq!(str2sa(b"*:80", &r), Some((Ipv4Addr::UNSPECIFIED, 80)));
        assert_eq!(str2sa(b":80", &r), Some((Ipv4Addr::UNSPECIFIED, 80)));
        assert_eq!(str2sa(b"somehost:80", &r), None, "no DNS when disabled");
        assert_eq!(
            str2sa_range(b"10.0.0.1:1024-2048", &r),
            Some((Ipv4Addr::new(10, 0, 0, 1), 1024, 2048))
        );
        assert_eq!(
            str2sa_range(b"10.0.0.1:80", &r),
            Some((Ipv4Addr::new(10, 0, 0, 1), 80, 80))
        );
    }

    #[test]
    fn networks() {
        let r = Resolver::new(false);
        assert_eq!(
            str2net(b"10.0.0.0/8", &r),
            Some((Ipv4Addr::new(10, 0, 0, 0), 0xff00_0000))
        );
        assert_eq!(
            str2net(b"10.0.0.0/255.255.0.0", &r),
            Some((Ipv4Addr::new(10, 0, 0, 0), 0xffff_0000))
        );
        assert_eq!(
            str2net(b"1.2.3.4", &r),
            Some((Ipv4Addr::new(1, 2, 3, 4), u32::MAX))
        );
        assert_eq!(str2net(b"1.2.3.4/33", &r), None);
        assert_eq!(str2net(b"1.2.3.4/", &r), None);
        assert_eq!(str2net(b"1.2.3.4/8x", &r), None);
        assert_eq!(mask_to_prefix(0xffff_ff00), Some(24));
        assert_eq!(mask_to_prefix(0), Some(0));
        assert_eq!(mask_to_prefix(0xff00_ff00), None);
    }

    #[test]
    fn listeners() {
        let r = Resolver::new(false);
        let v = str2listener(b"*:80,127.0.0.1:8080-8082,:::443", &r).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].ip, None);
        assert_eq!((v[0].port_lo, v[0].port_hi), (80, 80));
        assert_eq!(v[1].ip, Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))));
        assert_eq!((v[1].port_lo, v[1].port_hi), (8080, 8082));
        assert_eq!(v[2].ip, Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
        assert_eq!(str2listener(b"0.0.0.0:80", &r).unwrap()[0].ip, None);
        assert_eq!(
            str2listener(b"80", &r),
            Err("Missing port number: '80'".into())
        );
        assert_eq!(
            str2listener(b"0.0.0.0:$PORT", &r),
            Err("Invalid port '0' specified for address '0.0.0.0'.".into())
        );
        assert_eq!(
            str2listener(b"name:80", &r),
            Err("Invalid server name: 'name'".into())
        );
        assert_eq!(
            str2listener(b"1::x:80", &r),
            Err("Invalid server address: '1::x'".into())
        );
        assert!(str2listener(b":90-80", &r).unwrap().is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(invalid_char(b"be_1.a:b-c"), None);
        assert_eq!(invalid_char(b"a b"), Some(b' '));
        assert_eq!(invalid_char(b""), Some(0));
        assert_eq!(invalid_domainchar(b".example.com"), None);
        assert_eq!(invalid_domainchar(b"a:b"), Some(b':'));
    }
}
