//! art_metrics: the metrics and cost tracking of ART, with a pure-Rust core.
//!
//! `metrics` holds the builder's rules, `history` a run's rows and files, `pricing` what
//! API calls and GPUs cost. None of them knows about Python: `py` converts types and errors
//! for the `art_metrics._core` extension module.

pub mod error;
pub mod fork;
pub mod history;
pub mod metrics;
pub mod notices;
pub mod pricing;

mod py;

pub use error::{CoreError, CoreResult};
