//! A run's history: one `Model.log` step (routing, batch averages, prefixes, the automatic
//! train-step metrics), the history.jsonl line format, the crash-safe run directory, and the
//! streamed reading of a run's rows into per-step aggregates (`summary`, `report`).

pub mod batch;
pub mod efficiency;
pub mod history_read;
pub mod json;
pub mod jsonline;
pub mod log_step;
pub mod numpy;
pub mod routing;
pub mod rundir;
pub mod series;
pub mod steps;
pub mod summary_text;
pub mod train_step;

pub use batch::{BatchAggregator, BatchSummary, Number};
pub use log_step::{LogRequest, Row, log_step};
pub use rundir::RunDir;
