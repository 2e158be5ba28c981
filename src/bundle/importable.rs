//! What a transport needs of a staged bundle, whichever stage made it: the in-memory one
//! ([`Prepared`], for `push` and `verify --repair`) or the one on disk ([`Staged`], for `sync`).

use std::io;
use std::ops::ControlFlow;

use super::staged::{Staged, StagedChunk};
use super::{BundleError, ChunkPlan, Limits, Prepared};

pub(crate) trait Importable {
    type Chunk: Chunk;

    /// Distinct objects: what OpenCTI has to import.
    fn objects(&self) -> usize;

    /// Self-contained chunks within `limits`; the inner error is a limit the bundle cannot be
    /// cut to, the outer one a failure to read the stage's files.
    fn plan(&self, limits: &Limits) -> io::Result<Result<Vec<Self::Chunk>, BundleError>>;

    /// Appends `chunk` as a JSON string literal: exactly its `escaped_bytes()`.
    fn render_escaped_into(&self, chunk: &Self::Chunk, out: &mut Vec<u8>) -> io::Result<()>;

    /// Every object once, in dependency order; `f` may stop early.
    fn each_object(&self, f: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> io::Result<()>;
}

pub(crate) trait Chunk {
    fn objects(&self) -> usize;
    fn escaped_bytes(&self) -> usize;
}

impl Chunk for ChunkPlan {
    fn objects(&self) -> usize {
        self.len()
    }

    fn escaped_bytes(&self) -> usize {
        self.escaped_bytes
    }
}

impl Chunk for StagedChunk {
    fn objects(&self) -> usize {
        self.len()
    }

    fn escaped_bytes(&self) -> usize {
        self.escaped_bytes
    }
}

impl Importable for Prepared<'_> {
    type Chunk = ChunkPlan;

    fn objects(&self) -> usize {
        self.len()
    }

    fn plan(&self, limits: &Limits) -> io::Result<Result<Vec<ChunkPlan>, BundleError>> {
        Ok(self.chunks(limits))
    }

    fn render_escaped_into(&self, chunk: &ChunkPlan, out: &mut Vec<u8>) -> io::Result<()> {
        Prepared::render_escaped_into(self, chunk, out);
        Ok(())
    }

    fn each_object(&self, f: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> io::Result<()> {
        for o in Prepared::objects(self) {
            if f(o.raw.as_bytes()).is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl Importable for Staged {
    type Chunk = StagedChunk;

    fn objects(&self) -> usize {
        self.len()
    }

    fn plan(&self, limits: &Limits) -> io::Result<Result<Vec<StagedChunk>, BundleError>> {
        self.chunks(limits)
    }

    fn render_escaped_into(&self, chunk: &StagedChunk, out: &mut Vec<u8>) -> io::Result<()> {
        Staged::render_escaped_into(self, chunk, out)
    }

    fn each_object(&self, f: &mut dyn FnMut(&[u8]) -> ControlFlow<()>) -> io::Result<()> {
        self.for_each(f)
    }
}
