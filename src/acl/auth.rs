//! HTTP Basic authentication against `userlist` sections: `http_auth(<userlist>)` and
//! `http_auth_group(<userlist>) <group>...`.
//!
//! Compare with 1.4 `get_http_auth` (`src/proto_http.c`), `base64dec` (`src/base64.c`),
//! `check_user` and `acl_match_auth` (`src/auth.c`). Behaviours kept from 1.4:
//! - only the first comma-separated element of the first `Authorization` header counts;
//! - the scheme is everything before the first space and is accepted when it is a
//!   case-insensitive prefix of `Basic` (1.4 compares with `strncasecmp` over the scheme's
//!   length); the credentials start right after that single space;
//! - the decoded credentials are a C string: they end at the first NUL byte, and the user is
//!   what precedes the first `:`;
//! - the first user with that exact name decides; `password` hashes are checked with
//!   crypt(3) semantics, `insecure-password` by plain comparison (done in constant time
//!   here), a user without a password never authenticates.
//!
//! The base64 decoder is hand-written rather than taken from the `base64` crate because it
//! must accept and reject exactly what 1.4 does (padding allowed at the end of any quartet,
//! `X===` accepted as nothing) and decode into a caller-provided buffer without allocating.
//! Nothing here logs or keeps credentials; [`Credentials`]'s `Debug` hides the password.

use parser::ir::{Password, UlUser, Userlist};
use std::fmt;

/// Decoded Basic credentials, borrowed from a scratch buffer.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    pub user: &'a [u8],
    pub pass: &'a [u8],
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(self.user))
            .field("pass", &"<hidden>")
            .finish()
    }
}

/// The base64 part of an `Authorization` value whose scheme is Basic, or `None` for any
/// other scheme or a value without a space after a non-empty scheme.
pub fn basic_payload(value: &[u8]) -> Option<&[u8]> {
    let sp = value.iter().position(|&b| b == b' ')?;
    if sp == 0 {
        return None;
    }
    let scheme = value.get(..sp)?;
    let basic = b"Basic".get(..scheme.len())?;
    if !scheme.eq_ignore_ascii_case(basic) {
        return None;
    }
    value.get(sp + 1..)
}

/// The largest number of bytes `encoded` can decode to: the scratch size
/// [`decode_credentials`] needs.
pub fn decoded_len_bound(encoded: &[u8]) -> usize {
    encoded.len() / 4 * 3
}

/// Decodes `encoded` into `scratch` and splits it into user and password. `None` when the
/// base64 is invalid, `scratch` is too small, or there is no `:` before the first NUL.
pub fn decode_credentials<'s>(encoded: &[u8], scratch: &'s mut [u8]) -> Option<Credentials<'s>> {
    let len = base64_decode(encoded, scratch)?;
    let decoded: &'s [u8] = scratch.get(..len)?;
    let cstr_end = decoded
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(decoded.len());
    let cstr = decoded.get(..cstr_end)?;
    let colon = cstr.iter().position(|&b| b == b':')?;
    Some(Credentials {
        user: cstr.get(..colon)?,
        pass: cstr.get(colon + 1..)?,
    })
}

/// Value of a base64 alphabet byte, `None` for `=` and invalid bytes.
fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Standard-alphabet base64 decoding as 1.4's `base64dec`: the input length must be a
/// multiple of 4; within each quartet, `=` may only be followed by `=` and a quartet may not
/// start with `=`; a quartet with `n` pad bytes yields `3 - n` bytes (so `X===` yields
/// nothing), and decoding continues with the next quartet. Returns the decoded length, or
/// `None` for invalid input or an `out` shorter than [`decoded_len_bound`].
pub fn base64_decode(input: &[u8], out: &mut [u8]) -> Option<usize> {
    if input.len() % 4 != 0 || out.len() < decoded_len_bound(input) {
        return None;
    }
    let mut written = 0;
    for quartet in input.chunks_exact(4) {
        let mut vals = [0u8; 4];
        let mut pad = 0;
        for (i, &b) in quartet.iter().enumerate() {
            if b == b'=' {
                pad += 1;
            } else {
                if pad > 0 {
                    return None; // data after padding
                }
                *vals.get_mut(i)? = b64_value(b)?;
            }
        }
        if quartet.first() == Some(&b'=') {
            return None; // a quartet cannot start with padding
        }
        let [a, b, c, d] = vals;
        let bytes = [(a << 2) | (b >> 4), (b << 4) | (c >> 2), (c << 6) | d];
        for &byte in bytes.iter().take(3 - pad.min(3)) {
            *out.get_mut(written)? = byte;
            written += 1;
        }
    }
    Some(written)
}

