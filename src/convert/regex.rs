//! 1.4 regular expressions (POSIX extended, glibc `regcomp`) rewritten for 2.6 (PCRE2), and
//! the `req*`/`rsp*` line regexes split into the parts 2.6 rules work on.
//!
//! 1.4 matches a `reqrep`-family regex against a whole header line (`Name: value`) or the
//! start line (`GET /uri HTTP/1.1`), and `reqrep` replaces the whole line with the expanded
//! replacement (1.4 `apply_filter_to_req_headers` + `exp_replace`). 2.6 only has per-part
//! actions: `replace-header <name> <value-regex>`, `replace-uri <uri-regex>`, fetches such
//! as `req.fhdr(<name>)`. [`split_header`] and [`split_request_line`] parse the regex
//! (a small ERE parser: literals, classes, groups, quantifiers, anchors) and cut it at the
//! `Name:` prefix or at the spaces of the request line, renumbering the groups that remain;
//! [`Repl`] does the same for the replacement (`\1`..`\9` back-references).
//!
//! Translation to PCRE ([`to_pcre`]): a backslash inside brackets is literal in POSIX (so it
//! is doubled), `\<`/`\>` are word starts/ends (`[[:<:]]`/`[[:>:]]` in PCRE2), escaped letters
//! glibc does not know are the letters themselves (`\d` is `d` for glibc, a digit for PCRE).

use std::fmt::Write as _;

/// One element of a parsed regex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// A literal byte (escaped or not).
    Lit(u8),
    /// `.`
    Any,
    /// A bracket expression, as written (from `[` to `]`).
    Class(Vec<u8>),
    /// `\w \W \s \S \b \B \< \> \` \'`.
    Escape(u8),
    /// A capturing group: its number (from 1, in opening order) and alternatives.
    Group(usize, Vec<Vec<Node>>),
    /// `^`
    Start,
    /// `$`
    End,
    /// A node with its quantifier (`*`, `+`, `?`, `{m,n}`) as written.
    Repeat(Box<Node>, String),
}

/// A parsed regex: top-level alternatives and the number of groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ere {
    pub alts: Vec<Vec<Node>>,
    pub groups: usize,
}

/// Parses a POSIX extended regex (bytes after 1.4's config unescaping).
pub fn parse(src: &[u8]) -> Result<Ere, String> {
    let mut p = P {
        s: src,
        i: 0,
        groups: 0,
    };
    let alts = p.alts(0)?;
    if p.i < src.len() {
        return Err("unbalanced ')'".into());
    }
    Ok(Ere {
        alts,
        groups: p.groups,
    })
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
    groups: usize,
}

