//! art_metrics_core: the metrics and cost tracking of ART, in Rust alone.
//!
//! `metrics` holds the builder's rules, `history` a run's rows and files, `pricing` what
//! API calls and GPUs cost. This crate does not depend on PyO3 (`cargo tree -p
//! art_metrics_core` shows none): the `art_metrics` crate at the repository's root converts
//! Python values and errors for the `art_metrics._core` extension module, and decides nothing.

pub mod error;
pub mod fork;
pub mod history;
pub mod metrics;
pub mod notices;
pub mod pricing;

pub use error::{CoreError, CoreResult};
