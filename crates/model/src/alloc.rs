//! The global allocator for native programs that run the network: jemalloc, configured for the
//! network's activations (feature `jemalloc`, on by default; not in wasm). A binary opts in with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: adamm_model::alloc::Jemalloc = adamm_model::alloc::Jemalloc;
//! ```
//!
//! (a library cannot choose for its users: tests that count allocations bring their own).
//!
//! A paper-network forward on a 128³ window allocates and frees tensors of up to 134 MB
//! (16 channels × 128³ × 4 bytes) dozens of times. With the system allocator each of them is a
//! fresh `mmap`: faulted in and zeroed 4 KiB page by page, then unmapped — about a fifth of the
//! forward's time went to the kernel's page-fault path. jemalloc with transparent huge pages
//! (`thp:always`) and without decay (freed pages are kept and reused, never returned to the
//! system) removes it: `cargo bench -p adamm-model --bench forward -- paper/flex/full` went
//! from 3.8 s to 2.4 s on the 2-core development machine. The price is that a process keeps
//! the peak of its heap until it exits — and, measured over a training run, more than the peak:
//! without decay, jemalloc kept taking fresh pages for the iterations' tensors instead of the
//! freed ones (a light-preset run grew by about 140 MB per iteration until the system killed it
//! at 24 GB; with a 1 s decay it stayed flat at 5 GB, but an iteration took 1.6 s instead of
//! 0.9 s). Long-running loops therefore call [`release_freed_memory`] every so often (the
//! trainer every [`RELEASE_EVERY_ITERATIONS`] iterations): memory stays bounded and only the
//! iteration after a release pays for faulting its pages in again.
//! `_RJEM_MALLOC_CONF` in the environment overrides these settings.

/// jemalloc's compiled-in options (read at its initialisation), as a C string pointer.
#[repr(transparent)]
pub struct MallocConf(*const std::ffi::c_char);

// SAFETY: the pointer is to a static, immutable C string.
unsafe impl Sync for MallocConf {}

/// The options: huge pages for every extent, no decay of dirty or muzzy pages.
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: MallocConf =
    MallocConf(c"thp:always,dirty_decay_ms:-1,muzzy_decay_ms:-1".as_ptr());

/// jemalloc, as the global allocator of a binary (see the module documentation).
pub use tikv_jemallocator::Jemalloc;

/// How often (in training iterations) the trainer's binary returns freed memory to the system.
pub const RELEASE_EVERY_ITERATIONS: usize = 20;

/// Returns the pages of freed memory that jemalloc holds in every arena to the system (its
/// `arena.<all>.purge` control). Memory still in use is untouched; the next allocations fault
/// their pages in again. Returns whether jemalloc accepted the request.
pub fn release_freed_memory() -> bool {
    /// jemalloc's `MALLCTL_ARENAS_ALL`: the control applies to every arena.
    const PURGE_ALL_ARENAS: &std::ffi::CStr = c"arena.4096.purge";
    // SAFETY: the name is a NUL-terminated static string, and the purge control takes neither
    // an old nor a new value (null pointers and zero length, as jemalloc requires).
    let status = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE_ALL_ARENAS.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    status == 0
}
