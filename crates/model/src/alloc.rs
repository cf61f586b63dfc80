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
//! the peak of its heap until it exits, which is what the CLI and the trainer reach anyway.
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
