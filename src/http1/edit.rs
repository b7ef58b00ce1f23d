//! Head rewriting: the edits the configuration asks for (`reqrep`/`rsprep`, `reqdel`/`rspdel`,
//! `reqadd`/`rspadd`, `option forwardfor`/`originalto`, `Connection` changes, cookie rewrites)
//! applied while writing a parsed head into an output buffer. Lines that are not edited are
//! copied byte for byte, with their original case, spacing, order and line ending.
//!
//! Compare with 1.4 `src/proto_http.c`: `apply_filter_to_req_headers()` /
//! `apply_filter_to_req_line()` (rules see the current text of each line, earlier rules'
//! results included), `http_header_add_tail2()` (added lines end in CRLF and go after the last
//! header), `http_remove_header2()` (removing the last value of a header removes the line),
//! `http_change_connection_header()`, and `hdr_idx_add()` (added lines count against
//! `MAX_HTTP_HDR`, deleted ones free their slot).
//!
//! Design: a fixed table with one operation per line (keep, delete, replace) rather than an
//! ordered list of edits or a callback writer. 1.4 applies rules one after the other to the
//! buffer in place, so a later rule must see what an earlier one produced (a `reqrep` result can
//! be matched by a following `reqdel`, a backend rule sees the frontend's `reqadd`). A per-line
//! table gives every rule the current text of every line in O(1) and makes each edit O(1);
//! replacement and added text lives in one reusable scratch buffer, so after the first requests
//! nothing allocates. The table has room for every line a head can legally hold, so it cannot
//! overflow in a way the caller has to handle, except the 1.4 header limit itself.

use super::head::{HeadIndex, Span, MAX_HEADERS};
use super::tokens::{split_header_line, token_eq, value_offset, ElementSpans};
use crate::buffer::FreeList;

/// Line slots: every original header line plus as many added ones. Live lines never exceed
/// [`MAX_HEADERS`]; slots of deleted lines are not reused, hence the double capacity.
pub const MAX_LINES: usize = 2 * MAX_HEADERS;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineOp {
    Keep,
    Delete,
    /// New text (without line ending) at this range of the scratch buffer.
    Replace {
        start: u32,
        end: u32,
    },
}

/// An edit that cannot be applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// Adding the line would exceed 1.4's header limit (request: 400, response: 502).
    #[error("too many header lines (more than {MAX_HEADERS})")]
    TooManyHeaders,
    /// The line id does not exist or the line was deleted.
    #[error("no such header line")]
    NoSuchLine,
}

thread_local! {
    /// Op tables let go of by [`HeadEdit::release`].
    static OP_TABLES: FreeList<Box<[LineOp]>> = const { FreeList::new(256) };
}

/// The edits pending on one head. Reused across messages ([`HeadEdit::reset`]).
///
/// Line ids: `0..original` are the header lines of the parsed head in order, later ids are
/// added lines in the order they were added. Every method that reads text takes the buffer
/// and the [`HeadIndex`] the head was parsed into.
#[derive(Clone, Debug)]
pub struct HeadEdit {
    /// `MAX_LINES` slots; empty after `release` until the next `reset`.
    ops: Box<[LineOp]>,
    len: usize,
    original: usize,
    live: usize,
    start_line: Option<(u32, u32)>,
    edited: bool,
    scratch: Vec<u8>,
    spare: Vec<u8>,
}

impl Default for HeadEdit {
    fn default() -> Self {
        Self::new()
    }
}

impl HeadEdit {
    pub fn new() -> Self {
        HeadEdit {
            ops: Self::op_table(),
            len: 0,
            original: 0,
            live: 0,
            start_line: None,
            edited: false,
            scratch: Vec::new(),
            spare: Vec::new(),
        }
    }

    fn op_table() -> Box<[LineOp]> {
        FreeList::take_local(&OP_TABLES)
            .unwrap_or_else(|| vec![LineOp::Keep; MAX_LINES].into_boxed_slice())
    }

