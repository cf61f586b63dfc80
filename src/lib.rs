//! The AdaMM browser app's logic, shared by the page (`src/main.rs`, `src/page/`) and the
//! segmentation worker (`src/bin/worker/`). Everything here but [`protocol`]'s JavaScript
//! forms is free of the DOM and unit-tested natively. The model (Burn) is linked into the
//! worker only, keeping the page's own wasm small.

pub mod backend;
pub mod case;
pub mod describe;
pub mod outcome;
pub mod pool;
pub mod protocol;
pub mod session;
pub mod teaching;
