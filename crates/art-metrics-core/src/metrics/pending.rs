//! A step's pending metrics moved between processes: a worker exports them, the driver
//! merges them, exactly once.
//!
//! Invariants:
//! - A [`PendingMetrics`] holds distinct, valid, finite leaves that do not conflict with one
//!   another (it comes from a [`StepBuffer`], or from bytes checked the same way), so merging
//!   it only has to check it against the driver's pending step.
//! - Its id, `(origin, sequence)`, is unique: `origin` is drawn at random once per process
//!   (again after a fork), `sequence` counts that process's exports.
//! - A run remembers the ids it merged ([`MergedIds`]) so a second delivery merges nothing.
//!   No id has sequence `u64::MAX` (the counter after it would wrap to 0 and the id would
//!   merge again), so decoding and merging refuse it.
//! - Decoding allocates no more than [`MAX_DECODED_BYTES`] whatever the bytes claim: a length
//!   or count is checked against the bytes left before anything is allocated for it, and
//!   front coding (a key may repeat its predecessor's prefix, so a few bytes can name a long
//!   key) is checked against that limit (issue #21).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use crate::error::{CoreError, CoreResult};
use crate::metrics::Builder;
use crate::metrics::buffer::StepBuffer;
use crate::metrics::keys::check_value;

/// The format this build writes, and the newest it reads.
pub const FORMAT_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"AMPM";

/// The most that [`PendingMetrics::from_bytes`] decodes: the bytes of the names, keys and
/// scenario ids, each key or id counted [`DECODED_ITEM_OVERHEAD`] bytes more. A payload past
/// it is refused (a step that large has to be exported in smaller steps).
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// What one key or scenario id costs in memory besides its bytes (a `String` and its value).
pub const DECODED_ITEM_OVERHEAD: usize = 32;

/// The largest sequence number an id may have; see the module's invariants.
pub const MAX_SEQUENCE: u64 = u64::MAX - 1;

/// Gaps (ids never delivered) remembered per origin before the oldest is forgotten.
pub const MAX_GAPS_PER_ORIGIN: usize = 4096;

/// Everything one buffer scope held, with the id that makes merging it idempotent.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMetrics {
    origin: String,
    sequence: u64,
    cost_context: String,
    buffer_scope: String,
    values: Vec<(String, f64)>,
    scenario_ids: Vec<String>,
}

