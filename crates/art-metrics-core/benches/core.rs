//! Plain timing of the core's hot paths (no Python): `cargo bench --bench core`.
//! Prints nanoseconds per operation; figures against the reference are in bench/ (Python).

use std::hint::black_box;
use std::time::Instant;

use art_metrics_core::metrics::Builder;

fn time<F: FnMut()>(name: &str, iters: u32, mut f: F) {
    f();
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    let per = start.elapsed().as_secs_f64() / f64::from(iters);
    if per > 1e-3 {
        println!("{name:<48} {:>10.3} ms", per * 1e3);
    } else {
        println!("{name:<48} {:>10.1} ns", per * 1e9);
    }
}

fn main() {
    for n_keys in [50usize, 1000] {
        let b = Builder::new("train").unwrap();
        let keys: Vec<String> = (0..n_keys).map(|i| format!("train/k{i}")).collect();
        for k in &keys {
            b.add_cost(k, 0.1).unwrap();
        }
        let mut i = 0;
        time(
            &format!("add_cost, {n_keys} distinct keys pending"),
            1_000_000,
            || {
                b.add_cost(black_box(&keys[i % n_keys]), 0.001).unwrap();
                i += 1;
            },
        );
    }
    let b = Builder::new("train").unwrap();
    let keys: Vec<String> = (0..5000).map(|i| format!("train/x{i}/y")).collect();
    time("flush of 5,000 distinct cost parents", 50, || {
        for k in &keys {
            b.add_cost(k, 0.01).unwrap();
        }
        black_box(b.flush());
    });
    // As bench/compare.py measures it: a fresh run, so every running total is new.
    time("flush of 5,000 cost parents, fresh run", 50, || {
        let b = Builder::new("train").unwrap();
        for k in &keys {
            b.add_cost(k, 0.01).unwrap();
        }
        black_box(b.flush());
    });
    time("  (the 5,000 adds alone)", 50, || {
        let b = Builder::new("train").unwrap();
        for k in &keys {
            b.add_cost(k, 0.01).unwrap();
        }
    });
}
