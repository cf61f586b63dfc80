//! Task parallelism: rayon natively, a plain loop in wasm (one thread there).

/// A raw pointer that tasks share to write disjoint parts of one buffer.
///
/// Each user states why the parts its tasks write are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub(crate) *mut f32);

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Send + Sync` wrapper).
    pub(crate) fn get(&self) -> *mut f32 {
        self.0
    }
}

// SAFETY: the pointer is only dereferenced by tasks that write disjoint elements of a buffer
// that outlives them (see each use).
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

/// Runs `task(scratch, i)` for every `i` in `0..tasks`, in parallel where threads exist; each
/// thread owns one zeroed scratch buffer of `scratch_len` values, reused across its tasks.
pub(crate) fn for_each_with_scratch<F>(tasks: usize, scratch_len: usize, task: F)
where
    F: Fn(&mut [f32], usize) + Send + Sync,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..tasks)
            .into_par_iter()
            .for_each_init(|| vec![0.0f32; scratch_len], |scratch, i| task(scratch, i));
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut scratch = vec![0.0f32; scratch_len];
        for i in 0..tasks {
            task(&mut scratch, i);
        }
    }
}

/// Splits `0..tasks` into one contiguous range per thread, runs `task(accumulator, i)` over each
/// range with a zeroed accumulator of `len` values, and returns the sum of the accumulators.
/// The ranges and the order of the final sum depend only on `tasks` and the thread count.
pub(crate) fn sum_over_tasks<F>(tasks: usize, len: usize, task: F) -> Vec<f32>
where
    F: Fn(&mut [f32], usize) + Send + Sync,
{
    let run = |range: std::ops::Range<usize>| {
        let mut acc = vec![0.0f32; len];
        for i in range {
            task(&mut acc, i);
        }
        acc
    };
    let parts = threads().clamp(1, tasks.max(1));
    let range = |p: usize| (p * tasks / parts)..((p + 1) * tasks / parts);
    #[cfg(not(target_arch = "wasm32"))]
    let accumulators: Vec<Vec<f32>> = {
        use rayon::prelude::*;
        (0..parts).into_par_iter().map(|p| run(range(p))).collect()
    };
    #[cfg(target_arch = "wasm32")]
    let accumulators: Vec<Vec<f32>> = (0..parts).map(|p| run(range(p))).collect();
    let mut iter = accumulators.into_iter();
    let mut total = iter.next().unwrap_or_else(|| vec![0.0; len]);
    for acc in iter {
        for (t, a) in total.iter_mut().zip(acc) {
            *t += a;
        }
    }
    total
}

/// Threads available to the tasks.
pub(crate) fn threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::current_num_threads()
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// Runs `task(i, chunk)` over the consecutive `chunk_len`-value chunks of `buf`, in parallel
/// where threads exist.
pub(crate) fn for_each_chunk_mut<F>(buf: &mut [f32], chunk_len: usize, task: F)
where
    F: Fn(usize, &mut [f32]) + Send + Sync,
{
    if chunk_len == 0 {
        return;
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        buf.par_chunks_mut(chunk_len)
            .enumerate()
            .for_each(|(i, chunk)| task(i, chunk));
    }
    #[cfg(target_arch = "wasm32")]
    {
        for (i, chunk) in buf.chunks_mut(chunk_len).enumerate() {
            task(i, chunk);
        }
    }
}
