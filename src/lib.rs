//! art_metrics: the metrics and cost tracking of ART, with a pure-Rust core.
//!
//! The core modules know nothing of Python; `py` converts types and errors for the
//! `art_metrics._core` extension module.

pub mod buffer;
pub mod derive;
pub mod error;
pub mod gpu;
pub mod hash;
pub mod keys;
pub mod logstep;
pub mod ordered;
pub mod pricing;
pub mod pyjson;
pub mod rows;
pub mod run;
pub mod rundir;
pub mod scenarios;
pub mod sum;
pub mod totals;

mod py;

pub use error::{CoreError, CoreResult};
