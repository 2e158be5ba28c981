//! What a unit placed in a chunk drags in: every object it references, transitively, that the
//! chunk lacks. Shared by both chunk planners (in memory, `closure.rs`; on disk,
//! `staged/pack.rs`), which differ only in how an object's references are read.

pub(super) struct Reach {
    /// Per object: 0 never placed, else the number (from 1) of the last chunk that holds it.
    chunk_of: Vec<u32>,
    /// The unit (from 1) whose closure last visited the object.
    visited_by: Vec<u32>,
    unit: u32,
    /// The closure of the last unit, and the search's stack.
    pub(super) closure: Vec<u32>,
    stack: Vec<u32>,
}

impl Reach {
    pub(super) fn new(objects: usize) -> Self {
        Reach {
            chunk_of: vec![0; objects],
            visited_by: vec![0; objects],
            unit: 0,
            closure: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// Whether `x` was ever placed in a chunk.
    pub(super) fn placed(&self, x: u32) -> bool {
        self.chunk_of[x as usize] != 0
    }

    /// Fills `closure` with what `roots` reach that chunk number `chunk` lacks. `visit(x, out)`
    /// pushes the objects `x` references onto `out` and returns `x`'s escaped size; the sum
    /// (plus a comma each) comes back.
    pub(super) fn close(
        &mut self,
        chunk: u32,
        roots: &[u32],
        mut visit: impl FnMut(usize, &mut Vec<u32>) -> usize,
    ) -> usize {
        self.unit += 1;
        let unit = self.unit;
        self.closure.clear();
        self.stack.clear();
        self.stack.extend_from_slice(roots);
        let mut escaped = 0;
        while let Some(x) = self.stack.pop() {
            let x = x as usize;
            if self.chunk_of[x] == chunk || self.visited_by[x] == unit {
                continue;
            }
            self.visited_by[x] = unit;
            self.closure.push(x as u32);
            escaped += visit(x, &mut self.stack) + 1;
        }
        escaped
    }

    /// The last closure is in chunk number `chunk` now.
    pub(super) fn place(&mut self, chunk: u32) {
        for &x in &self.closure {
            self.chunk_of[x as usize] = chunk;
        }
    }
}
