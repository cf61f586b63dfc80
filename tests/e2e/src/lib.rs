//! End-to-end tests of the AdaMM browser app: see `tests/app.rs`. The library is empty; the
//! package exists for its test, which `cargo xtask test` runs after the Trunk build.