impl P<'_> {
    fn alts(&mut self, depth: usize) -> Result<Vec<Vec<Node>>, String> {
        let mut alts = vec![Vec::new()];
        while self.i < self.s.len() {
            let c = self.s[self.i];
            match c {
                b'|' => {
                    self.i += 1;
                    alts.push(Vec::new());
                    continue;
                }
                b')' if depth > 0 => return Ok(alts),
                _ => {}
            }
            let node = self.atom(depth)?;
            let node = self.quant(node);
            if let Some(cur) = alts.last_mut() {
                cur.push(node);
            }
        }
        if depth > 0 {
            return Err("unbalanced '('".into());
        }
        Ok(alts)
    }

    fn atom(&mut self, depth: usize) -> Result<Node, String> {
        let c = self.s[self.i];
        self.i += 1;
        Ok(match c {
            b'.' => Node::Any,
            b'^' => Node::Start,
            b'$' => Node::End,
            b'(' => {
                self.groups += 1;
                let n = self.groups;
                let inner = self.alts(depth + 1)?;
                if self.s.get(self.i) != Some(&b')') {
                    return Err("unbalanced '('".into());
                }
                self.i += 1;
                Node::Group(n, inner)
            }
            b'[' => {
                let start = self.i - 1;
                let mut j = self.i;
                if self.s.get(j) == Some(&b'^') {
                    j += 1;
                }
                if self.s.get(j) == Some(&b']') {
                    j += 1;
                }
                loop {
                    match self.s.get(j) {
                        None => return Err("unterminated '['".into()),
                        Some(b']') => break,
                        Some(b'[') if matches!(self.s.get(j + 1), Some(b':' | b'.' | b'=')) => {
                            let kind = self.s[j + 1];
                            let mut k = j + 2;
                            while k + 1 < self.s.len()
                                && !(self.s[k] == kind && self.s[k + 1] == b']')
                            {
                                k += 1;
                            }
                            if k + 1 >= self.s.len() {
                                return Err("unterminated class".into());
                            }
                            j = k + 2;
                        }
                        Some(_) => j += 1,
                    }
                }
                self.i = j + 1;
                Node::Class(self.s[start..=j].to_vec())
            }
            b'\\' => {
                let Some(&n) = self.s.get(self.i) else {
                    return Err("trailing backslash".into());
                };
                self.i += 1;
                match n {
                    b'1'..=b'9' => return Err("back-reference".into()),
                    b'w' | b'W' | b's' | b'S' | b'b' | b'B' | b'<' | b'>' | b'`' | b'\'' => {
                        Node::Escape(n)
                    }
                    _ => Node::Lit(n),
                }
            }
            b'*' | b'+' | b'?' => Node::Lit(c),
            _ => Node::Lit(c),
        })
    }

    fn quant(&mut self, node: Node) -> Node {
        let mut node = node;
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return node;
            };
            let q = match c {
                b'*' | b'+' | b'?' => {
                    self.i += 1;
                    (c as char).to_string()
                }
                b'{' => {
                    let rest = &self.s[self.i..];
                    match rest.iter().position(|&b| b == b'}') {
                        Some(end)
                            if end > 1
                                && rest[1..end]
                                    .iter()
                                    .all(|b| b.is_ascii_digit() || *b == b',') =>
                        {
                            self.i += end + 1;
                            String::from_utf8_lossy(&rest[..=end]).into_owned()
                        }
                        _ => return node,
                    }
                }
                _ => return node,
            };
            node = Node::Repeat(Box::new(node), q);
        }
    }
}

/// Writes nodes as PCRE text. `renum` renumbers groups (old number -> new number; `None`
/// keeps the group but makes it non-capturing).
pub fn nodes_pcre(nodes: &[Node], renum: &dyn Fn(usize) -> Option<usize>) -> String {
    let mut out = String::new();
    for n in nodes {
        node_pcre(n, renum, false, &mut out);
    }
    out
}

fn node_pcre(n: &Node, renum: &dyn Fn(usize) -> Option<usize>, block: bool, out: &mut String) {
    match n {
        Node::Lit(c) => lit_pcre(*c, out),
        Node::Any => out.push('.'),
        Node::Start => out.push('^'),
        // in a header block (`req.hdrs`) lines end with CRLF and `$` (multi-line) only
        // stops before the LF
        Node::End if block => out.push_str("(?=\\r?$)"),
        Node::End => out.push('$'),
        Node::Escape(e) => match e {
            b'<' => out.push_str("[[:<:]]"),
            b'>' => out.push_str("[[:>:]]"),
            b'`' => out.push_str("\\A"),
            b'\'' => out.push_str("\\z"),
            _ => {
                out.push('\\');
                out.push(*e as char);
            }
        },
        Node::Class(raw) => class_pcre(raw, out),
        Node::Group(num, alts) => {
            out.push('(');
            if renum(*num).is_none() {
                out.push_str("?:");
            }
            for (k, alt) in alts.iter().enumerate() {
                if k > 0 {
                    out.push('|');
                }
                for m in alt {
                    node_pcre(m, renum, block, out);
                }
            }
            out.push(')');
        }
        Node::Repeat(inner, q) => {
            node_pcre(inner, renum, block, out);
            out.push_str(q);
        }
    }
}

