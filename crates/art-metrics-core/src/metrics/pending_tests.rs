use super::*;
use proptest::prelude::*;

fn worker_step(ctx: &str, judge: f64, ids: &[&str]) -> PendingMetrics {
    let w = Builder::new(ctx).unwrap();
    w.add_cost(&format!("{ctx}/judge"), judge).unwrap();
    w.add_metric("time/step_actor_s", 2.0).unwrap();
    w.add_data(
        None,
        None,
        Some(ids.iter().map(std::string::ToString::to_string).collect()),
    )
    .unwrap();
    w.export_pending()
}

#[test]
fn drain_returns_raw_leaves_drops_ids_and_keeps_totals() {
    let b = Builder::new("train").unwrap();
    b.add_cost("train/judge", 1.0).unwrap();
    b.flush();
    b.add_cost("train/judge", 0.5).unwrap();
    b.add_cost("train/other/x", 0.25).unwrap();
    b.add_data(Some(2.0), None, Some(vec!["s1".into()]))
        .unwrap();
    let eval = b.for_cost_context("eval", None).unwrap().unwrap();
    eval.add_cost("eval/judge", 4.0).unwrap();
    let before = b.state();
    let drained = b.drain_pending();
    assert_eq!(
        drained,
        [
            ("costs/train/judge".to_string(), 0.5),
            ("costs/train/other/x".to_string(), 0.25),
            ("data/step_num_scenarios".to_string(), 2.0),
        ]
    );
    assert_eq!(b.state(), before);
    assert!(b.flush().is_empty());
    assert!(b.drain_pending().is_empty());
    assert_eq!(eval.flush()["costs/eval/judge"], 4.0);
    // The drained ids were dropped, never counted.
    assert!(b.state().unique_scenario_ids.is_empty());
}

#[test]
fn merge_adds_what_the_worker_recorded_into_its_scope() {
    let driver = Builder::new("train").unwrap();
    let eval = driver.for_cost_context("eval", None).unwrap().unwrap();
    driver.add_cost("train/judge", 1.0).unwrap();
    let p = worker_step("eval", 0.25, &["s1", "s2"]);
    assert_eq!(p.cost_context(), "eval");
    assert!(driver.merge_pending(&p).unwrap());
    let r = eval.flush();
    assert_eq!(r["costs/eval/judge"], 0.25);
    assert_eq!(r["time/step_actor_s"], 2.0);
    assert_eq!(r["data/cum/num_unique_scenarios"], 2.0);
    let r = driver.flush();
    assert_eq!(r["costs/train/judge"], 1.0);
    assert_eq!(r["costs/cum/all"], 1.25);
}

#[test]
fn merging_twice_is_a_no_op() {
    let driver = Builder::new("train").unwrap();
    let p = worker_step("train", 0.5, &["a"]);
    let copy = PendingMetrics::from_bytes(&p.to_bytes()).unwrap();
    assert!(driver.merge_pending(&p).unwrap());
    assert!(!driver.merge_pending(&p).unwrap());
    assert!(!driver.merge_pending(&copy).unwrap());
    // Through another builder of the same run, after a flush: still merged.
    assert_eq!(driver.flush()["costs/train/judge"], 0.5);
    let other = driver.for_cost_context("eval", None).unwrap().unwrap();
    assert!(!other.merge_pending(&copy).unwrap());
    assert!(driver.flush().is_empty());
    // Another run has not merged it.
    assert!(Builder::new("train").unwrap().merge_pending(&p).unwrap());
}

#[test]
fn a_refused_merge_adds_nothing_and_can_be_retried() {
    let driver = Builder::new("train").unwrap();
    driver.add_cost("train", 1.0).unwrap(); // a leaf that the worker's keys descend from
    let p = worker_step("train", 0.5, &["a"]);
    let e = driver.merge_pending(&p).unwrap_err().to_string();
    assert!(e.contains("costs/train"), "{e}");
    let r = driver.flush();
    assert_eq!(r["costs/train"], 1.0);
    assert!(!r.contains_key("time/step_actor_s"));
    assert!(!r.contains_key("data/cum/num_unique_scenarios"));
    // Not remembered as merged: once the conflict is gone it merges.
    assert!(driver.merge_pending(&p).unwrap());
    assert_eq!(driver.flush()["costs/train/judge"], 0.5);
}

