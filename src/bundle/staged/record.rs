//! The index file: one record per object of the answer, in input order, written while the
//! object is validated and read back in whole passes. It holds what the stage needs of every
//! object, so that memory holds it only for the objects others reference.
//!
//! Layout (little endian): offset `u64` (where the text starts in the spool), raw length
//! `u32`, escaped length `u32`, id key `u128`, reference count `u32`, then one `u32` per
//! reference: the slot of the referenced id (see `ingest::Slots`).

use std::io::{self, Write};

use super::window::Window;

pub(super) const HEAD: usize = 8 + 4 + 4 + 16 + 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    pub(super) at: u64,
    pub(super) raw_len: u32,
    pub(super) escaped_len: u32,
    pub(super) key: u128,
    pub(super) refs: u32,
}

impl Head {
    pub(super) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut b = [0u8; HEAD];
        b[0..8].copy_from_slice(&self.at.to_le_bytes());
        b[8..12].copy_from_slice(&self.raw_len.to_le_bytes());
        b[12..16].copy_from_slice(&self.escaped_len.to_le_bytes());
        b[16..32].copy_from_slice(&self.key.to_le_bytes());
        b[32..36].copy_from_slice(&self.refs.to_le_bytes());
        out.write_all(&b)
    }

    fn read(b: &[u8]) -> Head {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&b[0..8]);
        let mut key = [0u8; 16];
        key.copy_from_slice(&b[16..32]);
        Head {
            at: u64::from_le_bytes(at),
            raw_len: u32_at(8),
            escaped_len: u32_at(12),
            key: u128::from_le_bytes(key),
            refs: u32_at(32),
        }
    }

    /// Bytes of this record in the index file.
    pub(super) fn size(&self) -> u64 {
        Head::size_for(self.refs)
    }

    /// Bytes of a record with `refs` references.
    pub(super) fn size_for(refs: u32) -> u64 {
        HEAD as u64 + 4 * u64::from(refs)
    }
}

/// Walks the records from one position on, in order.
pub(super) struct Records<'f> {
    window: Window<'f>,
    /// Where the next record starts in the index file.
    pub(super) pos: u64,
    /// Its number (0-based, input order).
    pub(super) ordinal: u32,
    end: u64,
    refs: Vec<u32>,
}

impl<'f> Records<'f> {
    pub(super) fn new(file: &'f std::fs::File, pos: u64, ordinal: u32, end: u64) -> Self {
        Records {
            window: Window::new(file),
            pos,
            ordinal,
            end,
            refs: Vec::new(),
        }
    }

    /// The next record and its references (slots), with its ordinal; `None` at the end.
    pub(super) fn next(&mut self) -> io::Result<Option<(u32, Head, &[u32])>> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let head = Head::read(self.window.get(self.pos, HEAD)?);
        let bytes = self
            .window
            .get(self.pos + HEAD as u64, 4 * head.refs as usize)?;
        self.refs.clear();
        self.refs.extend(
            bytes
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        );
        let ordinal = self.ordinal;
        self.pos += head.size();
        self.ordinal += 1;
        Ok(Some((ordinal, head, &self.refs)))
    }
}
