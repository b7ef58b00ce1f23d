//! Connection buffers, held only while bytes are in flight.
//!
//! HAProxy 1.4 gave every session two `bufsize` buffers for its whole life (10.8 KB per idle
//! connection); 2.6 takes them from a pool only when data arrives (~1.1 KB per idle
//! connection). We do as 2.6: a stream waits for readiness without a buffer, takes one from
//! this worker's pool, and gives it back as soon as it is drained.
//!
//! Each worker thread runs its own single-threaded runtime, so the pool is thread-local and
//! needs no lock. Buffers freed on another thread simply join that thread's pool.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::thread::LocalKey;

/// Default `tune.bufsize`.
pub const DEFAULT_BUFSIZE: usize = 16384;
/// Default `tune.maxrewrite` as the data path uses it: room kept free for header edits.
pub const DEFAULT_MAXREWRITE: usize = 1024;
/// Free buffers kept per thread; beyond this they go back to the allocator so a burst does
/// not pin memory forever.
const POOL_KEEP: usize = 256;

thread_local! {
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A pooled byte buffer with a fill level. Data lives in `[start, end)`.
pub struct Buf {
    mem: Box<[u8]>,
    pub start: usize,
    pub end: usize,
}

impl Buf {
    /// Takes a buffer of `size` bytes from this thread's pool (or allocates one).
    pub fn take(size: usize) -> Buf {
        let mem = POOL
            .with(|p| {
                let mut p = p.borrow_mut();
                p.iter()
                    .rposition(|b| b.len() == size)
                    .map(|i| p.swap_remove(i))
            })
            .unwrap_or_else(|| vec![0u8; size].into_boxed_slice());
        Buf {
            mem,
            start: 0,
            end: 0,
        }
    }

    /// Bytes waiting to be consumed.
    pub fn data(&self) -> &[u8] {
        &self.mem[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn capacity(&self) -> usize {
        self.mem.len()
    }

    /// Marks `n` bytes as consumed; resets to the front when empty so reads get full room.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves pending data to the front to make room at the end.
    pub fn compact(&mut self) {
        if self.start > 0 {
            self.mem.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Free room after the data (compacting first when that helps).
    pub fn space(&mut self) -> &mut [u8] {
        if self.end == self.mem.len() {
            self.compact();
        }
        &mut self.mem[self.end..]
    }

    /// Records that `n` bytes were written into `space()`.
    pub fn fill(&mut self, n: usize) {
        self.end = (self.end + n).min(self.mem.len());
    }

    /// Appends bytes if they fit; returns false (and appends nothing) otherwise.
    pub fn push(&mut self, bytes: &[u8]) -> bool {
        if self.mem.len() - self.end < bytes.len() {
            self.compact();
        }
        if self.mem.len() - self.end < bytes.len() {
            return false;
        }
        self.mem[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
        true
    }

    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Gives the memory back to the pool now, for an owner that keeps the `Buf` but will not
    /// use it again (a connection turned into a tunnel moves its bytes with buffers of its
    /// own). What was buffered is dropped; a released buffer has no room (`space()` is
    /// empty), so it must not be read into again.
    pub fn release(&mut self) {
        self.clear();
        let mem = std::mem::take(&mut self.mem);
        give_back(mem);
    }
}

/// Puts memory back in this thread's pool (or frees it when the pool is full).
fn give_back(mem: Box<[u8]>) {
    if mem.is_empty() {
        return;
    }
    // try_with: during thread teardown the pool may already be gone; then just free.
    let _ = POOL.try_with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_KEEP {
            p.push(mem);
        }
    });
}

impl Drop for Buf {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.mem));
    }
}

impl Deref for Buf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data()
    }
}

impl DerefMut for Buf {
    fn deref_mut(&mut self) -> &mut [u8] {
        let (s, e) = (self.start, self.end);
        &mut self.mem[s..e]
    }
}

/// A per-thread free list for the large pieces a transaction reuses (header tables,
/// output buffers): owners that let go of one for long (a connection turned into a tunnel)
/// put it here, and the next transaction on the thread takes it back instead of
/// allocating. Declare one per type in a `thread_local!` and use it through
/// [`FreeList::take_local`] and [`FreeList::give_local`].
pub struct FreeList<T> {
    items: RefCell<Vec<T>>,
    /// Items kept at most; more are freed.
    keep: usize,
}

impl<T: 'static> FreeList<T> {
    pub const fn new(keep: usize) -> Self {
        FreeList {
            items: RefCell::new(Vec::new()),
            keep,
        }
    }

    pub fn take(&self) -> Option<T> {
        self.items.borrow_mut().pop()
    }

    /// Keeps `item` unless the list is full (then it is freed).
    pub fn give(&self, item: T) {
        let mut items = self.items.borrow_mut();
        if items.len() < self.keep {
            items.push(item);
        }
    }

    /// Takes an item from this thread's `list`, if one waits.
    pub fn take_local(list: &'static LocalKey<FreeList<T>>) -> Option<T> {
        list.with(FreeList::take)
    }

    /// Gives `item` to this thread's `list`. During thread teardown the list may be gone;
    /// the item is then freed.
    pub fn give_local(list: &'static LocalKey<FreeList<T>>, item: T) {
        let _ = list.try_with(|l| l.give(item));
    }

    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Number of free buffers in this thread's pool (for stats and tests).
pub fn pooled() -> usize {
    POOL.with(|p| p.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_tracks_data() {
        let before = pooled();
        {
            let mut b = Buf::take(64);
            assert!(b.is_empty());
            b.space()[..5].copy_from_slice(b"hello");
            b.fill(5);
            assert_eq!(b.data(), b"hello");
            b.consume(2);
            assert_eq!(b.data(), b"llo");
            assert!(b.push(b"!"));
            assert_eq!(b.data(), b"llo!");
            b.consume(10);
            assert!(b.is_empty());
            assert_eq!(b.space().len(), 64);
        }
        assert_eq!(pooled(), before + 1);
        let b = Buf::take(64);
        assert_eq!(pooled(), before);
        assert_eq!(b.capacity(), 64);
    }

    #[test]
    fn a_released_buffer_is_back_in_the_pool_and_its_drop_adds_nothing() {
        let before = pooled();
        let mut b = Buf::take(64);
        assert!(b.push(b"abc"));
        b.release();
        assert_eq!(pooled(), before + 1);
        assert!(b.is_empty());
        assert_eq!(b.capacity(), 0);
        assert!(b.space().is_empty());
        drop(b);
        assert_eq!(pooled(), before + 1);
    }

    #[test]
    fn a_free_list_keeps_at_most_its_limit() {
        let l: FreeList<Vec<u8>> = FreeList::new(2);
        assert!(l.take().is_none());
        for i in 0..3u8 {
            l.give(vec![i]);
        }
        assert_eq!(l.len(), 2);
        assert_eq!(l.take(), Some(vec![1]));
        assert_eq!(l.take(), Some(vec![0]));
        assert!(l.is_empty());
    }

    #[test]
    fn push_compacts_and_refuses_overflow() {
        let mut b = Buf::take(8);
        assert!(b.push(b"abcdef"));
        b.consume(4);
        assert!(b.push(b"ghijkl"));
        assert_eq!(b.data(), b"efghijkl");
        assert!(!b.push(b"x"));
        assert_eq!(b.data(), b"efghijkl");
    }
}