#[test]
fn an_overflowing_merge_adds_nothing() {
    let driver = Builder::new("train").unwrap();
    driver.add_metric("time/a", 1e308).unwrap();
    let w = Builder::new("train").unwrap();
    w.add_metric("time/b", 1.0).unwrap();
    w.add_metric("time/a", 1e308).unwrap();
    let p = w.export_pending();
    assert!(driver.merge_pending(&p).is_err());
    assert_eq!(driver.drain_pending(), [("time/a".to_string(), 1e308)]);
}

#[test]
fn export_takes_the_step_and_numbers_exports() {
    let w = Builder::new("train").unwrap();
    w.add_cost("train/j", 1.0).unwrap();
    let a = w.export_pending();
    let b = w.export_pending();
    assert_eq!(a.values().len(), 1);
    assert!(b.values().is_empty() && b.scenario_ids().is_empty());
    assert_eq!(a.origin(), b.origin());
    assert_eq!(b.sequence(), a.sequence() + 1);
    assert_eq!(a.origin().len(), 16);
    // An empty export still merges once.
    let driver = Builder::new("train").unwrap();
    assert!(driver.merge_pending(&b).unwrap());
    assert!(!driver.merge_pending(&b).unwrap());
}

#[test]
fn bytes_round_trip_and_stay_small() {
    let w = Builder::new("train").unwrap();
    for i in 0..20 {
        w.add_cost(
            &format!("train/judge_{i:02}/correctness"),
            0.001 * f64::from(i),
        )
        .unwrap();
    }
    w.add_data(None, None, Some(vec!["scenario-0001".into(), "é".into()]))
        .unwrap();
    let p = w.export_pending();
    let bytes = p.to_bytes();
    assert!(bytes.len() < 600, "{} bytes", bytes.len());
    assert_eq!(PendingMetrics::from_bytes(&bytes).unwrap(), p);
}

#[test]
fn bad_bytes_are_refused_with_a_reason() {
    let p = worker_step("train", 0.5, &["a"]);
    let good = p.to_bytes();
    let err = |b: &[u8]| PendingMetrics::from_bytes(b).unwrap_err().to_string();
    assert!(err(b"pickle").contains("magic"));
    let mut future = good.clone();
    future[4] = FORMAT_VERSION + 1;
    let e = err(&future);
    assert!(e.contains("version 2") && e.contains("newer"), "{e}");
    assert!(err(&good[..good.len() - 1]).contains("ends early"));
    let mut longer = good.clone();
    longer.push(0);
    assert!(err(&longer).contains("after its end"));

    let encode = |values: Vec<(&str, f64)>| {
        PendingMetrics {
            origin: "o".into(),
            sequence: 0,
            cost_context: "train".into(),
            buffer_scope: "train".into(),
            values: values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            scenario_ids: vec![],
        }
        .to_bytes()
    };
    assert!(err(&encode(vec![("time/x", f64::NAN)])).contains("'time/x'"));
    assert!(err(&encode(vec![("costs/cum/all", 1.0)])).contains("'costs/cum/all'"));
    assert!(err(&encode(vec![("nosection", 1.0)])).contains("'nosection'"));
    assert!(err(&encode(vec![("costs/a", 1.0), ("costs/a/b", 1.0)])).contains("'costs/a'"));
    assert!(err(&encode(vec![("time/x", 1.0), ("time/x", 1.0)])).contains("twice"));
    let mut blank = PendingMetrics::from_bytes(&encode(vec![])).unwrap();
    blank.buffer_scope = " ".into();
    assert!(err(&blank.to_bytes()).contains("buffer_scope"));
}

#[test]
fn merged_ids_are_exact_in_any_order_and_stay_small() {
    let mut m = MergedIds::default();
    let order = [5u64, 0, 2, 9, 1, 3, 4, 8, 6, 7];
    for (i, &seq) in order.iter().enumerate() {
        assert!(!m.contains("o", seq).unwrap());
        m.insert("o", seq);
        for &done in &order[..=i] {
            assert!(m.contains("o", done).unwrap());
        }
        for &later in &order[i + 1..] {
            assert!(!m.contains("o", later).unwrap());
        }
    }
    assert_eq!(m.size(), (1, 0));
    assert!(!m.contains("other", 0).unwrap());
}

