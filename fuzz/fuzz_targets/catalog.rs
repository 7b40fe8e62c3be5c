#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| art_metrics_fuzz::check_catalog(data));
