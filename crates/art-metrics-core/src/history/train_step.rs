//! The automatic train-step metrics a backend adds to `Model.log` (openpipe-art's
//! `LocalBackend` does): on the first log of each train step, `time/step_wall_s` (the time
//! since the previous train step's first log) and `costs/gpu` (that interval at the
//! backend's GPU rate). A value the caller logs under either key wins.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::fork::ForkLocks;
use crate::pricing::gpu::gpu_cost_usd;

/// The key of the measured interval between train steps.
pub const STEP_WALL_KEY: &str = "time/step_wall_s";
/// The key of the interval's GPU cost.
pub const GPU_COST_KEY: &str = "costs/gpu";

/// Whether logs of `split` get automatic metrics: train only.
pub fn applies_to(split: &str) -> bool {
    split == "train"
}

/// When the previous train step was first logged, and which step it was.
#[derive(Debug)]
pub struct TrainStepClock {
    state: Mutex<ClockState>,
}

#[derive(Debug)]
struct ClockState {
    last_step: Option<i64>,
    last_log: Instant,
}

impl TrainStepClock {
    /// A clock whose first interval starts at `start` (the run's creation).
    /// A clock whose run started `seconds` ago (clamped to what `Instant` can represent;
    /// a negative or non-finite value means now).
    pub fn started_ago(seconds: f64) -> Self {
        let now = Instant::now();
        let ago = if seconds.is_finite() && seconds > 0.0 {
            Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
        } else {
            Duration::ZERO
        };
        Self::starting_at(now.checked_sub(ago).unwrap_or(now))
    }

    pub fn starting_at(start: Instant) -> Self {
        TrainStepClock {
            state: Mutex::new(ClockState {
                last_step: None,
                last_log: start,
            }),
        }
    }

    /// The seconds since the previous train step's first row (or since the start) when
    /// this is the first log of train step `step`; `None` for another split or a step
    /// already logged. It does not move the clock: [`TrainStepClock::commit`] does, once
    /// the row is written, so a failed log that is retried counts its interval once.
    pub fn interval(&self, split: &str, step: i64, now: Instant) -> Option<f64> {
        if !applies_to(split) {
            return None;
        }
        let state = self.state.lock();
        if state.last_step == Some(step) {
            return None;
        }
        Some(now.saturating_duration_since(state.last_log).as_secs_f64())
    }

    /// Moves the clock to `now`: train step `step`'s first row was written.
    pub fn commit(&self, split: &str, step: i64, now: Instant) {
        if !applies_to(split) {
            return;
        }
        let mut state = self.state.lock();
        if state.last_step != Some(step) {
            state.last_log = now;
            state.last_step = Some(step);
        }
    }
}

impl ForkLocks for TrainStepClock {
    unsafe fn repair_in_child(&self) -> usize {
        if !self.state.is_locked() {
            return 0;
        }
        // SAFETY: forwarded from the caller; the state is two plain values, so the
        // vanished holder cannot have left it inconsistent.
        unsafe { self.state.force_unlock() };
        1
    }
}

impl Default for TrainStepClock {
    fn default() -> Self {
        Self::starting_at(Instant::now())
    }
}

/// Whether the backend's GPU rate is needed: not when the caller logs `costs/gpu` itself.
pub fn needs_gpu_rate(provided: impl Fn(&str) -> bool) -> bool {
    !provided(GPU_COST_KEY)
}

/// The automatic metrics of a train step that took `step_wall_s` seconds, at `usd_per_hour`
/// for all the backend's GPUs (`None`: no price known, no `costs/gpu`). Keys in `provided`
/// (logged by the caller) are left out; `costs/gpu` uses the measured interval even when
/// the caller gave `time/step_wall_s`, as the reference does.
pub fn train_step_metrics(
    step_wall_s: f64,
    provided: impl Fn(&str) -> bool,
    usd_per_hour: Option<f64>,
) -> Vec<(String, f64)> {
    let mut out = Vec::with_capacity(2);
    if !provided(STEP_WALL_KEY) {
        out.push((STEP_WALL_KEY.to_owned(), step_wall_s));
    }
    if let Some(rate) = usd_per_hour
        && !provided(GPU_COST_KEY)
    {
        out.push((GPU_COST_KEY.to_owned(), gpu_cost_usd(step_wall_s, rate)));
    }
    out
}

/// What a log asks of its backend, each at most once per log (a Python object's methods,
/// behind closures): whether it has automatic train-step metrics, and its GPU rate; for the
/// opt-in efficiency figures also its GPU count and the model's parameter count.
pub trait Backend {
    type Error;
    /// `supports_automatic_train_step_metrics()`.
    fn supports(&mut self) -> Result<bool, Self::Error>;
    /// `automatic_gpu_cost_per_hour_usd(model)` for all its GPUs (`None`: no price known).
    fn usd_per_hour(&mut self) -> Result<Option<f64>, Self::Error>;
    /// The number of GPUs it was given (`LocalBackend(gpu_count=...)`); `None`: count the
    /// visible ones.
    fn gpu_count(&mut self) -> Result<Option<u64>, Self::Error> {
        Ok(None)
    }
    /// `n_params(model)`: the model's parameter count, where the backend can say.
    fn n_params(&mut self) -> Result<Option<u64>, Self::Error> {
        Ok(None)
    }
}