    /// Forgets the edits and lets go of the op table (to this thread's free list), for an
    /// owner that will hold this for long without editing (a connection turned into a
    /// tunnel); `reset` takes a table again. The text buffers are kept: they hold only
    /// what edits added, usually nothing.
    pub fn release(&mut self) {
        self.len = 0;
        self.original = 0;
        self.live = 0;
        self.start_line = None;
        self.edited = false;
        self.scratch.clear();
        self.spare.clear();
        let table = std::mem::take(&mut self.ops);
        if !table.is_empty() {
            FreeList::give_local(&OP_TABLES, table);
        }
    }

    /// Starts editing the head described by `idx` (no edits yet). Keeps buffer capacity.
    pub fn reset(&mut self, idx: &HeadIndex) {
        if self.ops.is_empty() {
            self.ops = Self::op_table();
        }
        let n = idx.headers().len();
        for op in self.ops.iter_mut().take(n) {
            *op = LineOp::Keep;
        }
        self.len = n;
        self.original = n;
        self.live = n;
        self.start_line = None;
        self.edited = false;
        self.scratch.clear();
        self.spare.clear();
    }

    /// No edit was made: the head can be forwarded as it came.
    pub fn is_unedited(&self) -> bool {
        !self.edited
    }

    /// Number of line ids in use (deleted ones included).
    pub fn line_slots(&self) -> usize {
        self.len
    }

    /// Number of header lines the written head will have.
    pub fn live_lines(&self) -> usize {
        self.live
    }

    fn scratch_text(&self, start: u32, end: u32) -> &[u8] {
        self.scratch
            .get(start as usize..end as usize)
            .unwrap_or(&[])
    }

    /// Current text of the start line.
    pub fn start_line<'a>(&'a self, src: &'a [u8], idx: &HeadIndex) -> &'a [u8] {
        match self.start_line {
            Some((s, e)) => self.scratch_text(s, e),
            None => idx.start_line().get(src),
        }
    }

    /// Current text of line `id` (without line ending); `None` if deleted or unknown.
    pub fn line<'a>(&'a self, src: &'a [u8], idx: &HeadIndex, id: usize) -> Option<&'a [u8]> {
        match *self.ops.get(..self.len)?.get(id)? {
            LineOp::Keep => Some(idx.headers().get(id)?.line().get(src)),
            LineOp::Delete => None,
            LineOp::Replace { start, end } => Some(self.scratch_text(start, end)),
        }
    }