fn lit_pcre(c: u8, out: &mut String) {
    match c {
        b'\\' | b'.' | b'^' | b'$' | b'|' | b'(' | b')' | b'[' | b']' | b'*' | b'+' | b'?'
        | b'{' | b'}' => {
            out.push('\\');
            out.push(c as char);
        }
        0..=0x1f | 0x7f..=0xff => {
            let _ = write!(out, "\\x{c:02x}");
        }
        _ => out.push(c as char),
    }
}

/// A POSIX bracket expression for PCRE: backslashes are literal in POSIX, so doubled.
fn class_pcre(raw: &[u8], out: &mut String) {
    for &c in raw {
        match c {
            b'\\' => out.push_str("\\\\"),
            0..=0x1f | 0x7f..=0xff => {
                let _ = write!(out, "\\x{c:02x}");
            }
            _ => out.push(c as char),
        }
    }
}

/// The whole regex as PCRE text (all groups kept).
pub fn to_pcre(src: &[u8]) -> Result<String, String> {
    let ere = parse(src)?;
    Ok(alts_pcre(&ere.alts))
}

/// The regex as PCRE text for matching each line of a header block (`req.hdrs`): multi-line
/// mode, and `$` before the CR of the CRLF.
pub fn to_pcre_block(src: &[u8]) -> Result<String, String> {
    let ere = parse(src)?;
    let body = ere
        .alts
        .iter()
        .map(|a| {
            let mut out = String::new();
            for n in a {
                node_pcre(n, &|g| Some(g), true, &mut out);
            }
            out
        })
        .collect::<Vec<_>>()
        .join("|");
    Ok(format!("(?m){body}"))
}

fn alts_pcre(alts: &[Vec<Node>]) -> String {
    alts.iter()
        .map(|a| nodes_pcre(a, &|g| Some(g)))
        .collect::<Vec<_>>()
        .join("|")
}

/// Number of capturing groups in `nodes` (nested included).
fn count_groups(nodes: &[Node]) -> usize {
    nodes
        .iter()
        .map(|n| match n {
            Node::Group(_, alts) => 1 + alts.iter().map(|a| count_groups(a)).sum::<usize>(),
            Node::Repeat(inner, _) => count_groups(std::slice::from_ref(inner)),
            _ => 0,
        })
        .sum()
}

/// Group numbers used in `nodes`, in order.
fn group_numbers(nodes: &[Node], out: &mut Vec<usize>) {
    for n in nodes {
        match n {
            Node::Group(g, alts) => {
                out.push(*g);
                for a in alts {
                    group_numbers(a, out);
                }
            }
            Node::Repeat(inner, _) => group_numbers(std::slice::from_ref(inner), out),
            _ => {}
        }
    }
}

/// RFC 7230 token bytes (header names).
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

/// True when the node only ever matches blanks (space or tab), with any quantifier.
fn only_blanks(n: &Node) -> bool {
    match n {
        Node::Lit(b' ') | Node::Lit(b'\t') | Node::Escape(b's') => true,
        Node::Class(raw) => {
            let inner = &raw[1..raw.len().saturating_sub(1)];
            !inner.is_empty()
                && inner.first() != Some(&b'^')
                && inner.iter().all(|c| matches!(c, b' ' | b'\t'))
        }
        Node::Repeat(inner, _) => only_blanks(inner),
        _ => false,
    }
}

/// What a group of the original regex became after a split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupFate {
    /// Still a group, with this new number.
    Kept(usize),
    /// Kept, new number, and in 1.4 it also held the `Name:` prefix (and the blanks after
    /// it) that 2.6's value does not have.
    KeptWithName(usize),
    /// Gone; in 1.4 it always matched this literal text (part of the header name).
    Literal(Vec<u8>),
    /// Outside the part 2.6 sees (method or version of a request line).
    Outside,
}

/// A header-line regex cut into the header name and a regex for the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSplit {
    pub name: String,
    /// Regex for the value, anchored at its start (PCRE text).
    pub value: String,
    /// True when the value regex accepts any value (`^Name:.*`, `^Name:`, `^Name`...).
    pub any_value: bool,
    /// No `:` followed the name: the regex also matches longer names (`^X-Foo` matches
    /// `X-Foobar: 1`).
    pub name_prefix: bool,
    /// Fate of each original group (index = old number - 1).
    pub groups: Vec<GroupFate>,
}