#[test]
fn too_many_gaps_forget_the_oldest_and_refuse_it_later() {
    let mut m = MergedIds::default();
    // Every even export is lost: one gap each.
    for seq in (1..=2 * (MAX_GAPS_PER_ORIGIN as u64 + 10)).step_by(2) {
        m.insert("o", seq);
    }
    assert_eq!(m.size(), (1, MAX_GAPS_PER_ORIGIN));
    assert!(m.contains("o", 0).is_err());
    assert!(m.contains("o", 1).is_err());
    let late = 2 * (MAX_GAPS_PER_ORIGIN as u64);
    assert!(!m.contains("o", late).unwrap());
    assert!(m.contains("o", late + 1).unwrap());
}

#[test]
fn a_forked_child_draws_a_new_origin() {
    let mut state = None;
    let (a, first) = next_id_in(&mut state, 10);
    let (b, second) = next_id_in(&mut state, 10);
    assert_eq!((a.as_str(), first, second), (b.as_str(), 0, 1));
    // After a fork the pid differs: a new origin, numbered from 0.
    let (c, seq) = next_id_in(&mut state, 11);
    assert_ne!(c, a);
    assert_eq!(seq, 0);
}

/// A payload's header: magic, version, names and `sequence`.
fn header(sequence: u64) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.push(FORMAT_VERSION);
    put_str(&mut out, "origin");
    put_varint(&mut out, sequence);
    put_str(&mut out, "train");
    put_str(&mut out, "train");
    out
}

/// No values, then `count` scenario ids, each repeating all of the first one, `len` bytes.
fn repeated_ids(len: usize, count: u64) -> Vec<u8> {
    let mut out = header(0);
    put_varint(&mut out, 0);
    put_varint(&mut out, count);
    put_front_coded(&mut out, "", &"a".repeat(len));
    for _ in 1..count {
        put_varint(&mut out, len as u64);
        put_str(&mut out, "");
    }
    out
}

#[test]
fn a_small_payload_that_decodes_to_gigabytes_is_refused() {
    // Issue #21: 488 KiB naming a 100,000-byte id 97,000 times (9.7 GB) aborted the process.
    let data = repeated_ids(100_000, 97_000);
    assert!(data.len() < 500 * 1024, "{}", data.len());
    let e = PendingMetrics::from_bytes(&data).unwrap_err().to_string();
    assert!(e.contains("more than 64 MiB"), "{e}");
    // Keys front-coded the same way are refused the same way.
    let mut keys = header(0);
    let long = format!("time/{}", "k".repeat(10_000));
    put_varint(&mut keys, 7_000);
    let mut previous = String::new();
    for i in 0..7_000 {
        let key = format!("{long}/{i:06}");
        put_front_coded(&mut keys, &previous, &key);
        keys.extend_from_slice(&1.0f64.to_le_bytes());
        previous = key;
    }
    put_varint(&mut keys, 0);
    let e = PendingMetrics::from_bytes(&keys).unwrap_err().to_string();
    assert!(e.contains("more than 64 MiB"), "{e}");
}

#[test]
fn the_decoding_limit_counts_bytes_and_items() {
    let mib = 1 << 20;
    // 60 ids of 1 MiB fit in 64 MiB; 70 do not.
    let ok = PendingMetrics::from_bytes(&repeated_ids(mib, 60)).unwrap();
    assert_eq!(ok.scenario_ids().len(), 60);
    assert!(PendingMetrics::from_bytes(&repeated_ids(mib, 70)).is_err());
    // Many empty ids cost their overhead: a count the bytes hold, past the limit in items.
    let items = (MAX_DECODED_BYTES / DECODED_ITEM_OVERHEAD) as u64;
    assert!(PendingMetrics::from_bytes(&repeated_ids(0, items / 2)).is_ok());
    let e = PendingMetrics::from_bytes(&repeated_ids(0, items + 1))
        .unwrap_err()
        .to_string();
    assert!(e.contains("64 MiB"), "{e}");
    // A count or length past the bytes left is refused before anything is allocated.
    for huge in [u64::MAX, 1 << 40, 1 << 20] {
        let mut data = header(0);
        put_varint(&mut data, huge);
        let e = PendingMetrics::from_bytes(&data).unwrap_err().to_string();
        assert!(e.contains("ends early"), "{e}");
        let mut data = MAGIC.to_vec();
        data.push(FORMAT_VERSION);
        put_varint(&mut data, huge);
        let e = PendingMetrics::from_bytes(&data).unwrap_err().to_string();
        assert!(e.contains("ends early"), "{e}");
    }
}

