//! Allocation-free number writers for the log lines (`%d`, `%02d`, `%03d`, `%lld` of 1.4's
//! `snprintf` calls). Hand-written rather than `write!` because every traffic log line calls
//! them a dozen times and the formatting machinery of `core::fmt` costs more than the digits.

/// Appends `v` in decimal (`%u`).
pub(crate) fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `v` in decimal with a leading `-` when negative (`%d`, `%ld`, `%lld`).
pub(crate) fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

/// Appends `v` zero-padded to at least `width` digits (`%02d`, `%03d`, `%04d`).
pub(crate) fn push_padded(out: &mut Vec<u8>, v: u64, width: usize) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&tmp[i..]);
}

/// The part of `s` before its first NUL byte: 1.4 keeps captures, cookies and the request
/// line as C strings, so a NUL that came from the network ends the logged value.
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, u64::MAX);
        v.push(b' ');
        push_i64(&mut v, -1);
        v.push(b' ');
        push_i64(&mut v, i64::MIN);
        v.push(b' ');
        push_padded(&mut v, 6, 2);
        v.push(b' ');
        push_padded(&mut v, 55, 3);
        v.push(b' ');
        push_padded(&mut v, 2009, 4);
        v.push(b' ');
        push_padded(&mut v, 12345, 3);
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "0 18446744073709551615 -1 -9223372036854775808 06 055 2009 12345"
        );
    }

    #[test]
    fn cstr_stops_at_nul() {
        assert_eq!(cstr(b"abc"), b"abc");
        assert_eq!(cstr(b"ab\0c"), b"ab");
        assert_eq!(cstr(b""), b"");
    }
}