/// Splits `^Name:<value part>` (the name possibly inside the first group). Returns `None`
/// when the regex is not anchored, has alternatives at the top, or its name is not a plain
/// token.
pub fn split_header(src: &[u8]) -> Option<HeaderSplit> {
    let ere = parse(src).ok()?;
    if ere.alts.len() != 1 {
        return None;
    }
    let nodes = &ere.alts[0];
    if nodes.first() != Some(&Node::Start) {
        return None;
    }
    let mut rest: Vec<Node> = nodes[1..].to_vec();
    let mut fates: Vec<Option<GroupFate>> = vec![None; ere.groups];
    // the name, possibly at the start of group 1
    let mut name = Vec::new();
    let mut colon = false;
    let mut hollowed: Option<usize> = None;
    if let Some(Node::Group(g, alts)) = rest.first().cloned() {
        if alts.len() == 1 {
            let inner = &alts[0];
            let mut k = 0;
            while let Some(Node::Lit(c)) = inner.get(k) {
                if is_tchar(*c) && *c != b':' {
                    name.push(*c);
                    k += 1;
                } else {
                    break;
                }
            }
            if !name.is_empty() && inner.get(k) == Some(&Node::Lit(b':')) {
                colon = true;
                k += 1;
                let mut lit = name.clone();
                lit.push(b':');
                if k == inner.len() {
                    // `(Name:)`
                    fates[g - 1] = Some(GroupFate::Literal(lit));
                    rest.remove(0);
                } else {
                    // `(Name:rest)`: the group keeps the rest
                    while inner.get(k).is_some_and(only_blanks) {
                        k += 1;
                    }
                    hollowed = Some(g);
                    rest[0] = Node::Group(g, vec![inner[k..].to_vec()]);
                }
            } else if !name.is_empty() && k == inner.len() {
                // `(Name)` followed by `:`
                if rest.get(1) == Some(&Node::Lit(b':')) {
                    fates[g - 1] = Some(GroupFate::Literal(name.clone()));
                    rest.drain(..2);
                    colon = true;
                } else {
                    return None;
                }
            } else {
                name.clear();
            }
        }
    }
    if name.is_empty() {
        let mut k = 0;
        while let Some(Node::Lit(c)) = rest.get(k) {
            if is_tchar(*c) && *c != b':' {
                name.push(*c);
                k += 1;
            } else {
                break;
            }
        }
        if name.is_empty() {
            return None;
        }
        match rest.get(k) {
            Some(Node::Lit(b':')) => {
                colon = true;
                rest.drain(..=k);
            }
            None => {
                rest.clear();
            }
            Some(Node::End) if k + 1 == rest.len() => {
                // `^Name$`: a header line that is only a name never exists
                return None;
            }
            _ => return None,
        }
    }
    if hollowed.is_none() {
        while rest.first().is_some_and(only_blanks) {
            rest.remove(0);
        }
    }
    // renumber the remaining groups in order
    let mut remaining = Vec::new();
    group_numbers(&rest, &mut remaining);
    for (new, old) in remaining.iter().enumerate() {
        fates[old - 1] = Some(if Some(*old) == hollowed {
            GroupFate::KeptWithName(new + 1)
        } else {
            GroupFate::Kept(new + 1)
        });
    }
    let groups: Vec<GroupFate> = fates
        .into_iter()
        .map(|f| f.unwrap_or(GroupFate::Outside))
        .collect();
    let any_value = rest.is_empty()
        || (rest.len() == 1
            && matches!(&rest[0], Node::Repeat(n, q) if **n == Node::Any && q == "*"))
        || (rest.len() == 2
            && matches!(&rest[0], Node::Repeat(n, q) if **n == Node::Any && q == "*")
            && rest[1] == Node::End);
    let map = |g: usize| match groups.get(g - 1) {
        Some(GroupFate::Kept(n)) | Some(GroupFate::KeptWithName(n)) => Some(*n),
        _ => None,
    };
    let value = format!("^{}", nodes_pcre(&rest, &map));
    Some(HeaderSplit {
        name: String::from_utf8_lossy(&name).into_owned(),
        value,
        any_value,
        name_prefix: !colon,
        groups,
    })
}