impl PendingMetrics {
    /// The pending step `step` of a builder, under a fresh id of this process.
    pub(crate) fn from_step(builder: &Builder, step: Option<StepBuffer>) -> Self {
        let (origin, sequence) = next_id();
        let (values, scenario_ids) = match step {
            Some(step) => (
                step.leaves()
                    .map(|(k, v)| (k.to_owned(), v.value()))
                    .collect(),
                step.scenario_ids().iter().map(str::to_owned).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        PendingMetrics {
            origin,
            sequence,
            cost_context: builder.cost_context().to_owned(),
            buffer_scope: builder.buffer_scope().to_owned(),
            values,
            scenario_ids,
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn cost_context(&self) -> &str {
        &self.cost_context
    }

    pub fn buffer_scope(&self) -> &str {
        &self.buffer_scope
    }

    /// The leaves and their summed values, in the order first recorded.
    pub fn values(&self) -> &[(String, f64)] {
        &self.values
    }

    pub fn scenario_ids(&self) -> &[String] {
        &self.scenario_ids
    }

    /// The compact binary form: magic, version, id, names, then keys front-coded against the
    /// previous key (a step's keys share long prefixes) and values as little-endian f64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.values.len() * 16);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        put_str(&mut out, &self.origin);
        put_varint(&mut out, self.sequence);
        put_str(&mut out, &self.cost_context);
        put_str(&mut out, &self.buffer_scope);
        put_varint(&mut out, self.values.len() as u64);
        let mut previous = "";
        for (key, value) in &self.values {
            put_front_coded(&mut out, previous, key);
            out.extend_from_slice(&value.to_le_bytes());
            previous = key;
        }
        put_varint(&mut out, self.scenario_ids.len() as u64);
        let mut previous = "";
        for id in &self.scenario_ids {
            put_front_coded(&mut out, previous, id);
            previous = id;
        }
        out
    }

    /// Reads [`PendingMetrics::to_bytes`] output, refusing anything a builder would refuse:
    /// a newer format, blank names, bad or conflicting keys, values that are not finite, a
    /// sequence number past [`MAX_SEQUENCE`], more than [`MAX_DECODED_BYTES`] decoded.
    /// No input panics or allocates past that limit.
    pub fn from_bytes(data: &[u8]) -> CoreResult<Self> {
        let mut r = Reader {
            data,
            pos: 0,
            budget: MAX_DECODED_BYTES,
        };
        if r.take(4)? != MAGIC {
            return Err(corrupt("it does not start with the PendingMetrics magic"));
        }
        let version = r.take(1)?[0];
        if version > FORMAT_VERSION {
            return Err(CoreError::value(format!(
                "PendingMetrics format version {version} is newer than this art_metrics reads \
                 ({FORMAT_VERSION}); upgrade art_metrics where the metrics are merged"
            )));
        }
        if version == 0 {
            return Err(corrupt("format version 0 does not exist"));
        }
        let origin = r.string()?;
        let sequence = r.varint()?;
        if sequence > MAX_SEQUENCE {
            return Err(corrupt(&format!(
                "its sequence number {sequence} is past the largest an export uses \
                 ({MAX_SEQUENCE})"
            )));
        }
        let cost_context = r.string()?;
        let buffer_scope = r.string()?;
        for (name, what) in [
            (&origin, "origin"),
            (&cost_context, "cost_context"),
            (&buffer_scope, "buffer_scope"),
        ] {
            if name.trim().is_empty() {
                return Err(CoreError::empty(&format!("PendingMetrics {what}")));
            }
        }
        let n = r.count(10)?;
        let mut values: Vec<(String, f64)> = Vec::with_capacity(n);
        // Checked as a builder checks them: distinct leaves, valid keys, no leaf that is an
        // ancestor of another, finite values.
        let mut check = StepBuffer::default();
        for _ in 0..n {
            let key = r.front_coded(values.last().map_or("", |(k, _)| k.as_str()))?;
            let value = f64::from_le_bytes(r.take(8)?.try_into().expect("8 bytes"));
            check_value(&key, value)?;
            if check.get(&key).is_some() {
                return Err(corrupt(&format!("metric '{key}' appears twice")));
            }
            check.add(&key, value)?;
            values.push((key, value));
        }
        let n = r.count(2)?;
        let mut scenario_ids: Vec<String> = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.front_coded(scenario_ids.last().map_or("", String::as_str))?;
            scenario_ids.push(id);
        }
        if r.pos != data.len() {
            return Err(corrupt("it has bytes after its end"));
        }
        Ok(PendingMetrics {
            origin,
            sequence,
            cost_context,
            buffer_scope,
            values,
            scenario_ids,
        })
    }
}

impl Builder {
    /// Takes this scope's pending leaves out of the run and drops its pending scenario ids
    /// (openpipe-art 0.5.23's `drain_pending`): no rollups, totals untouched.
    pub fn drain_pending(&self) -> Vec<(String, f64)> {
        self.take_step().map_or_else(Vec::new, |step| {
            step.leaves()
                .map(|(k, v)| (k.to_owned(), v.value()))
                .collect()
        })
    }

    /// Takes this scope's pending step (leaves and scenario ids) out of the run, with an id
    /// that makes merging it idempotent. An empty step still gets an id.
    pub fn export_pending(&self) -> PendingMetrics {
        PendingMetrics::from_step(self, self.take_step())
    }

    /// Adds `pending` to its buffer scope of this builder's run, as `add_metric` and
    /// `add_data(scenario_ids=...)` would have; `false` (nothing added) when this run has
    /// merged it before. A refused merge adds nothing and is not remembered.
    pub fn merge_pending(&self, pending: &PendingMetrics) -> CoreResult<bool> {
        let values: Vec<(&str, f64)> = pending
            .values
            .iter()
            .map(|(k, v)| check_value(k, *v).map(|v| (k.as_str(), v)))
            .collect::<CoreResult<_>>()?;
        check_sequence(&pending.origin, pending.sequence)?;
        self.with_scope_and_merged(&pending.buffer_scope, |step, merged| {
            if merged.contains(&pending.origin, pending.sequence)? {
                return Ok(false);
            }
            step.add_all(&values)?;
            step.add_scenario_ids(&pending.scenario_ids);
            merged.insert(&pending.origin, pending.sequence);
            Ok(true)
        })
    }
}

/// The ids a run has merged, per origin: a high-water mark and the gaps below it.
///
/// Memory grows with the number of origins (worker processes) and of gaps (exports not
/// delivered yet, or never: a killed worker's), not with the number of merges. Past
/// [`MAX_GAPS_PER_ORIGIN`] gaps the oldest is forgotten; an id from a forgotten stretch can
/// no longer be told apart from a merged one and is refused with an error, never merged.
#[derive(Debug, Default)]
pub struct MergedIds {
    origins: FxHashMap<String, OriginRecord>,
}

#[derive(Debug, Default)]
struct OriginRecord {
    /// Every sequence number from here on is unmerged.
    next: u64,
    /// Unmerged stretches below `next`: start → end (exclusive), disjoint.
    gaps: BTreeMap<u64, u64>,
    /// Sequence numbers below this one that are not in `gaps` may have been forgotten.
    forgotten_below: u64,
}

impl OriginRecord {
    fn gap_containing(&self, seq: u64) -> Option<(u64, u64)> {
        let (&start, &end) = self.gaps.range(..=seq).next_back()?;
        (seq < end).then_some((start, end))
    }
}

impl MergedIds {
    /// Whether `(origin, seq)` was merged; an error when that can no longer be told, or when
    /// `seq` is past [`MAX_SEQUENCE`] (it could not be recorded).
    pub fn contains(&self, origin: &str, seq: u64) -> CoreResult<bool> {
        check_sequence(origin, seq)?;
        let Some(record) = self.origins.get(origin) else {
            return Ok(false);
        };
        if seq >= record.next || record.gap_containing(seq).is_some() {
            return Ok(false);
        }
        if seq < record.forgotten_below {
            return Err(CoreError::value(format!(
                "PendingMetrics ({origin:?}, {seq}) arrived after more than \
                 {MAX_GAPS_PER_ORIGIN} later exports of its origin went missing; whether it \
                 was merged is no longer known, so it is not merged"
            )));
        }
        Ok(true)
    }

    /// Records `(origin, seq)` as merged; `seq` must not be merged yet and (as
    /// [`MergedIds::contains`] checks) not past [`MAX_SEQUENCE`]: one past it is ignored.
    pub fn insert(&mut self, origin: &str, seq: u64) {
        if seq > MAX_SEQUENCE {
            return;
        }
        let record = match self.origins.get_mut(origin) {
            Some(r) => r,
            None => self.origins.entry(origin.to_owned()).or_default(),
        };
        if seq >= record.next {
            if seq > record.next {
                record.gaps.insert(record.next, seq);
            }
            record.next = seq + 1;
        } else if let Some((start, end)) = record.gap_containing(seq) {
            record.gaps.remove(&start);
            if start < seq {
                record.gaps.insert(start, seq);
            }
            if seq + 1 < end {
                record.gaps.insert(seq + 1, end);
            }
        }
        while record.gaps.len() > MAX_GAPS_PER_ORIGIN {
            if let Some((_, end)) = record.gaps.pop_first() {
                record.forgotten_below = end;
            }
        }
    }

    /// How many origins and gaps are remembered (for tests and memory checks).
    pub fn size(&self) -> (usize, usize) {
        let gaps = self.origins.values().map(|r| r.gaps.len()).sum();
        (self.origins.len(), gaps)
    }
}

/// This process's origin and its next sequence number, drawn again after a fork (the child
/// must not reuse its parent's ids).
static PROCESS_ID: Mutex<Option<(u32, String, u64)>> = Mutex::new(None);

fn next_id() -> (String, u64) {
    next_id_in(&mut PROCESS_ID.lock(), std::process::id())
}

fn next_id_in(state: &mut Option<(u32, String, u64)>, pid: u32) -> (String, u64) {
    let state = match state {
        Some(state) if state.0 == pid => state,
        _ => state.insert((pid, random_origin(pid), 0)),
    };
    let seq = state.2;
    state.2 += 1;
    (state.1.clone(), seq)
}

/// 64 random bits (std's per-process random hash keys, mixed with the pid and the clock) as
/// 16 hex digits.
fn random_origin(pid: u32) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:016x}", RandomState::new().hash_one((pid, nanos)))
}

