//! The state one run's builders share, and the builder handle that records into it.

use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::error::{CoreError, CoreResult};
use crate::fork::{self, ForkLocks};
use crate::metrics::budget::{Budget, BudgetEvent};
use crate::metrics::buffer::StepBuffer;
use crate::metrics::derive::{FlatMetrics, StepMetrics, flush_step};
use crate::metrics::dialect::{ArtVersion, Dialect};
use crate::metrics::keys;
use crate::metrics::keys::check_value;
use crate::metrics::pending::MergedIds;
use crate::metrics::sum::ExactSum;
use crate::metrics::totals::{Totals, TotalsChanges, TotalsState, TotalsUndo};
use crate::pricing::{PricingRegistry, TokenPricing};

/// Everything the builders of one run share: pending buffers per scope, running totals, prices.
///
/// Lock order, where two are held: `buffers` before `merged` before `totals`. Each lock is
/// held only for map operations; a flush derives its metrics with only `totals` held.
#[derive(Debug, Default)]
pub struct RunMetrics {
    buffers: Mutex<Buffers>,
    /// The ids of the `PendingMetrics` merged into this run (see `pending`).
    merged: Mutex<MergedIds>,
    /// Locked through [`RunMetrics::totals`] only, which keeps `totals_bound` current.
    totals: Mutex<Totals>,
    /// [`Totals::abs_bound`] as `f64` bits, published whenever the totals lock is released,
    /// so an add to an existing leaf can skip the exact guard without taking that lock.
    totals_bound: AtomicU64,
    pricing: RwLock<PricingRegistry>,
    /// The openpipe-art version whose rules the run follows (fixed when the run starts).
    art_version: ArtVersion,
    /// Set once anything is registered: tracked calls skip the lock until then.
    has_pricing: AtomicBool,
    /// The spend guard (taken after `buffers` and `totals`, never with them).
    budget: Mutex<Option<Budget>>,
    /// Set while a budget is set: recorded costs skip the check until then.
    has_budget: AtomicBool,
    /// Set while a reporter of the run wants each priced call (`record_call`, issue #24):
    /// priced calls skip the report until then.
    reports_calls: AtomicBool,
}

/// The pending step of each buffer scope of a run.
///
/// A scope keeps its slot for the run's life (the slot is emptied when its step is taken),
/// and the builders of a run share one `Arc<str>` per scope name: a builder finds its step at
/// the slot where it last found it, checked by its name's address, where a hash lookup hashed
/// the name and compared it with `memcmp` on every add (issue #20). A name met for the first
/// time, or a slot gone (a lock repaired after `fork()` empties this), is found by its text.
#[derive(Debug, Default)]
struct Buffers {
    slots: Vec<(Arc<str>, Option<StepBuffer>)>,
    by_name: FxHashMap<Arc<str>, usize>,
}

impl Buffers {
    /// The slot of scope `name`, made when new (with `name` as the run's `Arc` of it when
    /// given one).
    fn slot_named(&mut self, name: &str, shared: Option<&Arc<str>>) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let name: Arc<str> = shared.map_or_else(|| Arc::from(name), Arc::clone);
        self.slots.push((Arc::clone(&name), None));
        self.by_name.insert(name, self.slots.len() - 1);
        self.slots.len() - 1
    }

    /// The run's `Arc` of scope name `name` (its slot made when new).
    fn shared_name(&mut self, name: &str) -> Arc<str> {
        let i = self.slot_named(name, None);
        Arc::clone(&self.slots[i].0)
    }

    /// The slot of `scope`: at `hint` when that slot is still `scope`'s, else by its name
    /// (and `hint` updated).
    fn slot(&mut self, scope: &Arc<str>, hint: &AtomicUsize) -> usize {
        let i = hint.load(Ordering::Relaxed);
        if let Some((name, _)) = self.slots.get(i)
            && Arc::ptr_eq(name, scope)
        {
            return i;
        }
        let i = self.slot_named(scope, Some(scope));
        hint.store(i, Ordering::Relaxed);
        i
    }

    /// The pending step of `scope` (made when absent).
    fn step(&mut self, scope: &Arc<str>, hint: &AtomicUsize) -> &mut StepBuffer {
        let i = self.slot(scope, hint);
        self.slots[i].1.get_or_insert_default()
    }

    /// Takes the pending step of `scope` out.
    fn take(&mut self, scope: &Arc<str>, hint: &AtomicUsize) -> Option<StepBuffer> {
        let i = self.slot(scope, hint);
        self.slots[i].1.take()
    }

    fn steps(&self) -> impl Iterator<Item = &StepBuffer> {
        self.slots.iter().filter_map(|(_, step)| step.as_ref())
    }
}