/// A request-line regex cut at its spaces: method, URI and (optionally) version parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineSplit {
    pub method: Vec<Node>,
    /// Regex for the URI alone, anchored at its start (PCRE text).
    pub uri: String,
    pub version: Option<Vec<Node>>,
    /// Fate of each original group.
    pub groups: Vec<GroupFate>,
}

/// Splits `^<method> <uri>[ <version>]` at its top-level literal spaces. `None` when the
/// regex is not anchored, has top-level alternatives, or has fewer than two parts.
pub fn split_request_line(src: &[u8]) -> Option<LineSplit> {
    let ere = parse(src).ok()?;
    if ere.alts.len() != 1 {
        return None;
    }
    let nodes = &ere.alts[0];
    if nodes.first() != Some(&Node::Start) {
        return None;
    }
    let mut parts: Vec<Vec<Node>> = vec![Vec::new()];
    for n in &nodes[1..] {
        if *n == Node::Lit(b' ') {
            parts.push(Vec::new());
        } else if let Some(p) = parts.last_mut() {
            p.push(n.clone());
        }
    }
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let method = parts[0].clone();
    let uri_nodes = parts[1].clone();
    let version = parts.get(2).cloned();
    let mut fates = vec![GroupFate::Outside; ere.groups];
    let mut inside = Vec::new();
    group_numbers(&uri_nodes, &mut inside);
    for (new, old) in inside.iter().enumerate() {
        fates[old - 1] = GroupFate::Kept(new + 1);
    }
    let map = |g: usize| match fates.get(g - 1) {
        Some(GroupFate::Kept(n)) => Some(*n),
        _ => None,
    };
    let uri = format!("^{}", nodes_pcre(&uri_nodes, &map));
    Some(LineSplit {
        method,
        uri,
        version,
        groups: fates,
    })
}