/// Whether `user` belongs to `group`, declared either by `group <g> users ...` or by
/// `user <u> groups ...`.
pub fn user_in_group(ul: &Userlist, user: &UlUser, group: &str) -> bool {
    user.groups.iter().any(|g| g == group)
        || ul
            .groups
            .iter()
            .any(|g| g.name == group && g.users.contains(&user.name))
}

/// 1.4 `check_user`: finds the first user named `user`, requires membership of at least one
/// of `groups` when given, then verifies the password.
pub fn check_user(ul: &Userlist, groups: Option<&[String]>, user: &[u8], pass: &[u8]) -> bool {
    let Some(u) = ul.users.iter().find(|u| u.name.as_bytes() == user) else {
        return false;
    };
    if let Some(groups) = groups {
        // A user outside the groups is refused before the (costly) password check.
        if !groups.iter().any(|g| user_in_group(ul, u, g)) {
            return false;
        }
    }
    verify_password(&u.password, pass)
}

fn verify_password(stored: &Password, pass: &[u8]) -> bool {
    match stored {
        Password::Insecure(plain) => constant_time_eq(plain.as_bytes(), pass),
        Password::Crypt(hash) => pwhash::unix::verify(pass, hash),
        Password::None => false,
    }
}

/// Compares without an early exit on the first differing byte (only the length leaks).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use parser::ir::{UlGroup, UlUser};
    use parser::span::{Span, Spanned};

    fn decode(s: &str) -> Option<Vec<u8>> {
        let mut out = vec![0u8; decoded_len_bound(s.as_bytes())];
        base64_decode(s.as_bytes(), &mut out).map(|n| out[..n].to_vec())
    }

    #[test]
    fn base64_like_1_4() {
        assert_eq!(
            decode("dXNlcjpwYXNz").as_deref(),
            Some(b"user:pass".as_slice())
        );
        assert_eq!(decode("YQ==").as_deref(), Some(b"a".as_slice()));
        assert_eq!(decode("YWI=").as_deref(), Some(b"ab".as_slice()));
        assert_eq!(decode("").as_deref(), Some(b"".as_slice()));
        // Padding may close any quartet; decoding continues afterwards.
        assert_eq!(decode("YQ==YQ==").as_deref(), Some(b"aa".as_slice()));
        assert_eq!(decode("Y===").as_deref(), Some(b"".as_slice()));
        assert_eq!(decode("===="), None);
        assert_eq!(decode("=AAA"), None);
        assert_eq!(decode("YQ=a"), None);
        assert_eq!(decode("YQ"), None);
        assert_eq!(decode("YQ=="[..3].as_ref()), None);
        assert_eq!(decode("dXNl cjpw"), None);
        assert_eq!(decode("dXNl-jpw"), None);
        let mut small = [0u8; 2];
        assert_eq!(base64_decode(b"YWJj", &mut small), None);
    }

    #[test]
    fn basic_scheme_and_credentials() {
        assert_eq!(
            basic_payload(b"Basic dXNlcjpwYXNz"),
            Some(b"dXNlcjpwYXNz".as_slice())
        );
        assert_eq!(basic_payload(b"basic abc"), Some(b"abc".as_slice()));
        // 1.4 accepts any case-insensitive prefix of "Basic" as the scheme.
        assert_eq!(basic_payload(b"BAS abc"), Some(b"abc".as_slice()));
        assert_eq!(basic_payload(b"Basics abc"), None);
        assert_eq!(basic_payload(b"Digest abc"), None);
        assert_eq!(basic_payload(b"Basic"), None);
        assert_eq!(basic_payload(b" Basic abc"), None);
        // Only one space is skipped.
        assert_eq!(basic_payload(b"Basic  abc"), Some(b" abc".as_slice()));

        let mut buf = [0u8; 64];
        let c = decode_credentials(b"dXNlcjpwYTpzcw==", &mut buf).expect("valid credentials");
        assert_eq!((c.user, c.pass), (b"user".as_slice(), b"pa:ss".as_slice()));
        let mut buf = [0u8; 64];
        // "user" without a colon
        assert!(decode_credentials(b"dXNlcg==", &mut buf).is_none());
        // "us\0er:pw": the NUL ends the string before the colon
        let mut buf = [0u8; 64];
        assert!(decode_credentials(b"dXMAZXI6cHc=", &mut buf).is_none());
        // "u:p\0w": the password stops at the NUL
        let mut buf = [0u8; 64];
        let c = decode_credentials(b"dTpwAHc=", &mut buf).expect("valid credentials");
        assert_eq!(c.pass, b"p");
        // Debug output never shows the password.
        let mut buf = [0u8; 64];
        let c = decode_credentials(b"dTpzM2NyZXRwdw==", &mut buf).expect("valid credentials");
        assert_eq!(c.pass, b"s3cretpw");
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("s3cretpw") && dbg.contains("<hidden>"),
            "{dbg}"
        );
    }

    fn userlist() -> Userlist {
        let sp = Span::builtin();
        let hash = pwhash::sha512_crypt::hash_with("$6$rounds=1000$saltsalt$", "s3cret")
            .expect("sha512-crypt parameters are valid");
        Userlist {
            span: sp.clone(),
            name: "L1".into(),
            groups: vec![Spanned::new(
                sp.clone(),
                UlGroup {
                    name: "admin".into(),
                    users: vec!["bob".into()],
                },
            )],
            users: vec![
                Spanned::new(
                    sp.clone(),
                    UlUser {
                        name: "alice".into(),
                        password: Password::Insecure("plain".into()),
                        groups: vec!["ops".into()],
                    },
                ),
                Spanned::new(
                    sp.clone(),
                    UlUser {
                        name: "bob".into(),
                        password: Password::Crypt(hash),
                        groups: vec![],
                    },
                ),
                Spanned::new(
                    sp,
                    UlUser {
                        name: "nopw".into(),
                        password: Password::None,
                        groups: vec![],
                    },
                ),
            ],
        }
    }

    #[test]
    fn passwords_and_groups() {
        let ul = userlist();
        assert!(check_user(&ul, None, b"alice", b"plain"));
        assert!(!check_user(&ul, None, b"alice", b"plai"));
        assert!(!check_user(&ul, None, b"alice", b"Plain"));
        assert!(check_user(&ul, None, b"bob", b"s3cret"));
        assert!(!check_user(&ul, None, b"bob", b"wrong"));
        assert!(!check_user(&ul, None, b"nopw", b""));
        assert!(!check_user(&ul, None, b"carol", b"plain"));
        let admin = ["admin".to_string()];
        let ops = ["ops".to_string()];
        let both = ["ops".to_string(), "admin".to_string()];
        assert!(check_user(&ul, Some(&admin), b"bob", b"s3cret"));
        assert!(!check_user(&ul, Some(&admin), b"alice", b"plain"));
        assert!(check_user(&ul, Some(&ops), b"alice", b"plain"));
        assert!(check_user(&ul, Some(&both), b"alice", b"plain"));
        assert!(!check_user(&ul, Some(&both), b"alice", b"nope"));
    }
}