/// The automatic train-step metrics of one log, in the order the rules are asked: the split
/// (train only), the backend's support, the interval since the previous train step
/// (`interval`; `None` when the step was logged already), then the GPU rate only when the
/// caller did not log `costs/gpu` itself. Empty when any of them says no.
pub fn automatic_metrics<B: Backend>(
    split: &str,
    backend: &mut B,
    interval: impl FnOnce() -> Option<f64>,
    provided: impl Fn(&str) -> bool,
) -> Result<Vec<(String, f64)>, B::Error> {
    if !applies_to(split) || !backend.supports()? {
        return Ok(Vec::new());
    }
    let Some(step_wall_s) = interval() else {
        return Ok(Vec::new());
    };
    let rate = if needs_gpu_rate(&provided) {
        backend.usd_per_hour()?
    } else {
        None
    };
    Ok(train_step_metrics(step_wall_s, provided, rate))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl TrainStepClock {
        /// A log whose row is written.
        fn tick(&self, split: &str, step: i64, now: Instant) -> Option<f64> {
            let interval = self.interval(split, step, now);
            self.commit(split, step, now);
            interval
        }
    }

    #[test]
    fn a_failed_log_does_not_move_the_clock() {
        let start = Instant::now();
        let clock = TrainStepClock::starting_at(start);
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(clock.interval("train", 1, at(5)), Some(5.0));
        // The row was not written: the retry measures from the start again.
        assert_eq!(clock.tick("train", 1, at(6)), Some(6.0));
        assert_eq!(clock.tick("train", 1, at(7)), None);
    }

    #[test]
    fn once_per_train_step_measuring_from_the_previous_one() {
        let start = Instant::now();
        let clock = TrainStepClock::starting_at(start);
        let at = |s: u64| start + Duration::from_secs(s);
        assert_eq!(clock.tick("val", 1, at(1)), None, "train only");
        assert_eq!(clock.tick("train", 1, at(5)), Some(5.0));
        assert_eq!(clock.tick("train", 1, at(6)), None, "once per step");
        assert_eq!(clock.tick("test", 2, at(7)), None);
        assert_eq!(
            clock.tick("train", 2, at(12)),
            Some(7.0),
            "from step 1's first log"
        );
        // Going back to an earlier step is a new step too.
        assert_eq!(clock.tick("train", 1, at(13)), Some(1.0));
    }

    #[test]
    fn a_clock_never_runs_backwards() {
        let start = Instant::now();
        let clock = TrainStepClock::starting_at(start + Duration::from_secs(10));
        assert_eq!(clock.tick("train", 1, start), Some(0.0));
    }

    #[test]
    fn gpu_cost_is_wall_time_at_the_hourly_rate() {
        let none = |_: &str| false;
        assert_eq!(
            train_step_metrics(90.0, none, Some(6.0)),
            [(STEP_WALL_KEY.into(), 90.0), (GPU_COST_KEY.into(), 0.15)]
        );
        assert_eq!(
            train_step_metrics(90.0, none, None),
            [(STEP_WALL_KEY.into(), 90.0)],
            "no price, no costs/gpu"
        );
        assert!(needs_gpu_rate(none));
    }

    #[test]
    fn an_explicit_caller_value_wins() {
        let wall_given = |k: &str| k == STEP_WALL_KEY;
        // The measured interval still prices the GPUs.
        assert_eq!(
            train_step_metrics(36.0, wall_given, Some(100.0)),
            [(GPU_COST_KEY.into(), 1.0)]
        );
        let cost_given = |k: &str| k == GPU_COST_KEY;
        assert!(!needs_gpu_rate(cost_given));
        assert_eq!(
            train_step_metrics(36.0, cost_given, Some(100.0)),
            [(STEP_WALL_KEY.into(), 36.0)]
        );
    }

    #[test]
    fn a_clock_started_earlier_counts_the_first_step_from_then() {
        let clock = TrainStepClock::started_ago(30.0);
        let first = clock.interval("train", 1, Instant::now()).unwrap();
        assert!((30.0..31.0).contains(&first), "{first}");
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let clock = TrainStepClock::started_ago(bad);
            assert!(clock.interval("train", 1, Instant::now()).unwrap() < 1.0);
        }
    }

    /// A backend that counts what it is asked.
    struct Counting {
        supports: bool,
        rate: Option<f64>,
        asked: (usize, usize),
    }

    impl Backend for Counting {
        type Error = ();
        fn supports(&mut self) -> Result<bool, ()> {
            self.asked.0 += 1;
            Ok(self.supports)
        }
        fn usd_per_hour(&mut self) -> Result<Option<f64>, ()> {
            self.asked.1 += 1;
            Ok(self.rate)
        }
    }

    #[test]
    fn automatic_metrics_ask_in_order_and_only_what_is_needed() {
        let backend = |supports| Counting {
            supports,
            rate: Some(3.6),
            asked: (0, 0),
        };
        let none = |_: &str| false;
        let mut b = backend(true);
        let m = automatic_metrics("train", &mut b, || Some(10.0), none).unwrap();
        assert_eq!(
            m,
            [(STEP_WALL_KEY.into(), 10.0), (GPU_COST_KEY.into(), 0.01)]
        );
        assert_eq!(b.asked, (1, 1));
        // Not train: the backend is not asked.
        let mut b = backend(true);
        assert!(
            automatic_metrics("val", &mut b, || Some(1.0), none)
                .unwrap()
                .is_empty()
        );
        assert_eq!(b.asked, (0, 0));
        // The caller logs costs/gpu: no rate asked.
        let mut b = backend(true);
        let m = automatic_metrics("train", &mut b, || Some(1.0), |k| k == GPU_COST_KEY).unwrap();
        assert_eq!(m, [(STEP_WALL_KEY.into(), 1.0)]);
        assert_eq!(b.asked, (1, 0));
        // No support: no interval taken (the clock does not move), nothing asked after.
        let mut b = backend(false);
        let m = automatic_metrics("train", &mut b, || panic!("interval"), none).unwrap();
        assert!(m.is_empty());
        assert_eq!(b.asked, (1, 0));
    }
}