/// A `reqrep` replacement: literal bytes and back-references, as 1.4's `exp_replace` reads
/// them (`\N` a group, `\xHH` a byte, a backslash before anything else that byte).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplPart {
    Lit(Vec<u8>),
    Ref(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repl(pub Vec<ReplPart>);

impl Repl {
    pub fn parse(b: &[u8]) -> Repl {
        let mut parts: Vec<ReplPart> = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        while let Some(&c) = b.get(i) {
            if c != b'\\' {
                lit.push(c);
                i += 1;
                continue;
            }
            let Some(&n) = b.get(i + 1) else { break };
            if n.is_ascii_digit() {
                if !lit.is_empty() {
                    parts.push(ReplPart::Lit(std::mem::take(&mut lit)));
                }
                parts.push(ReplPart::Ref(usize::from(n - b'0')));
                i += 2;
            } else if n == b'x' {
                match (b.get(i + 2), b.get(i + 3)) {
                    (Some(&h), Some(&l)) => {
                        lit.push(hex(h) << 4 | hex(l));
                        i += 4;
                    }
                    _ => break,
                }
            } else {
                lit.push(n);
                i += 2;
            }
        }
        if !lit.is_empty() {
            parts.push(ReplPart::Lit(lit));
        }
        Repl(parts)
    }

    /// Splits at the spaces of literal parts (a request line's fields).
    pub fn split_spaces(&self) -> Vec<Repl> {
        let mut out = vec![Vec::new()];
        for p in &self.0 {
            match p {
                ReplPart::Ref(_) => {
                    if let Some(cur) = out.last_mut() {
                        cur.push(p.clone());
                    }
                }
                ReplPart::Lit(b) => {
                    for (k, piece) in b.split(|&c| c == b' ').enumerate() {
                        if k > 0 {
                            out.push(Vec::new());
                        }
                        if !piece.is_empty() {
                            if let Some(cur) = out.last_mut() {
                                cur.push(ReplPart::Lit(piece.to_vec()));
                            }
                        }
                    }
                }
            }
        }
        out.into_iter().map(Repl).collect()
    }

    /// Writes the replacement for 2.6 (`replace-header`/`replace-uri` format): the log-format
    /// layer doubles `%`, the back-reference layer doubles `\`; group numbers go through
    /// `renum`. `None` when a reference cannot be carried over.
    pub fn render(&self, fates: &[GroupFate]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        for p in &self.0 {
            match p {
                ReplPart::Lit(b) => {
                    for &c in b {
                        match c {
                            b'%' => out.extend_from_slice(b"%%"),
                            b'\\' => out.extend_from_slice(b"\\\\"),
                            _ => out.push(c),
                        }
                    }
                }
                ReplPart::Ref(0) => return None,
                ReplPart::Ref(g) => match fates.get(g - 1) {
                    Some(GroupFate::Kept(n)) => out.extend_from_slice(format!("\\{n}").as_bytes()),
                    Some(GroupFate::Literal(t)) => out.extend_from_slice(t),
                    // a reference to a group that does not exist expands to nothing in 1.4
                    None => {}
                    Some(GroupFate::KeptWithName(_)) | Some(GroupFate::Outside) => return None,
                },
            }
        }
        Some(out)
    }
}

fn hex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// The literal text a node sequence always matches, if it is made of literals only.
pub fn literal_text(nodes: &[Node]) -> Option<Vec<u8>> {
    nodes
        .iter()
        .map(|n| match n {
            Node::Lit(c) => Some(*c),
            _ => None,
        })
        .collect()
}

/// The number of the group that is the whole of `nodes` (optionally followed by `$`).
pub fn whole_group(nodes: &[Node]) -> Option<usize> {
    match nodes {
        [Node::Group(g, _)] | [Node::Group(g, _), Node::End] => Some(*g),
        _ => None,
    }
}

/// True when the method part of a request-line regex accepts any method token (`[^ ]*`,
/// `[^ :]+`, `.*`, `[A-Z]+`..., possibly captured).
pub fn any_method(nodes: &[Node]) -> bool {
    let inner: &[Node] = match nodes {
        [Node::Group(_, alts)] if alts.len() == 1 => &alts[0],
        _ => nodes,
    };
    match inner {
        [Node::Repeat(n, q)] if q == "*" || q == "+" => match n.as_ref() {
            Node::Any => true,
            Node::Class(raw) => {
                let s = String::from_utf8_lossy(raw);
                s.starts_with("[^") || s == "[A-Z]" || s == "[a-zA-Z]" || s == "[A-Za-z]"
            }
            Node::Escape(b'w') | Node::Escape(b'S') => true,
            _ => false,
        },
        _ => false,
    }
}

/// Count of groups, for callers that check references.
pub fn groups_in(src: &[u8]) -> usize {
    parse(src)
        .map(|e| e.alts.iter().map(|a| count_groups(a)).sum())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_to_pcre() {
        assert_eq!(
            to_pcre(b"^(cookie.9ai9.net)").unwrap(),
            "^(cookie.9ai9.net)"
        );
        assert_eq!(to_pcre(b"/*.(css|jpg)$").unwrap(), "/*.(css|jpg)$");
        // a backslash is literal inside POSIX brackets
        assert_eq!(to_pcre(b"[\\.]x").unwrap(), "[\\\\.]x");
        // glibc reads `\d` as the letter d
        assert_eq!(to_pcre(b"\\d").unwrap(), "d");
        assert_eq!(to_pcre(b"\\.php").unwrap(), "\\.php");
        assert_eq!(to_pcre(b"\\<ab\\>").unwrap(), "[[:<:]]ab[[:>:]]");
        assert_eq!(to_pcre(b"a{2,3}b+").unwrap(), "a{2,3}b+");
        assert_eq!(to_pcre(b"[[:alpha:]]+").unwrap(), "[[:alpha:]]+");
        assert_eq!(to_pcre(b"[]a]").unwrap(), "[]a]");
        assert!(to_pcre(b"(a").is_err());
        assert!(to_pcre(b"\\1").is_err());
    }

    #[test]
    fn header_split_plain() {
        let h = split_header(b"^Host: shop.example.com").unwrap();
        assert_eq!(h.name, "Host");
        assert_eq!(h.value, "^shop.example.com");
        assert!(!h.name_prefix);
        assert!(!h.any_value);
        let h = split_header(b"^Set-cookie: IP=").unwrap();
        assert_eq!((h.name.as_str(), h.value.as_str()), ("Set-cookie", "^IP="));
        let h = split_header(b"^X-Foo:.*").unwrap();
        assert!(h.any_value);
        let h = split_header(b"^X-Foo").unwrap();
        assert!(h.any_value && h.name_prefix, "a name prefix alone");
        assert!(split_header(b"Host").is_none(), "not anchored");
        assert!(split_header(b"^(Host|X-Host):").is_none());
        assert!(split_header(b"^[Hh]ost:").is_none());
    }

    #[test]
    fn header_split_name_in_group() {
        let h = split_header(b"^(Location:) http://([^/]*)/(.*)$").unwrap();
        assert_eq!(h.name, "Location");
        assert_eq!(h.value, "^http://([^/]*)/(.*)$");
        assert_eq!(
            h.groups,
            vec![
                GroupFate::Literal(b"Location:".to_vec()),
                GroupFate::Kept(1),
                GroupFate::Kept(2)
            ]
        );
        let h = split_header(b"^(Set-Cookie:.* path=)([^ ]+)(.*)$").unwrap();
        assert_eq!(h.name, "Set-Cookie");
        assert_eq!(h.value, "^(.* path=)([^ ]+)(.*)$");
        assert_eq!(h.groups[0], GroupFate::KeptWithName(1));
        let h = split_header(b"^(X-A):[ ]*(.*)").unwrap();
        assert_eq!(h.name, "X-A");
        assert_eq!(h.value, "^(.*)");
        assert_eq!(h.groups[0], GroupFate::Literal(b"X-A".to_vec()));
    }

    #[test]
    fn request_line_split() {
        let l = split_request_line(b"^([^ ]*) /shop/prod/([^ ]*) (.*)$").unwrap();
        assert!(any_method(&l.method));
        assert_eq!(l.uri, "^/shop/prod/([^ ]*)");
        assert_eq!(
            l.groups,
            vec![GroupFate::Outside, GroupFate::Kept(1), GroupFate::Outside]
        );
        assert_eq!(whole_group(l.version.as_deref().unwrap()), Some(3));
        let l = split_request_line(b"^([^ :]*) /search[/]?(.*)").unwrap();
        assert_eq!(l.uri, "^/search[/]?(.*)");
        assert!(l.version.is_none());
        let l = split_request_line(b"^GET /a").unwrap();
        assert_eq!(literal_text(&l.method), Some(b"GET".to_vec()));
        assert!(split_request_line(b"^Host:").is_none());
    }

    #[test]
    fn replacement_parts() {
        let r = Repl::parse(b"\\1 /\\2 \\3");
        let parts = r.split_spaces();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].0, vec![ReplPart::Ref(1)]);
        assert_eq!(
            parts[1].0,
            vec![ReplPart::Lit(b"/".to_vec()), ReplPart::Ref(2)]
        );
        let fates = vec![GroupFate::Outside, GroupFate::Kept(1), GroupFate::Outside];
        assert_eq!(parts[1].render(&fates).unwrap(), b"/\\1".to_vec());
        assert!(parts[0].render(&fates).is_none());
        let r = Repl::parse(b"100% \\x41\\\\");
        assert_eq!(r.render(&[]).unwrap(), b"100%% A\\\\".to_vec());
    }
}
