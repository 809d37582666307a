//! The one switch between the rayon pool and the calling thread that the per-row and
//! per-pixel passes share ([`FillOptions::parallel`](crate::FillOptions::parallel)).

use rayon::prelude::*;

/// Runs `f(index, chunk)` over `buf` cut into chunks of `len` (the last may be shorter), on
/// the rayon pool when `parallel`, else in order on the calling thread. Chunks never
/// overlap, so the result is the same either way.
pub(crate) fn for_chunks<T, F>(buf: &mut [T], len: usize, parallel: bool, f: F)
where
    T: Send,
    F: Fn(usize, &mut [T]) + Send + Sync,
{
    if parallel {
        buf.par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        buf.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}
