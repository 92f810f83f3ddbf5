//! The failures of the protocol: [`ApiError`], its [`ErrorKind`] with the vendor code and the
//! zh/en words, and the [`Language`] of messages. They live in the `apierror` crate so that every
//! device crate can implement `From<its error> for ApiError` without depending on `api`; they are
//! re-exported here at their usual paths.

pub use apierror::*;
