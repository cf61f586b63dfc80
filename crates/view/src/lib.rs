//! Pictures of a segmented case, for the browser app and the CLI alike (pure logic, no DOM):
//! - [`planes`]: the three orthogonal views on the canonical RAS grid, the crosshair, the
//!   label overlay, outlines and RANO calipers, drawn as RGBA pixels;
//! - [`intensity`]: the intensity window an underlay is drawn in;
//! - [`camera`]: the orbiting camera of the 3-D view, its matrices and picking;
//! - [`raster`]: a software renderer of the surfaces through that camera, for reports and for
//!   browsers without WebGL2.

pub mod camera;
pub mod intensity;
pub mod planes;
pub mod raster;