    /// Live lines in output order, as `(id, text)`.
    pub fn lines<'a>(
        &'a self,
        src: &'a [u8],
        idx: &'a HeadIndex,
    ) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        (0..self.len).filter_map(move |id| self.line(src, idx, id).map(|l| (id, l)))
    }

    /// Live lines whose name is `name` (case-insensitive), as `(id, trimmed value)`.
    pub fn find<'a>(
        &'a self,
        src: &'a [u8],
        idx: &'a HeadIndex,
        name: &'a [u8],
    ) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
        self.lines(src, idx).filter_map(move |(id, line)| {
            let (n, v) = split_header_line(line)?;
            n.eq_ignore_ascii_case(name).then_some((id, v))
        })
    }

    fn check_live(&self, id: usize) -> Result<(), EditError> {
        match self.ops.get(..self.len).and_then(|ops| ops.get(id)) {
            Some(LineOp::Delete) | None => Err(EditError::NoSuchLine),
            Some(_) => Ok(()),
        }
    }

    /// Removes line `id` (`reqdel`).
    pub fn delete(&mut self, id: usize) -> Result<(), EditError> {
        self.check_live(id)?;
        if let Some(op) = self.ops.get_mut(id) {
            *op = LineOp::Delete;
        }
        self.live -= 1;
        self.edited = true;
        Ok(())
    }

    fn push_scratch(&mut self, bytes: &[u8]) -> (u32, u32) {
        let start = self.scratch.len() as u32;
        self.scratch.extend_from_slice(bytes);
        (start, self.scratch.len() as u32)
    }

    /// Replaces the text of line `id` by `text` (a whole line without line ending, as `reqrep`
    /// produces). The line keeps its original line ending.
    pub fn replace(&mut self, id: usize, text: &[u8]) -> Result<(), EditError> {
        self.check_live(id)?;
        let (start, end) = self.push_scratch(text);
        if let Some(op) = self.ops.get_mut(id) {
            *op = LineOp::Replace { start, end };
        }
        self.edited = true;
        Ok(())
    }

    /// Replaces line `id` by what `f` writes, given the line's current text; `f` writes into a
    /// reusable buffer (e.g. a regex expansion with back-references), nothing is allocated.
    pub fn replace_with(
        &mut self,
        src: &[u8],
        idx: &HeadIndex,
        id: usize,
        f: impl FnOnce(&[u8], &mut Vec<u8>),
    ) -> Result<(), EditError> {
        self.check_live(id)?;
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        match self.line(src, idx, id) {
            Some(cur) => f(cur, &mut out),
            None => return Err(EditError::NoSuchLine),
        }
        let r = self.replace(id, &out);
        self.spare = out;
        r
    }

    /// Replaces the start line (`reqrep` on the request line, a rewritten URI...). It keeps its
    /// original line ending.
    pub fn replace_start_line(&mut self, text: &[u8]) {
        self.start_line = Some(self.push_scratch(text));
        self.edited = true;
    }

    /// Like [`HeadEdit::replace_start_line`] with the text written by `f` from the current one.
    pub fn replace_start_line_with(
        &mut self,
        src: &[u8],
        idx: &HeadIndex,
        f: impl FnOnce(&[u8], &mut Vec<u8>),
    ) {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        f(self.start_line(src, idx), &mut out);
        self.replace_start_line(&out);
        self.spare = out;
    }

    /// Adds a line after the last header (`reqadd`, `X-Forwarded-For: ...`); it is written
    /// with CRLF. Returns its id.
    pub fn append(&mut self, text: &[u8]) -> Result<usize, EditError> {
        if self.live >= MAX_HEADERS || self.len >= MAX_LINES {
            return Err(EditError::TooManyHeaders);
        }
        let (start, end) = self.push_scratch(text);
        let id = self.len;
        if let Some(op) = self.ops.get_mut(id) {
            *op = LineOp::Replace { start, end };
        }
        self.len += 1;
        self.live += 1;
        self.edited = true;
        Ok(id)
    }

    /// Like [`HeadEdit::append`] with the line written by `f` into a reusable buffer.
    pub fn append_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Result<usize, EditError> {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        f(&mut out);
        let r = self.append(&out);
        self.spare = out;
        r
    }

    /// Removes every element equal to `token` (case-insensitive) from the comma-separated
    /// value of line `id` (e.g. `keep-alive` from `Connection`), keeping the rest of the line
    /// byte for byte. When no non-empty element remains the whole line is deleted. Returns the
    /// number of elements removed.
    pub fn remove_token(
        &mut self,
        src: &[u8],
        idx: &HeadIndex,
        id: usize,
        token: &[u8],
    ) -> Result<usize, EditError> {
        self.rewrite_tokens(src, idx, id, token, None)
    }

    /// Replaces every element equal to `token` (case-insensitive) in the value of line `id` by
    /// `with`. Returns the number of elements replaced.
    pub fn replace_token(
        &mut self,
        src: &[u8],
        idx: &HeadIndex,
        id: usize,
        token: &[u8],
        with: &[u8],
    ) -> Result<usize, EditError> {
        self.rewrite_tokens(src, idx, id, token, Some(with))
    }

    fn rewrite_tokens(
        &mut self,
        src: &[u8],
        idx: &HeadIndex,
        id: usize,
        token: &[u8],
        with: Option<&[u8]>,
    ) -> Result<usize, EditError> {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        let mut hits = 0;
        let mut kept_non_empty = false;
        {
            let line = self.line(src, idx, id).ok_or(EditError::NoSuchLine)?;
            let voff = value_offset(line).unwrap_or(line.len());
            let value = line.get(voff..).unwrap_or(&[]);
            out.extend_from_slice(line.get(..voff).unwrap_or(&[]));
            // Kept elements are written with the separator that preceded them in the original,
            // except the first kept one which takes the place of the first element.
            let mut prev_end: Option<usize> = None;
            let mut wrote_any = false;
            let mut last_end = 0;
            for e in ElementSpans::new(value) {
                let text = value.get(e.start..e.end).unwrap_or(&[]);
                let sep = match prev_end {
                    Some(p) => value.get(p..e.start).unwrap_or(&[]),
                    None => &[],
                };
                prev_end = Some(e.end);
                last_end = e.end;
                let matched = !text.is_empty() && token_eq(text, token);
                let emitted: Option<&[u8]> = match (matched, with) {
                    (false, _) => Some(text),
                    (true, None) => None,
                    (true, Some(w)) => Some(w),
                };
                hits += usize::from(matched);
                if let Some(t) = emitted {
                    if wrote_any {
                        out.extend_from_slice(sep);
                    }
                    out.extend_from_slice(t);
                    wrote_any = true;
                    kept_non_empty |= !t.is_empty();
                }
            }
            // Trailing white space after the last element stays as it was.
            out.extend_from_slice(value.get(last_end..).unwrap_or(&[]));
        }
        let r = if hits == 0 {
            Ok(0)
        } else if kept_non_empty {
            self.replace(id, &out).map(|()| hits)
        } else {
            self.delete(id).map(|()| hits)
        };
        self.spare = out;
        r
    }

    /// Writes the edited head (start line, live header lines, added lines, final empty line)
    /// at the end of `out`. Leading empty lines before the start line are not written. Runs of
    /// unedited lines are copied with one `extend_from_slice` each; an unedited head is one copy.
    pub fn write(&self, src: &[u8], idx: &HeadIndex, out: &mut Vec<u8>) {
        let headers = idx.headers();
        let crlf: &[u8] = b"\r\n";
        // Pending run of original bytes to copy, as [start, end) in `src`.
        let sl = idx.start_line();
        let sl_eol_end = sl.end as usize + idx.start_line_eol_len();
        let mut run: Option<(usize, usize)> = None;
        match self.start_line {
            None => run = Some((sl.start as usize, sl_eol_end)),
            Some((s, e)) => {
                out.extend_from_slice(self.scratch_text(s, e));
                out.extend_from_slice(src.get(sl.end as usize..sl_eol_end).unwrap_or(crlf));
            }
        }
        let flush = |run: &mut Option<(usize, usize)>, out: &mut Vec<u8>| {
            if let Some((s, e)) = run.take() {
                out.extend_from_slice(src.get(s..e).unwrap_or(&[]));
            }
        };
        for (id, op) in self.ops.iter().take(self.len).enumerate() {
            let orig = headers.get(id);
            match (*op, orig) {
                (LineOp::Keep, Some(h)) => {
                    let r = h.line_with_eol();
                    run = match run {
                        Some((s, e)) if e == r.start as usize => Some((s, r.end as usize)),
                        other => {
                            let mut other = other;
                            flush(&mut other, out);
                            Some((r.start as usize, r.end as usize))
                        }
                    };
                }
                (LineOp::Keep, None) | (LineOp::Delete, _) => flush(&mut run, out),
                (LineOp::Replace { start, end }, orig) => {
                    flush(&mut run, out);
                    out.extend_from_slice(self.scratch_text(start, end));
                    match orig {
                        Some(h) => {
                            let eol = Span {
                                start: h.line().end,
                                end: h.line_with_eol().end,
                            };
                            out.extend_from_slice(eol.get(src));
                        }
                        None => out.extend_from_slice(crlf),
                    }
                }
            }
        }
        // The final empty line, with the line ending the input used.
        let last_end = headers
            .last()
            .map_or(sl_eol_end, |h| h.line_with_eol().end as usize);
        let fin = (last_end, idx.head_end());
        run = match run {
            Some((s, e)) if e == fin.0 => Some((s, fin.1)),
            other => {
                let mut other = other;
                flush(&mut other, out);
                Some(fin)
            }
        };
        flush(&mut run, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::head::{free_line_tables, Parse, ParseOptions};

    fn parsed(src: &[u8]) -> HeadIndex {
        let mut idx = HeadIndex::new();
        assert_eq!(
            idx.parse_request(src, &ParseOptions::default()),
            Parse::Complete
        );
        idx
    }

    fn written(ed: &HeadEdit, src: &[u8], idx: &HeadIndex) -> Vec<u8> {
        let mut out = b"prefix".to_vec();
        ed.write(src, idx, &mut out);
        out.split_off(6)
    }

    const REQ: &[u8] =
        b"GET /a HTTP/1.1\r\nhOsT:  x  \r\nConnection: Keep-Alive, TE\nAccept: */*\r\n\r\nBODY";

    #[test]
    fn unedited_head_is_byte_identical() {
        let idx = parsed(REQ);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        assert!(ed.is_unedited());
        assert_eq!(written(&ed, REQ, &idx), &REQ[..REQ.len() - 4]);
    }

    #[test]
    fn leading_empty_lines_are_dropped() {
        let src = b"\r\n\nGET / HTTP/1.0\n\n";
        let idx = parsed(src);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        assert_eq!(written(&ed, src, &idx), b"GET / HTTP/1.0\n\n");
    }

    #[test]
    fn delete_replace_append_keep_other_bytes() {
        let idx = parsed(REQ);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        ed.delete(2).unwrap();
        ed.replace(0, b"Host: y").unwrap();
        let id = ed.append(b"X-Forwarded-For: 10.0.0.1").unwrap();
        assert_eq!(id, 3);
        ed.replace_start_line(b"GET /b HTTP/1.1");
        assert_eq!(
            written(&ed, REQ, &idx),
            &b"GET /b HTTP/1.1\r\nHost: y\r\nConnection: Keep-Alive, TE\nX-Forwarded-For: 10.0.0.1\r\n\r\n"[..]
        );
        assert_eq!(ed.live_lines(), 3);
        assert_eq!(ed.delete(2), Err(EditError::NoSuchLine));
        assert_eq!(ed.replace(9, b"x"), Err(EditError::NoSuchLine));
    }

    #[test]
    fn later_rules_see_earlier_results() {
        let idx = parsed(REQ);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        ed.replace_with(REQ, &idx, 2, |cur, out| {
            out.extend_from_slice(cur);
            out.extend_from_slice(b"; q=1");
        })
        .unwrap();
        assert_eq!(ed.line(REQ, &idx, 2), Some(&b"Accept: */*; q=1"[..]));
        ed.append(b"X-A: 1").unwrap();
        let found: Vec<_> = ed.find(REQ, &idx, b"x-a").collect();
        assert_eq!(found, vec![(3, &b"1"[..])]);
        let lines: Vec<_> = ed.lines(REQ, &idx).map(|(id, _)| id).collect();
        assert_eq!(lines, vec![0, 1, 2, 3]);
        ed.replace_start_line_with(REQ, &idx, |cur, out| {
            out.extend_from_slice(cur);
            out.extend_from_slice(b"X");
        });
        assert_eq!(ed.start_line(REQ, &idx), b"GET /a HTTP/1.1X");
    }

    #[test]
    fn remove_and_replace_tokens() {
        let src = b"GET / HTTP/1.1\r\nConnection: Upgrade ,  keep-alive\t\r\nConnection: keep-alive\r\nC: a, b, c\r\n\r\n";
        let idx = parsed(src);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        assert_eq!(ed.remove_token(src, &idx, 0, b"KEEP-ALIVE"), Ok(1));
        assert_eq!(ed.line(src, &idx, 0), Some(&b"Connection: Upgrade\t"[..]));
        // Only value: the line goes away, as with 1.4's http_remove_header2().
        assert_eq!(ed.remove_token(src, &idx, 1, b"keep-alive"), Ok(1));
        assert_eq!(ed.line(src, &idx, 1), None);
        assert_eq!(ed.remove_token(src, &idx, 2, b"a"), Ok(1));
        assert_eq!(ed.line(src, &idx, 2), Some(&b"C: b, c"[..]));
        assert_eq!(ed.remove_token(src, &idx, 2, b"c"), Ok(1));
        assert_eq!(ed.line(src, &idx, 2), Some(&b"C: b"[..]));
        assert_eq!(ed.remove_token(src, &idx, 2, b"zz"), Ok(0));
        assert_eq!(ed.replace_token(src, &idx, 0, b"upgrade", b"close"), Ok(1));
        assert_eq!(
            written(&ed, src, &idx),
            &b"GET / HTTP/1.1\r\nConnection: close\t\r\nC: b\r\n\r\n"[..]
        );
        assert_eq!(
            ed.remove_token(src, &idx, 1, b"x"),
            Err(EditError::NoSuchLine)
        );
    }

    #[test]
    fn middle_token_removal_keeps_separators() {
        let src = b"GET / HTTP/1.1\r\nC: a, b, c\r\nD: x,x, y\r\n\r\n";
        let idx = parsed(src);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        assert_eq!(ed.remove_token(src, &idx, 0, b"b"), Ok(1));
        assert_eq!(ed.line(src, &idx, 0), Some(&b"C: a, c"[..]));
        assert_eq!(ed.remove_token(src, &idx, 1, b"x"), Ok(2));
        assert_eq!(ed.line(src, &idx, 1), Some(&b"D: y"[..]));
    }

    #[test]
    fn header_limit_counts_added_and_deleted_lines() {
        let mut src = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..MAX_HEADERS - 1 {
            src.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        src.extend_from_slice(b"\r\n");
        let idx = parsed(&src);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        assert!(ed.append(b"X-Last: 1").is_ok());
        assert_eq!(ed.append(b"X-More: 1"), Err(EditError::TooManyHeaders));
        ed.delete(0).unwrap();
        assert!(ed.append(b"X-More: 1").is_ok());
        let mut out = Vec::new();
        ed.write(&src, &idx, &mut out);
        let mut again = HeadIndex::new();
        assert_eq!(
            again.parse_request(&out, &ParseOptions::default()),
            Parse::Complete
        );
        assert_eq!(again.headers().len(), MAX_HEADERS);
    }

    #[test]
    fn released_index_and_edit_work_again_with_tables_from_the_free_list() {
        let mut idx = parsed(REQ);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        ed.append(b"X: 1").unwrap();
        idx.release();
        ed.release();
        assert!(idx.headers().is_empty());
        let (lines, ops) = (free_line_tables(), OP_TABLES.with(|l| l.len()));
        assert!(
            lines >= 1 && ops >= 1,
            "tables not given back: {lines} {ops}"
        );
        // Parsing and editing again take the tables back and behave as new.
        assert_eq!(
            idx.parse_request(REQ, &ParseOptions::default()),
            Parse::Complete
        );
        assert_eq!(free_line_tables(), lines - 1);
        ed.reset(&idx);
        assert_eq!(OP_TABLES.with(|l| l.len()), ops - 1);
        assert!(ed.is_unedited());
        ed.append(b"Y: 2").unwrap();
        assert_eq!(
            written(&ed, REQ, &idx),
            b"GET /a HTTP/1.1\r\nhOsT:  x  \r\nConnection: Keep-Alive, TE\nAccept: */*\r\nY: 2\r\n\r\n"
        );
    }

    #[test]
    fn reset_reuses_buffers() {
        let idx = parsed(REQ);
        let mut ed = HeadEdit::new();
        ed.reset(&idx);
        ed.append(b"X: 1").unwrap();
        ed.reset(&idx);
        assert!(ed.is_unedited());
        assert_eq!(ed.line_slots(), 3);
        assert_eq!(written(&ed, REQ, &idx), &REQ[..REQ.len() - 4]);
    }
}
