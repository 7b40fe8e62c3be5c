//! The metrics builder's rules: metric keys, one step's pending values, what a flush derives
//! (cost rollups, running totals, throughput), and the state one run's builders share.
//!
//! Nothing here knows about rows, files or Python; `history` builds rows on top of it.

pub mod budget;
pub mod buffer;
pub mod builder;
pub mod derive;
pub mod dialect;
pub mod keys;
pub mod pending;
pub mod scenarios;
pub mod sum;
pub mod totals;

pub use builder::{Builder, RunMetrics};
pub use dialect::{ArtVersion, Dialect};
pub use pending::PendingMetrics;
