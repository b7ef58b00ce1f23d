//! Replays `fuzz/corpus/config_parse/*` through `load_str` (no panic, and the
//! config-iff-no-alert contract), then runs a bounded, deterministic mutation test over
//! the seed configuration: random byte flips, insertions, deletions and splices of
//! tokens the parser treats specially.

use parser::{load_str, LoadOptions};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/config_parse")
}

fn opts() -> LoadOptions {
    LoadOptions {
        resolve_names: false,
        ..LoadOptions::default()
    }
}

fn run(name: &str, data: &[u8]) {
    let loaded = load_str(name, data, &opts());
    assert_eq!(
        loaded.config.is_some(),
        !loaded.report.has_alerts(),
        "{name}: config returned despite alerts (or refused without one)"
    );
    let _ = loaded.report.render("000/000000 (1)");
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", corpus_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("readable"))
        })
        .collect()
}

#[test]
fn replay_corpus() {
    let files = corpus();
    assert!(files.len() >= 20, "only {} corpus files", files.len());
    for (name, data) in &files {
        run(name, data);
    }
}

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: &[&[u8]] = &[
    b" ",
    b"\n",
    b"\\",
    b"\\x",
    b"\\x4",
    b"#",
    b"{",
    b"}",
    b"!",
    b" or ",
    b" || ",
    b" if ",
    b" unless ",
    b"(",
    b")",
    b":",
    b",",
    b"-",
    b"\xc2\xa0",
    b"\xa0",
    b"\xe3\x80\x80",
    b"\0",
    b"no ",
    b"default ",
    b" option ",
    b"acl x ",
    b" -f ",
    b" -i ",
    b"--",
    b" gt ",
    b"99999999999",
    b"defaults\n",
    b"listen l ",
    b"backend ",
    b"frontend ",
    b"userlist u\n",
    b"global\n",
    b"server s ",
    b" track ",
    b"stick on ",
    b"/",
    b"1.2.3.4/33",
    b"*:0",
    b"[",
    b"]",
    b"\r",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut d = base.to_vec();
    let n = 1 + rng.below(6);
    for _ in 0..n {
        let pos = rng.below(d.len() + 1);
        match rng.below(6) {
            0 if !d.is_empty() => {
                let p = pos.min(d.len() - 1);
                d[p] ^= 1 << rng.below(8);
            }
            1 => d.insert(pos, rng.next() as u8),
            2 if !d.is_empty() => {
                let end = (pos + rng.below(40)).min(d.len());
                d.drain(pos.min(end)..end);
            }
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                d.splice(pos..pos, t.iter().copied());
            }
            4 if !d.is_empty() => {
                // duplicate a slice elsewhere
                let a = rng.below(d.len());
                let b = (a + rng.below(200)).min(d.len());
                let chunk = d[a..b].to_vec();
                let at = rng.below(d.len() + 1);
                d.splice(at..at, chunk);
            }
            _ => d.truncate(pos),
        }
    }
    d
}

#[test]
fn random_mutations_never_panic() {
    let files = corpus();
    let seed = files
        .iter()
        .find(|(n, _)| n == "seed-1.4.cfg")
        .map(|(_, d)| d.clone())
        .expect("seed-1.4.cfg in the fuzz corpus");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..2000 {
        let base = if i % 4 == 0 {
            &files[rng.below(files.len())].1
        } else {
            &seed
        };
        let data = mutate(&mut rng, base);
        run(&format!("mutation-{i}"), &data);
    }
}