impl RunMetrics {
    /// A fresh run, registered for locking around `fork()` (see [`crate::fork`]).
    fn new_registered(art_version: ArtVersion) -> Arc<Self> {
        let run = Arc::new(RunMetrics {
            art_version,
            ..RunMetrics::default()
        });
        fork::register(&(Arc::clone(&run) as Arc<dyn ForkLocks>));
        run
    }
}

impl RunMetrics {
    /// The running totals, locked.
    fn totals(&self) -> TotalsGuard<'_> {
        TotalsGuard {
            totals: self.totals.lock(),
            bound: &self.totals_bound,
        }
    }

    /// A bound on the running totals' magnitudes as of the last release of their lock.
    fn totals_bound(&self) -> f64 {
        f64::from_bits(self.totals_bound.load(Ordering::Acquire))
    }
}

/// The locked totals; on release their bound is published for [`RunMetrics::totals_bound`].
struct TotalsGuard<'a> {
    totals: MutexGuard<'a, Totals>,
    bound: &'a AtomicU64,
}

impl std::ops::Deref for TotalsGuard<'_> {
    type Target = Totals;
    fn deref(&self) -> &Totals {
        &self.totals
    }
}

impl std::ops::DerefMut for TotalsGuard<'_> {
    fn deref_mut(&mut self) -> &mut Totals {
        &mut self.totals
    }
}

impl Drop for TotalsGuard<'_> {
    fn drop(&mut self) {
        // Still under the lock: publications are in the order of the changes.
        self.bound
            .store(self.totals.abs_bound().to_bits(), Ordering::Release);
    }
}

impl ForkLocks for RunMetrics {
    unsafe fn repair_in_child(&self) -> usize {
        // SAFETY: forwarded from the caller (a child right after fork).
        unsafe {
            usize::from(fork::repair_mutex(&self.buffers))
                + usize::from(fork::repair_mutex(&self.merged))
                + usize::from(fork::repair_mutex(&self.totals))
                + usize::from(fork::repair_rwlock(&self.pricing))
                + usize::from(fork::repair_mutex(&self.budget))
        }
    }
}

/// A builder: a cost context and a buffer scope over a shared [`RunMetrics`].
#[derive(Debug)]
pub struct Builder {
    cost_context: String,
    /// The run's `Arc` of the scope's name (see [`Buffers`]).
    buffer_scope: Arc<str>,
    /// Where the scope's step was last found in the run's [`Buffers`].
    slot: AtomicUsize,
    run: Arc<RunMetrics>,
}

impl Clone for Builder {
    fn clone(&self) -> Self {
        Builder {
            cost_context: self.cost_context.clone(),
            buffer_scope: Arc::clone(&self.buffer_scope),
            slot: AtomicUsize::new(self.slot.load(Ordering::Relaxed)),
            run: Arc::clone(&self.run),
        }
    }
}

/// A flush that can still be taken back (when its row could not be saved): the step as it
/// was pending before, and what the flush added to the totals.
#[derive(Debug)]
pub struct FlushUndo {
    pending: Option<StepBuffer>,
    totals: TotalsUndo,
}

/// `name` trimmed, refused by `what` when nothing is left.
fn non_blank<'a>(name: &'a str, what: &str) -> CoreResult<&'a str> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::empty(what));
    }
    Ok(name)
}

impl Builder {
    /// A builder with fresh shared state (0.5.18's rules); its buffer scope is its cost
    /// context.
    pub fn new(cost_context: &str) -> CoreResult<Self> {
        Self::with_version(cost_context, ArtVersion::default())
    }

    /// A builder with fresh shared state following `art_version`'s rules.
    pub fn with_version(cost_context: &str, art_version: ArtVersion) -> CoreResult<Self> {
        // Blank is refused too: `for_cost_context` trims, so "  " could never be reached again.
        non_blank(cost_context, "cost_context")?;
        let run = RunMetrics::new_registered(art_version);
        let buffer_scope = run.buffers.lock().shared_name(cost_context);
        Ok(Builder {
            cost_context: cost_context.to_owned(),
            buffer_scope,
            slot: AtomicUsize::new(0),
            run,
        })
    }