/// A sequence number past [`MAX_SEQUENCE`] would make the next-expected counter wrap to 0, and
/// the id merge again (issue #21).
fn check_sequence(origin: &str, seq: u64) -> CoreResult<()> {
    if seq > MAX_SEQUENCE {
        return Err(CoreError::value(format!(
            "PendingMetrics ({origin:?}, {seq}) has a sequence number past the largest an \
             export uses ({MAX_SEQUENCE}); it is not merged"
        )));
    }
    Ok(())
}

fn corrupt(why: &str) -> CoreError {
    CoreError::value(format!("not a valid PendingMetrics: {why}"))
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// `s` as the length of its common prefix with `previous` (on a char boundary) and the rest.
fn put_front_coded(out: &mut Vec<u8>, previous: &str, s: &str) {
    let mut shared = previous
        .bytes()
        .zip(s.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !s.is_char_boundary(shared) {
        shared -= 1;
    }
    put_varint(out, shared as u64);
    put_str(out, &s[shared..]);
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// What may still be allocated, of [`MAX_DECODED_BYTES`].
    budget: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> CoreResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| corrupt("it ends early"))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn varint(&mut self) -> CoreResult<u64> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            n |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|v| v >> shift == u64::from(byte & 0x7f))
                .ok_or_else(|| corrupt("a number overflows"))?;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(corrupt("a number overflows"))
    }

    /// Takes `n` bytes from the allocation budget, before they are allocated.
    fn reserve(&mut self, n: usize) -> CoreResult<()> {
        self.budget = self.budget.checked_sub(n).ok_or_else(|| {
            corrupt(&format!(
                "it decodes to more than {} MiB of keys and scenario ids, the limit",
                MAX_DECODED_BYTES >> 20
            ))
        })?;
        Ok(())
    }

    /// A count or length of at least `min_size` bytes each, no more than the bytes left hold.
    fn length(&mut self, min_size: usize) -> CoreResult<usize> {
        let n = self.varint()?;
        let left = (self.data.len() - self.pos) / min_size;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= left)
            .ok_or_else(|| corrupt("it ends early"))
    }

    /// A count of keys or ids of at least `min_size` bytes each, reserved in the budget.
    fn count(&mut self, min_size: usize) -> CoreResult<usize> {
        let n = self.length(min_size)?;
        self.reserve(n.saturating_mul(DECODED_ITEM_OVERHEAD))?;
        Ok(n)
    }

    /// A string after `prefix`.
    fn string_after(&mut self, prefix: &str) -> CoreResult<String> {
        let len = self.length(1)?;
        self.reserve(prefix.len().saturating_add(len))?;
        let bytes = self.take(len)?;
        let rest = std::str::from_utf8(bytes).map_err(|_| corrupt("a string is not UTF-8"))?;
        let mut s = String::with_capacity(prefix.len() + len);
        s.push_str(prefix);
        s.push_str(rest);
        Ok(s)
    }

    fn string(&mut self) -> CoreResult<String> {
        self.string_after("")
    }

    fn front_coded(&mut self, previous: &str) -> CoreResult<String> {
        let shared = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
        let prefix = previous
            .get(..shared)
            .ok_or_else(|| corrupt("a key shares more than its predecessor has"))?;
        self.string_after(prefix)
    }
}

#[cfg(test)]
#[path = "pending_tests.rs"]
mod tests;