#[test]
fn the_largest_sequence_number_is_refused_not_merged_again() {
    // Issue #21: sequence 2^64 - 1 wrapped the next-expected counter and merged again.
    let mut data = header(u64::MAX);
    put_varint(&mut data, 0);
    put_varint(&mut data, 0);
    let e = PendingMetrics::from_bytes(&data).unwrap_err().to_string();
    assert!(e.contains("sequence number 18446744073709551615"), "{e}");

    let driver = Builder::new("train").unwrap();
    let mut p = worker_step("train", 0.5, &["a"]);
    p.sequence = u64::MAX;
    for _ in 0..3 {
        let e = driver.merge_pending(&p).unwrap_err().to_string();
        assert!(e.contains("sequence number"), "{e}");
    }
    assert!(driver.flush().is_empty());
    let mut m = MergedIds::default();
    assert!(m.contains("o", u64::MAX).is_err());
    m.insert("o", u64::MAX);
    assert_eq!(m.size(), (0, 0));

    // The largest allowed one merges once, and the counter after it does not wrap.
    p.sequence = MAX_SEQUENCE;
    let copy = PendingMetrics::from_bytes(&p.to_bytes()).unwrap();
    assert!(driver.merge_pending(&copy).unwrap());
    assert!(!driver.merge_pending(&copy).unwrap());
    assert!(!driver.merge_pending(&p).unwrap());
    assert_eq!(driver.flush()["costs/train/judge"], 0.5);
    p.sequence = 0;
    assert!(driver.merge_pending(&p).unwrap());
}

/// A payload with long shared prefixes, for the mutation fuzzer to break.
fn fuzz_seed() -> Vec<u8> {
    let w = Builder::new("train").unwrap();
    for i in 0..8 {
        w.add_cost(&format!("train/judge_{i}/{}", "x".repeat(40)), 0.5)
            .unwrap();
    }
    w.add_data(
        None,
        None,
        Some((0..8).map(|i| format!("scenario-{i:04}")).collect()),
    )
    .unwrap();
    w.export_pending().to_bytes()
}

proptest! {
    #[test]
    fn decoding_any_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = PendingMetrics::from_bytes(&data);
        let mut framed = MAGIC.to_vec();
        framed.push(FORMAT_VERSION);
        framed.extend_from_slice(&data);
        let _ = PendingMetrics::from_bytes(&framed);
    }

    #[test]
    fn merged_ids_match_a_set(seqs in proptest::collection::vec(0u64..64, 0..200)) {
        let mut m = MergedIds::default();
        let mut set = std::collections::HashSet::new();
        for seq in seqs {
            prop_assert_eq!(m.contains("o", seq).unwrap(), set.contains(&seq));
            if set.insert(seq) {
                m.insert("o", seq);
            }
        }
        for seq in 0..70 {
            prop_assert_eq!(m.contains("o", seq).unwrap(), set.contains(&seq));
        }
    }

    /// Truncated, overwritten and huge-length payloads: an error or a value, never a panic or
    /// an abort (a huge allocation would abort this test binary).
    #[test]
    fn decoding_mutated_payloads_never_panics(
        cut in 0usize..400,
        edits in proptest::collection::vec((0usize..400, any::<u8>()), 0..6),
        at in 0usize..400,
        huge in prop_oneof![Just(u64::MAX), Just(1u64 << 33), Just(100_000u64), any::<u64>()],
    ) {
        let seed = fuzz_seed();
        let _ = PendingMetrics::from_bytes(&seed[..cut.min(seed.len())]);
        let mut edited = seed.clone();
        for (i, b) in &edits {
            let i = i % edited.len();
            edited[i] = *b;
        }
        let _ = PendingMetrics::from_bytes(&edited);
        let mut spliced = seed[..at.min(seed.len())].to_vec();
        put_varint(&mut spliced, huge);
        spliced.extend_from_slice(&seed[at.min(seed.len())..]);
        let _ = PendingMetrics::from_bytes(&spliced);
        // The same huge number in place of the varint at `at`, when one starts there.
        if let Some(rest) = seed.get(at..) {
            let mut r = Reader { data: rest, pos: 0, budget: MAX_DECODED_BYTES };
            if r.varint().is_ok() {
                let mut replaced = seed[..at].to_vec();
                put_varint(&mut replaced, huge);
                replaced.extend_from_slice(&rest[r.pos..]);
                let _ = PendingMetrics::from_bytes(&replaced);
            }
        }
    }
}
