//! The hash functions of HAProxy 1.4's balancing: `sdbm` for strings, the client address fold
//! for `balance source`, and the integer avalanche used to place and look up points on the
//! `hash-type consistent` ring.
//!
//! Compare with 1.4 `src/backend.c` (`get_server_sh`, `get_server_uh`, `get_server_ph`,
//! `get_server_hh`, `get_server_rch`, which all inline the sdbm step) and `src/lb_chash.c`
//! (`chash_hash`). Results must be bit-identical to 1.4 on x86, or clients land on other
//! servers after a switch.

use std::net::IpAddr;

/// One sdbm step: `h = c + (h << 6) + (h << 16) - h`, modulo 2^32.
///
/// 1.4 reads the byte through a plain `char`, which is signed on x86, so bytes >= 0x80 enter
/// as negative numbers (0xff adds -1, not 255). 1.4 accumulates in an `unsigned long`, but
/// only additions, subtractions and left shifts are involved, so the low 32 bits that reach
/// the lookup are exactly this 32-bit computation.
#[inline]
pub fn sdbm_step(h: u32, c: u8) -> u32 {
    // i8 -> i32 sign-extends, then reinterpret as two's complement u32.
    let c = c as i8 as i32 as u32;
    c.wrapping_add(h << 6).wrapping_add(h << 16).wrapping_sub(h)
}

/// sdbm over `bytes`, left to right, starting from 0.
#[inline]
pub fn sdbm(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |h, &c| sdbm_step(h, c))
}

/// The `balance source` input: an IPv4 address as a big-endian 32-bit integer; an IPv6
/// address as the XOR of its four big-endian 32-bit words (1.4.21 and later). No sdbm.
///
/// The address is hashed as the socket reported it: an IPv4 client accepted on an IPv6
/// listener (`::ffff:a.b.c.d`) hashes as IPv6, as in HAProxy.
pub fn source_hash(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(v4) => u32::from_be_bytes(v4.octets()),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            o.chunks_exact(4)
                .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
                .fold(0, |h, w| h ^ w)
        }
    }
}

/// 1.4's `chash_hash()`: Bob Jenkins' 32-bit integer avalanche followed by a multiplication
/// by 3221225473, all modulo 2^32. Used both for ring point keys
/// (`chash_hash(puid * 4096 + i)`) and to map a request hash onto the ring.
#[inline]
pub fn chash_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed5_5d16).wrapping_add(a << 12);
    a = (a ^ 0xc761_c23c) ^ (a >> 19);
    a = a.wrapping_add(0x1656_67b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2_646c) ^ (a << 9);
    a = a.wrapping_add(0xfd70_46c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a_4f09) ^ (a >> 16);
    a.wrapping_mul(3_221_225_473)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn sdbm_by_hand() {
        assert_eq!(sdbm(b""), 0);
        // "a": 97 + 0 + 0 - 0
        assert_eq!(sdbm(b"a"), 97);
        // "ab": 98 + (97 << 6) + (97 << 16) - 97 = 98 + 6208 + 6356992 - 97
        assert_eq!(sdbm(b"ab"), 6_363_201);
    }

    #[test]
    fn sdbm_reference_values() {
        // Computed with the 1.4 C expression (unsigned long accumulator, plain char) on
        // x86-64 gcc, truncated to 32 bits.
        assert_eq!(sdbm(b"haproxy"), 248_846_773);
        assert_eq!(sdbm(b"/index.html"), 858_007_926);
        assert_eq!(sdbm("caf\u{e9}".as_bytes()), 393_933_774);
    }

    #[test]
    fn sdbm_signed_chars() {
        // 0xff is the char -1: h = -1 mod 2^32.
        assert_eq!(sdbm(&[0xff]), 0xffff_ffff);
        // 0x80 is -128.
        assert_eq!(sdbm(&[0x80]), 0xffff_ff80);
        // [0x80, 'A']: h1 = -128; h2 = 65 + (-128 << 6) + (-128 << 16) + 128
        //            = 65 - 8192 - 8388608 + 128 = -8396607 = 4286570689 mod 2^32.
        assert_eq!(sdbm(&[0x80, b'A']), 4_286_570_689);
        // With unsigned chars it would be 65 + 8192 + 8388608 - 128 = 8396737.
        assert_ne!(sdbm(&[0x80, b'A']), 8_396_737);
    }

    #[test]
    fn source_hash_v4_is_big_endian() {
        assert_eq!(
            source_hash(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))),
            0x7f00_0002
        );
        assert_eq!(
            source_hash(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))),
            0x0a01_0203
        );
    }

    #[test]
    fn source_hash_v6_xors_words() {
        assert_eq!(source_hash(IpAddr::V6(Ipv6Addr::LOCALHOST)), 1);
        let ip: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        assert_eq!(source_hash(IpAddr::V6(ip)), 0x2001_0db8 ^ 1);
        let ip: Ipv6Addr = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"
            .parse()
            .expect("literal");
        assert_eq!(
            source_hash(IpAddr::V6(ip)),
            0x2001_0db8 ^ 0xaaaa_bbbb ^ 0xcccc_dddd ^ 0xeeee_ffff
        );
        // v4-mapped stays IPv6: 0 ^ 0 ^ 0x0000ffff ^ 0x7f000001
        let ip: Ipv6Addr = "::ffff:127.0.0.1".parse().expect("literal");
        assert_eq!(source_hash(IpAddr::V6(ip)), 0x0000_ffff ^ 0x7f00_0001);
    }

    #[test]
    fn chash_hash_reference_values() {
        // Computed with the 1.4 C function on x86-64 gcc.
        assert_eq!(chash_hash(0), 2_874_071_335);
        assert_eq!(chash_hash(1), 881_230_262);
        assert_eq!(chash_hash(4096), 1_237_450_891);
        assert_eq!(chash_hash(4097), 2_761_370_759);
        assert_eq!(chash_hash(8192), 1_079_705_203);
        assert_eq!(chash_hash(u32::MAX), 2_120_532_354);
    }
}
