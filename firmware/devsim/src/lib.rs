//! Simulated devices that speak the real protocols, for `--sim` and the tests.
//!
//! - [`camera`]: simulated cameras (real GStreamer sources behind the camera crate's pipelines):
//!   a document camera showing a page on a mat, portrait and infrared cameras.
//! - [`sam`]: a SAM ID card module answering the GA 467 frames on a pseudo-terminal (reached
//!   through the real serial-port reader).
//! - [`smartcards`]: a social security card and a PBOC bank card answering their APDUs, as an
//!   in-process smart card reader backend, or through vsmartcard's vpcd to a real pcscd
//!   (the `devsim vpcd` program).
//! - [`stripe`]: a magnetic stripe reader that answers each call with a swipe.
//!
//! The daemon links this crate only with its `sim` feature (on by default for development
//! builds; a firmware image may leave it out).

pub mod camera;
pub mod pen;
pub mod sam;
pub mod smartcards;
pub mod stripe;
