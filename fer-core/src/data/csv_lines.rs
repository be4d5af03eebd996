//! Line numbers of CSV records, counted by us rather than by the csv crate.
//!
//! The csv crate's `Position::line` is one line early after CRLF terminators
//! (BurntSushi/rust-csv#395, open), so error messages for a `fer2013.csv` saved on Windows
//! would name the wrong line. Its `Position::byte` (where a record starts) is right, so
//! [`LineCounting`] sits between the file and the csv reader, notes where every line starts in
//! the bytes it passes on, and turns a record's byte offset into the line an editor shows.
//! It also drops a leading UTF-8 byte order mark, which the csv crate would otherwise keep as
//! part of the first header name.

use std::collections::VecDeque;
use std::io::{self, Read};

/// The UTF-8 byte order mark some editors write at the start of a file.
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A reader that counts lines in what it passes on. A line ends at `\n`, at `\r\n` (one
/// terminator, not two) or at a lone `\r`, as the csv crate's default terminator does.
///
/// The csv crate puts a record's start after the previous record's terminator, before any
/// blank lines it skipped, so [`LineCounting::line_of`] answers with the first line that is
/// not blank from there. Queries must come in increasing byte order (records are read in
/// order); that lets it keep only the lines read ahead but not yet asked about, so its memory
/// stays bounded by the csv reader's buffer, whatever the file's size.
pub(crate) struct LineCounting<R> {
    inner: R,
    /// Bytes passed on so far.
    offset: u64,
    /// The last byte passed on was a `\r`: the next decides whether it ended a line.
    pending_cr: bool,
    /// Lines started so far (the first starts at byte 0).
    lines: u64,
    /// The start of the newest line, until its first byte shows whether it is blank.
    awaiting: Option<u64>,
    /// (start offset, 1-based number) of the lines that are not blank and were not yet passed
    /// by a query, in increasing order.
    starts: VecDeque<(u64, u64)>,
    /// Whether the start of the input has been checked for a byte order mark.
    bom_checked: bool,
    /// The first bytes of the input, read to look for a byte order mark and not one.
    head: Vec<u8>,
}

impl<R: Read> LineCounting<R> {
    /// Wraps `inner`; the first line starts at byte 0.
    pub(crate) fn new(inner: R) -> Self {
        LineCounting {
            inner,
            offset: 0,
            pending_cr: false,
            lines: 1,
            awaiting: Some(0),
            starts: VecDeque::new(),
            bom_checked: false,
            head: Vec::new(),
        }
    }

    /// The 1-based line of a record starting at byte `offset` of what was passed on (its
    /// `Position::byte`): the first line from there that is not blank. Offsets must not
    /// decrease from one call to the next.
    pub(crate) fn line_of(&mut self, offset: u64) -> u64 {
        while self
            .starts
            .front()
            .is_some_and(|&(start, _)| start < offset)
        {
            self.starts.pop_front();
        }
        self.starts.front().map_or(self.lines, |&(_, line)| line)
    }

    /// Reads the first bytes into `head`, unless they are a byte order mark.
    fn check_bom(&mut self) -> io::Result<()> {
        self.bom_checked = true;
        let mut head = [0u8; UTF8_BOM.len()];
        let mut filled = 0;
        while filled < head.len() {
            match self.inner.read(&mut head[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if head[..filled] != UTF8_BOM {
            // Not a mark: these bytes are data and go first.
            self.head = head[..filled].to_vec();
        }
        Ok(())
    }

    fn start_line(&mut self, at: u64) {
        self.lines += 1;
        self.awaiting = Some(at);
    }

    /// Notes the lines in `bytes`, the next ones passed on.
    fn scan(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let at = self.offset + i as u64;
            if std::mem::take(&mut self.pending_cr) && b != b'\n' {
                self.start_line(at);
            }
            if let Some(start) = self.awaiting.take() {
                if b != b'\n' && b != b'\r' {
                    self.starts.push_back((start, self.lines));
                }
            }
            match b {
                b'\n' => self.start_line(at + 1),
                b'\r' => self.pending_cr = true,
                _ => {}
            }
        }
        self.offset += bytes.len() as u64;
    }
}

impl<R: Read> Read for LineCounting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.bom_checked {
            self.check_bom()?;
        }
        let n = if self.head.is_empty() {
            self.inner.read(buf)?
        } else {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head.drain(..n);
            n
        };
        self.scan(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `input` through the counter in chunks of `chunk` bytes (so terminators split
    /// across reads are covered); returns what was passed on and the line of each offset.
    fn count(input: &[u8], chunk: usize, offsets: &[u64]) -> (Vec<u8>, Vec<u64>) {
        let mut counter = LineCounting::new(input);
        let mut out = Vec::new();
        let mut buf = vec![0u8; chunk];
        loop {
            let n = counter.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let lines = offsets.iter().map(|&o| counter.line_of(o)).collect();
        (out, lines)
    }

    #[test]
    fn lf_crlf_lone_cr_and_a_mix_count_like_an_editor() {
        // Lines start at bytes 0, 2, 5, 7 and 9 in each input (a=line 1 ... e=line 5).
        for input in [
            &b"a\nbb\nc\nd\ne"[..],
            b"a\nb\r\nc\rd\ne",
            b"a\rb\r\nc\nd\re",
        ] {
            for chunk in [1, 2, 3, 64] {
                let (out, lines) = count(input, chunk, &[0, 2, 5, 7, 9]);
                assert_eq!(out, input);
                assert_eq!(lines, [1, 2, 3, 4, 5], "{input:?} in chunks of {chunk}");
            }
        }
        // CRLF throughout: each CRLF ends one line, not two.
        let (_, lines) = count(b"h\r\nx\r\ny\r\n", 1, &[0, 3, 6]);
        assert_eq!(lines, [1, 2, 3]);
    }

    #[test]
    fn a_record_after_blank_lines_is_on_the_first_line_that_is_not_blank() {
        // h (line 1), blank LF line 2, blank CRLF line 3, x (4), blank CR line 5, y (6); the
        // csv crate starts the record of x at byte 2, where the blank lines begin.
        for chunk in [1, 2, 64] {
            let (_, lines) = count(b"h\n\n\r\nx\r\ry", chunk, &[0, 2, 7]);
            assert_eq!(lines, [1, 4, 6], "chunks of {chunk}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_dropped_and_nothing_else() {
        let (out, lines) = count(b"\xEF\xBB\xBFab\r\nc", 1, &[0, 4]);
        assert_eq!(out, b"ab\r\nc");
        assert_eq!(lines, [1, 2]);
        for input in [&b""[..], b"\xEF", b"\xEF\xBB", b"\xEF\xBBx", b"xy"] {
            assert_eq!(count(input, 2, &[]).0, input);
        }
    }
}