    /// The openpipe-art version of the run.
    pub fn art_version(&self) -> ArtVersion {
        self.run.art_version
    }

    /// The key a cost of `source` (a judge, ...) goes to from this builder:
    /// `costs/<cost_context>/<source>`.
    pub fn source_cost_key(&self, source: &str) -> CoreResult<String> {
        keys::cost_key(&format!("{}/{source}", self.cost_context))
    }

    /// A builder of a run has the run's version: asking for another is a mistake, refused
    /// naming both.
    pub fn check_run_version(&self, art_version: ArtVersion) -> CoreResult<()> {
        if art_version == self.art_version() {
            return Ok(());
        }
        Err(CoreError::value(format!(
            "art_version '{}' differs from the run's '{}'",
            art_version.as_str(),
            self.art_version().as_str()
        )))
    }

    /// The rules of the run's openpipe-art version.
    pub fn dialect(&self) -> &'static Dialect {
        self.run.art_version.dialect()
    }

    pub fn cost_context(&self) -> &str {
        &self.cost_context
    }

    pub fn buffer_scope(&self) -> &str {
        &self.buffer_scope
    }

    /// An id shared by the builders of one run (and no other live run).
    pub fn run_id(&self) -> usize {
        Arc::as_ptr(&self.run) as usize
    }

    /// True when both builders record into the same run.
    pub fn shares_run_with(&self, other: &Builder) -> bool {
        Arc::ptr_eq(&self.run, &other.run)
    }

    /// The builder for another cost context over the same run, or `None` when that is this one.
    ///
    /// Names are trimmed; the buffer scope defaults to the cost context.
    pub fn for_cost_context(
        &self,
        cost_context: &str,
        buffer_scope: Option<&str>,
    ) -> CoreResult<Option<Builder>> {
        let cost_context = non_blank(cost_context, "cost_context")?;
        let buffer_scope = match buffer_scope {
            Some(scope) => non_blank(scope, "buffer_scope")?,
            None => cost_context,
        };
        if cost_context == self.cost_context && buffer_scope == &*self.buffer_scope {
            return Ok(None);
        }
        Ok(Some(Builder {
            cost_context: cost_context.to_owned(),
            buffer_scope: self.run.buffers.lock().shared_name(buffer_scope),
            slot: AtomicUsize::new(0),
            run: Arc::clone(&self.run),
        }))
    }

    fn with_buffer<T>(&self, f: impl FnOnce(&mut StepBuffer) -> CoreResult<T>) -> CoreResult<T> {
        f(self.run.buffers.lock().step(&self.buffer_scope, &self.slot))
    }

    /// Adds `values` to the pending step, all or none, after checking that no derived value
    /// (rollup, `costs/all`, running total) would become non-finite.
    fn add_checked(&self, values: &[(&str, f64)]) -> CoreResult<()> {
        self.with_buffer(|b| {
            b.check_derived(values, &self.run.totals())?;
            b.add_all(values)
        })
    }

    /// Adds `value` to the leaf `key` of this builder's pending step.
    pub fn add_metric(&self, key: &str, value: f64) -> CoreResult<()> {
        check_value(key, value)?;
        self.with_buffer(|b| {
            // The common call: an existing leaf, nothing near overflowing.
            if b.add_existing_unchecked(key, value, self.run.totals_bound()) {
                return Ok(());
            }
            b.check_derived(&[(key, value)], &self.run.totals())?;
            b.add_all(&[(key, value)])
        })
    }

    /// Adds several leaves at once: all of them or, when one is refused, none.
    pub fn add_metrics(&self, values: &[(&str, f64)]) -> CoreResult<()> {
        for (key, value) in values {
            check_value(key, *value)?;
        }
        self.add_checked(values)
    }

    /// Adds `usd` to `costs/<path>`.
    pub fn add_cost(&self, path: &str, usd: f64) -> CoreResult<()> {
        keys::with_cost_key(path, |key| self.add_metric(key, usd))
    }

    /// Records data counts (scenarios, and the dialect's rollout/actor tokens) and scenario
    /// ids, all or nothing.
    pub fn add_data(
        &self,
        step_num_scenarios: Option<f64>,
        step_tokens: Option<f64>,
        scenario_ids: Option<Vec<String>>,
    ) -> CoreResult<()> {
        let [scenarios, tokens] = self.dialect().data_params;
        let values: Vec<(&str, f64)> = [
            (scenarios.key, step_num_scenarios),
            (tokens.key, step_tokens),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        for (key, value) in &values {
            check_value(key, *value)?;
        }
        self.with_buffer(|b| {
            b.check_derived(&values, &self.run.totals())?;
            b.add_all(&values)?;
            if let Some(ids) = scenario_ids {
                b.add_scenario_ids(ids);
            }
            Ok(())
        })
    }

    /// Sets (or with `None` removes) the run's budget, for every builder of the run.
    pub fn set_budget(&self, budget: Option<Budget>) {
        let active = budget.is_some();
        *self.run.budget.lock() = budget;
        self.run.has_budget.store(active, Ordering::Release);
    }

    /// The run's budget, with the thresholds fired so far.
    pub fn budget(&self) -> Option<Budget> {
        self.run.budget.lock().clone()
    }

    /// Whether a budget is set (a cheap check before [`Builder::check_budget`]).
    pub fn has_budget(&self) -> bool {
        self.run.has_budget.load(Ordering::Acquire)
    }

    /// Whether each priced call of the run is reported (to its reporters' `record_call`).
    pub fn reports_calls(&self) -> bool {
        self.run.reports_calls.load(Ordering::Relaxed)
    }

    /// Turns the report of each priced call on or off, for every builder of the run.
    pub fn set_reports_calls(&self, on: bool) {
        self.run.reports_calls.store(on, Ordering::Relaxed);
    }

    /// The run's spend: `costs/cum/all` plus every cost pending in any scope.
    pub fn spend_usd(&self) -> f64 {
        let mut spend = ExactSum::default();
        {
            let buffers = self.run.buffers.lock();
            for cost in buffers.steps().filter_map(StepBuffer::pending_cost) {
                spend.merge(cost);
            }
            if let Some(total) = self.run.totals().get("costs/cum/all") {
                spend.add(total);
            }
        }
        spend.value()
    }

    /// Checks the run's spend against its budget (see [`Budget::check`]); called after
    /// each recorded cost. `None` without a budget or when nothing new was crossed.
    pub fn check_budget(&self) -> Option<BudgetEvent> {
        if !self.has_budget() {
            return None;
        }
        let spend = self.spend_usd();
        self.run.budget.lock().as_mut()?.check(spend)
    }

    /// Takes this scope's pending step out of the run.
    pub(crate) fn take_step(&self) -> Option<StepBuffer> {
        self.run.buffers.lock().take(&self.buffer_scope, &self.slot)
    }

    /// Runs `f` on the pending step of `scope` in this run and on the run's merged ids.
    pub(crate) fn with_scope_and_merged<T>(
        &self,
        scope: &str,
        f: impl FnOnce(&mut StepBuffer, &mut MergedIds) -> CoreResult<T>,
    ) -> CoreResult<T> {
        let mut buffers = self.run.buffers.lock();
        let i = buffers.slot_named(scope, None);
        let step = buffers.slots[i].1.get_or_insert_default();
        f(step, &mut self.run.merged.lock())
    }

    /// Drains this builder's buffer scope and derives the step's metrics.
    pub fn flush(&self) -> FlatMetrics {
        match self.take_step() {
            Some(step) if !step.is_empty() => {
                flush_step(step, &mut self.run.totals(), self.dialect())
            }
            _ => FlatMetrics::default(),
        }
    }

    /// Adds `values` and `scenario_ids` to this builder's pending step and flushes it, in a
    /// way [`Builder::undo_flush`] can take back: `Model.log` saves the row afterwards, and a
    /// failed save must leave the builder as it was before the call.
    ///
    /// The values are checked first: a refused one leaves the pending step unchanged.
    pub fn flush_with(
        &self,
        values: &[(&str, f64)],
        scenario_ids: Vec<String>,
    ) -> CoreResult<(StepMetrics, FlushUndo)> {
        self.flush_with_then(values, scenario_ids, |_, _| Vec::new())
            .map(|(metrics, _, undo)| (metrics, undo))
    }

    /// [`Builder::flush_with`], then `derive(step metrics, totals)` with the totals still
    /// locked: what it adds to them is taken back with the flush. Returns its values second.
    pub fn flush_with_then(
        &self,
        values: &[(&str, f64)],
        scenario_ids: Vec<String>,
        derive: impl FnOnce(&StepMetrics, &mut Totals) -> Vec<(String, f64)>,
    ) -> CoreResult<(StepMetrics, StepMetrics, FlushUndo)> {
        for (key, value) in values {
            check_value(key, *value)?;
        }
        let pending = self.take_step();
        let mut step = pending.clone().unwrap_or_default();
        let checked = step.check_derived(values, &self.run.totals());
        let added = checked.and_then(|()| step.add_all(values)).map(|()| {
            if !scenario_ids.is_empty() {
                step.add_scenario_ids(scenario_ids);
            }
        });
        if let Err(e) = added {
            // The refused values never reached the run; the step goes back as it was (a
            // conflict with values recorded meanwhile cannot arise: they are after it).
            let _ = self.put_back(pending);
            return Err(e);
        }
        let mut totals = self.run.totals();
        totals.begin_undo();
        let metrics = if step.is_empty() {
            StepMetrics::default()
        } else {
            flush_step(step, &mut totals, self.dialect()).into()
        };
        let derived = StepMetrics(derive(&metrics, &mut totals));
        let undo = FlushUndo {
            pending,
            totals: totals.end_undo(),
        };
        Ok((metrics, derived, undo))
    }

    /// Takes back a [`Builder::flush_with`]: the totals lose what it added, and the step
    /// pending before it is pending again, ahead of anything recorded since.
    pub fn undo_flush(&self, undo: FlushUndo) -> CoreResult<()> {
        self.run.totals().undo(undo.totals);
        self.put_back(undo.pending)
    }

    /// Makes `step` this scope's pending step again, with whatever was recorded meanwhile.
    fn put_back(&self, step: Option<StepBuffer>) -> CoreResult<()> {
        let Some(mut step) = step else { return Ok(()) };
        let mut buffers = self.run.buffers.lock();
        let i = buffers.slot(&self.buffer_scope, &self.slot);
        let slot = &mut buffers.slots[i].1;
        let result = match slot.take() {
            Some(later) => step.absorb(later),
            None => Ok(()),
        };
        *slot = Some(step);
        result
    }

    /// Puts back changes taken by [`Builder::take_changes`] whose save failed.
    pub fn restore_changes(&self, changes: TotalsChanges) {
        self.run.totals().restore_changes(changes);
    }

    /// A snapshot of the running totals and unique scenario ids.
    pub fn state(&self) -> TotalsState {
        self.run.totals().to_state()
    }

    /// The totals and scenario ids changed since the previous call, for incremental saving.
    pub fn take_changes(&self) -> TotalsChanges {
        self.run.totals().take_changes()
    }

    /// Replaces the running totals and drops every pending buffer of the run; the run
    /// directory saves them whole with the next row. Non-finite totals are kept as they are,
    /// as openpipe-art resumes them (it saves `Infinity` and `NaN`); their keys are returned
    /// so the caller can say so. Keys that are not running totals are refused, state unchanged.
    pub fn load_state(&self, state: TotalsState) -> CoreResult<Vec<String>> {
        self.replace_totals(state, true)
    }

    /// Restores totals saved in a run directory, as [`Builder::load_state`] without marking
    /// them for a whole save (they are already saved).
    pub fn restore_state(&self, state: TotalsState) -> CoreResult<Vec<String>> {
        self.replace_totals(state, false)
    }

    fn replace_totals(&self, state: TotalsState, replaced: bool) -> CoreResult<Vec<String>> {
        for (key, _) in &state.cum_state {
            keys::validate_cumulative(key)?;
        }
        let non_finite = state
            .cum_state
            .iter()
            .filter(|(_, v)| !v.is_finite())
            .map(|(k, _)| k.clone())
            .collect();
        let mut totals = Totals::from_state(state);
        if replaced {
            totals.mark_replaced();
        }
        let mut buffers = self.run.buffers.lock();
        for (_, step) in &mut buffers.slots {
            *step = None;
        }
        *self.run.totals() = totals;
        Ok(non_finite)
    }

    /// True once after `load_state` replaced the totals: the run directory then saves them
    /// whole with the next row.
    pub fn take_replaced(&self) -> bool {
        self.run.totals().take_replaced()
    }

    /// Registers prices for `model_name`, for every builder of the run.
    pub fn register_model_pricing(
        &self,
        model_name: &str,
        pricing: TokenPricing,
    ) -> CoreResult<()> {
        self.run.pricing.write().register(model_name, pricing)?;
        self.run.has_pricing.store(true, Ordering::Release);
        Ok(())
    }

    /// The prices registered for `model_name`, if any.
    pub fn registered_pricing(&self, model_name: &str) -> Option<TokenPricing> {
        if !self.run.has_pricing.load(Ordering::Acquire) {
            return None;
        }
        self.run.pricing.read().get(model_name).copied()
    }

    /// How many leaves are pending in this builder's scope.
    pub fn pending_len(&self) -> usize {
        let mut buffers = self.run.buffers.lock();
        let i = buffers.slot(&self.buffer_scope, &self.slot);
        buffers.slots[i].1.as_ref().map_or(0, StepBuffer::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::budget::{Budget, OnExceed};

    /// The spend a budget is checked against: the recorded total plus the costs pending in
    /// every scope of the run, other metrics left out.
    #[test]
    fn spend_is_recorded_plus_pending_costs_of_every_scope() {
        let train = Builder::new("train").unwrap();
        train.add_cost("judge", 1.25).unwrap();
        train.flush();
        train.add_cost("judge", 0.5).unwrap();
        train.add_metric("time/step_wall_s", 100.0).unwrap();
        let eval = train.for_cost_context("eval", None).unwrap().unwrap();
        eval.add_cost("judge", 0.25).unwrap();
        eval.add_cost("other/x", 0.125).unwrap();
        assert_eq!(train.spend_usd(), 1.25 + 0.5 + 0.25 + 0.125);
        assert_eq!(eval.spend_usd(), train.spend_usd());
    }

    /// Every lock of a run is repaired in a forked child: one held by a thread that does not
    /// exist there (its guard forgotten here) is released and reset, so the child's next
    /// call does not deadlock.
    #[test]
    fn repair_in_child_releases_every_lock_of_the_run() {
        let b = Builder::new("train").unwrap();
        b.set_budget(Some(Budget::new(5.0, OnExceed::Warn, Some(&[])).unwrap()));
        let run = &b.run;
        std::mem::forget(run.buffers.lock());
        std::mem::forget(run.merged.lock());
        std::mem::forget(run.totals.lock());
        std::mem::forget(run.pricing.write());
        std::mem::forget(run.budget.lock());
        // SAFETY: no other thread uses `run`; the "holders" are the forgotten guards.
        assert_eq!(unsafe { run.repair_in_child() }, 5);
        assert!(
            b.budget().is_none(),
            "a lock held at fork time is reset to empty"
        );
        b.add_cost("judge", 1.0).unwrap();
        assert_eq!(b.flush().get("costs/all"), Some(1.0));
        // SAFETY: as above; nothing is held now.
        assert_eq!(unsafe { run.repair_in_child() }, 0);
    }

    /// A builder finds its scope's step at the slot where it last found it, checked by the
    /// name's address: builders of one scope made apart (and clones) share the step, each
    /// scope keeps its own, a merge names its scope by text, and once the buffers are emptied
    /// (as a lock repaired after `fork()` leaves them) each builder finds or makes its step
    /// again by name.
    #[test]
    fn builders_find_their_scopes_step_at_its_slot_and_by_name_after_a_reset() {
        let train = Builder::new("train").unwrap();
        let eval = train.for_cost_context("eval", None).unwrap().unwrap();
        let eval_too = train
            .for_cost_context("judge", Some("eval"))
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&eval.buffer_scope, &eval_too.buffer_scope));
        let copy = train.clone();
        train.add_metric("time/a", 1.0).unwrap();
        eval.add_metric("time/b", 2.0).unwrap();
        eval_too.add_metric("time/c", 3.0).unwrap();
        copy.add_metric("time/a", 4.0).unwrap();
        train
            .with_scope_and_merged("eval", |step, _| step.add("time/d", 5.0))
            .unwrap();
        assert_eq!((train.pending_len(), eval.pending_len()), (1, 3));
        *train.run.buffers.lock() = Buffers::default();
        assert_eq!((train.pending_len(), eval_too.pending_len()), (0, 0));
        eval_too.add_metric("time/c", 1.0).unwrap();
        train.add_metric("time/a", 6.0).unwrap();
        copy.add_metric("time/a", 1.0).unwrap();
        let (train_step, eval_step) = (train.flush(), eval.flush());
        assert_eq!((train_step["time/a"], eval_step["time/c"]), (7.0, 1.0));
        assert_eq!(
            (train_step.get("time/b"), eval_step.get("time/d")),
            (None, None)
        );
    }

    /// Issue #20: an add to an existing leaf skips the exact guard only while nothing is
    /// near overflowing; a large running total, leaf or rollup still gets the exact check.
    #[test]
    fn adds_to_existing_leaves_still_refuse_what_would_overflow() {
        let b = Builder::new("train").unwrap();
        let state = TotalsState {
            cum_state: vec![("costs/cum/train/judge".into(), 1.7e308)],
            ..TotalsState::default()
        };
        b.load_state(state).unwrap();
        b.add_cost("train/judge", 1.0).unwrap();
        b.add_cost("train/judge", 1.0).unwrap();
        let e = b.add_cost("train/judge", 1e308).unwrap_err().to_string();
        assert!(e.contains("'costs/train/judge'"), "{e}");

        let b = Builder::new("train").unwrap();
        b.add_cost("a/x", 1e308).unwrap();
        assert!(b.add_cost("a/x", 1e308).is_err(), "the leaf itself");
        assert!(b.add_cost("a/y", 1e308).is_err(), "the rollup costs/a");
        b.add_metric("time/t", 1.0).unwrap();
        assert!(b.add_metric("time/t", 1e308).is_ok());
        assert!(b.add_metric("time/t", 1e308).is_err());
        let r = b.flush();
        assert_eq!(r["costs/a/x"], 1e308);
        assert_eq!(r["time/t"], 1e308 + 1.0);
        // The totals now hold 1e308: a small step adding to them is checked exactly.
        b.add_cost("a/x", 1.0).unwrap();
        assert!(b.add_cost("a/x", 1e308).is_err());
        assert_eq!(b.flush()["costs/cum/a/x"], 1e308 + 1.0);
    }

    #[test]
    fn contexts_share_totals_but_not_buffers() {
        let train = Builder::new("train").unwrap();
        let eval = train.for_cost_context(" eval ", None).unwrap().unwrap();
        assert_eq!(eval.cost_context(), "eval");
        train.add_cost("train/judge", 1.0).unwrap();
        eval.add_cost("eval/judge", 2.0).unwrap();
        let r = eval.flush();
        assert_eq!(r["costs/eval"], 2.0);
        assert!(!r.contains_key("costs/train"));
        let r = train.flush();
        assert_eq!(r["costs/cum/all"], 3.0);
        assert!(train.flush().is_empty());
    }

    #[test]
    fn for_cost_context_rules() {
        let b = Builder::new("train").unwrap();
        assert!(b.for_cost_context("train", None).unwrap().is_none());
        assert!(b.for_cost_context(" ", None).is_err());
        assert!(b.for_cost_context("x", Some(" ")).is_err());
        let same_scope = b.for_cost_context("eval", Some("train")).unwrap().unwrap();
        same_scope.add_cost("eval/x", 1.0).unwrap();
        assert_eq!(b.flush()["costs/eval/x"], 1.0);
    }

    #[test]
    fn rejected_calls_change_nothing() {
        let b = Builder::new("train").unwrap();
        b.add_metric("data/step_actor_tokens/x", 1.0).unwrap();
        assert!(
            b.add_data(Some(1.0), Some(2.0), Some(vec!["a".into()]))
                .is_err()
        );
        assert!(b.add_metric("time/x", f64::NAN).is_err());
        assert!(b.add_metric("time/x", f64::INFINITY).is_err());
        assert!(b.add_cost("", 1.0).is_err());
        let r = b.flush();
        assert_eq!(r.len(), 2, "{r:?}");
    }

    #[test]
    fn load_state_drops_pending_and_restores() {
        let b = Builder::new("train").unwrap();
        b.add_cost("x", 2.0).unwrap();
        b.add_data(None, None, Some(vec!["s1".into()])).unwrap();
        b.flush();
        let saved = b.state();
        b.add_cost("x", 5.0).unwrap();
        let other = b.for_cost_context("eval", None).unwrap().unwrap();
        other.add_cost("y", 1.0).unwrap();
        b.load_state(saved.clone()).unwrap();
        assert!(b.flush().is_empty());
        assert!(other.flush().is_empty());
        assert_eq!(b.state(), saved);
    }

    #[test]
    fn load_state_refuses_keys_that_are_not_running_totals() {
        let b = Builder::new("train").unwrap();
        b.add_cost("x", 2.0).unwrap();
        b.flush();
        let saved = b.state();
        for key in ["costs/all", "nosection", "costs/cum"] {
            let bad = TotalsState {
                cum_state: vec![(key.into(), 1.0)],
                ..TotalsState::default()
            };
            let e = b.load_state(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("'{key}'")), "{e}");
            assert_eq!(b.state(), saved);
        }
    }

    /// Issue #10, case 5: totals openpipe-art saved as `Infinity`/`NaN` load as they are (ART
    /// resumes them so), their keys returned for the one warning; later adds leave them so.
    #[test]
    fn load_state_keeps_non_finite_totals_and_names_them() {
        let b = Builder::new("train").unwrap();
        let state = TotalsState {
            cum_state: vec![
                ("costs/cum/all".into(), f64::INFINITY),
                ("time/cum/x".into(), f64::NAN),
                ("data/cum/items".into(), 2.0),
            ],
            ..TotalsState::default()
        };
        let keys = b.load_state(state).unwrap();
        assert_eq!(keys, ["costs/cum/all", "time/cum/x"]);
        b.add_cost("judge", 1.0).unwrap();
        b.add_metric("data/step_items", 1.0).unwrap();
        let m = b.flush();
        assert_eq!(m.get("costs/cum/all"), Some(f64::INFINITY));
        assert_eq!(m.get("data/cum/items"), Some(3.0));
    }

    #[test]
    fn an_undone_flush_leaves_the_builder_as_before() {
        let b = Builder::new("train").unwrap();
        b.add_cost("train/judge", 1.0).unwrap();
        b.flush();
        b.take_changes();
        b.add_cost("train/judge", 0.25).unwrap();
        let before = b.state();
        let (m, undo) = b
            .flush_with(&[("costs/train/judge", 1.0)], vec!["s1".into()])
            .unwrap();
        assert_eq!(m["costs/cum/all"], 2.25);
        let changes = b.take_changes();
        b.add_cost("train/other", 2.0).unwrap(); // recorded while the row was being saved
        b.restore_changes(changes);
        b.undo_flush(undo).unwrap();
        assert_eq!(b.state(), before);
        let r = b.flush();
        assert_eq!(r["costs/train/judge"], 0.25);
        assert_eq!(r["costs/train/other"], 2.0);
        assert_eq!(r["costs/cum/all"], 3.25);
        assert!(!r.contains_key("data/cum/num_unique_scenarios"));
    }

    #[test]
    fn flush_with_refused_values_keeps_the_pending_step() {
        let b = Builder::new("train").unwrap();
        b.add_cost("train/judge", 0.25).unwrap();
        assert!(b.flush_with(&[("costs/train", 1.0)], vec![]).is_err());
        assert!(b.flush_with(&[("time/x", f64::NAN)], vec![]).is_err());
        assert_eq!(b.flush()["costs/train/judge"], 0.25);
    }

    #[test]
    fn every_builder_of_a_run_has_its_version() {
        let b = Builder::with_version("train", ArtVersion::V0_5_23).unwrap();
        let eval = b.for_cost_context("eval", Some("x")).unwrap().unwrap();
        assert_eq!(eval.art_version(), ArtVersion::V0_5_23);
        assert_eq!(
            Builder::new("t").unwrap().art_version(),
            ArtVersion::V0_5_18
        );
        eval.add_data(Some(2.0), Some(10.0), None).unwrap();
        let r = eval.flush();
        assert_eq!(r["data/step_rollout_tokens"], 10.0);
        assert_eq!(r["data/cum/rollout_tokens"], 10.0);
        let old = Builder::new("t").unwrap();
        old.add_data(None, Some(10.0), None).unwrap();
        assert_eq!(old.flush()["data/cum/actor_tokens"], 10.0);
    }

    #[test]
    fn blank_cost_context_is_refused() {
        assert!(Builder::new("  ").is_err());
    }

    #[test]
    fn add_from_many_threads_loses_nothing() {
        let b = Builder::new("train").unwrap();
        let flushed = Mutex::new(0.0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let b = b.clone();
                s.spawn(move || {
                    for i in 0..2000 {
                        b.add_cost(&format!("train/t{t}/k{}", i % 7), 0.5).unwrap();
                    }
                });
            }
            s.spawn(|| {
                for _ in 0..200 {
                    if let Some(v) = b.flush().get("costs/all") {
                        *flushed.lock() += v;
                    }
                }
            });
        });
        if let Some(v) = b.flush().get("costs/all") {
            *flushed.lock() += v;
        }
        assert_eq!(*flushed.lock(), 8.0 * 2000.0 * 0.5);
        assert_eq!(
            b.state()
                .cum_state
                .iter()
                .find(|(k, _)| k == "costs/cum/all")
                .unwrap()
                .1,
            8000.0
        );
    }
}
