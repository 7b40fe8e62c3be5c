//! A run's history: one `Model.log` step (routing, batch averages, prefixes, the automatic
//! train-step metrics), the history.jsonl line format, and the crash-safe run directory.

pub mod batch;
pub mod efficiency;
pub mod json;
pub mod log_step;
pub mod numpy;
pub mod routing;
pub mod rundir;
pub mod train_step;

pub use batch::{BatchAggregator, BatchSummary, Number};
pub use log_step::{LogRequest, Row, log_step};
pub use rundir::RunDir;
