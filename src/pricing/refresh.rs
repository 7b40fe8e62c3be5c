//! `refresh_catalog`: download a litellm-format price map, validate it, cache it and make it
//! the active catalog. Any failure leaves the previous catalog (and cache file) in place.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::catalog::{PriceCatalog, PriceOrigin};
use super::store;
use crate::error::{CoreError, CoreResult};

/// litellm's maintained price map.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

/// The longest download `refresh_catalog` waits for: a day (a longer wait is a mistake,
/// and an unbounded one overflows the clock's arithmetic).
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// A download timeout from a number of seconds: positive, finite and at most a day; an
/// error naming `timeout` otherwise.
pub fn timeout_from_secs(secs: f64) -> CoreResult<Duration> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        return Ok(Duration::from_secs_f64(secs));
    }
    Err(CoreError::value(format!(
        "timeout must be a positive number of seconds, at most {MAX_TIMEOUT_SECS}, got {secs}"
    )))
}

/// Downloads `url` with a whole-request `timeout`.
pub fn download(url: &str, timeout: Duration) -> CoreResult<Vec<u8>> {
    let fail = |e: reqwest::Error| {
        if e.is_timeout() {
            CoreError::Timeout(format!(
                "Downloading the price catalog from {url} timed out after {:.3}s",
                timeout.as_secs_f64()
            ))
        } else {
            CoreError::Network(format!(
                "Could not download the price catalog from {url}: {}",
                error_chain(&e)
            ))
        }
    };
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(fail)?;
    let response = client.get(url).send().map_err(fail)?;
    let status = response.status();
    if !status.is_success() {
        return Err(CoreError::Network(format!(
            "Could not download the price catalog from {url}: HTTP {status}"
        )));
    }
    Ok(response.bytes().map_err(fail)?.to_vec())
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Downloads, validates, caches and installs the price map at `url`.
pub fn refresh(url: &str, timeout: Duration) -> CoreResult<Arc<PriceCatalog>> {
    let path = store::cache_file().ok_or_else(|| {
        CoreError::Io(
            "No cache directory: set ART_METRICS_CACHE_DIR, XDG_CACHE_HOME or HOME".into(),
        )
    })?;
    let raw = download(url, timeout)?;
    let value: Value = serde_json::from_slice(&raw).map_err(|e| {
        CoreError::Corrupt(format!("The price catalog at {url} is not valid JSON: {e}"))
    })?;
    let sha256 = sha256_hex(&raw);
    let fetched_at = utc_now();
    let origin = PriceOrigin::Cache {
        path: path.display().to_string(),
        url: url.to_owned(),
        fetched_at: fetched_at.clone(),
    };
    let catalog = PriceCatalog::from_litellm_map(&value, &store::builtin(), sha256.clone(), origin)
        .map_err(|e| CoreError::Corrupt(format!("The price catalog at {url} was refused: {e}")))?;
    store::write_cached(&path, &raw, url, &fetched_at, &sha256)?;
    let catalog = Arc::new(catalog);
    store::install(Arc::clone(&catalog));
    Ok(catalog)
}

/// Now as `YYYY-MM-DDTHH:MM:SS+00:00`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// Seconds since the epoch as an ISO 8601 UTC timestamp (civil-from-days, H. Hinnant).
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// SHA-256 of `data`, hex (the catalog records it to say which map it was built from).
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn timeouts_are_positive_finite_and_at_most_a_day() {
        assert_eq!(timeout_from_secs(0.5), Ok(Duration::from_millis(500)));
        assert_eq!(
            timeout_from_secs(MAX_TIMEOUT_SECS),
            Ok(Duration::from_secs(86_400))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 86_400.5, 1e20, f64::MAX] {
            let err = timeout_from_secs(bad).unwrap_err();
            assert!(matches!(err, CoreError::InvalidValue(_)), "{bad}: {err:?}");
            assert!(err.to_string().starts_with("timeout must be"), "{err}");
        }
    }

    #[test]
    fn utc_format() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(format_utc(1_709_210_096), "2024-02-29T12:34:56+00:00");
    }

    #[test]
    fn download_errors_are_clear() {
        // Nothing listens on port 9 of localhost (discard, normally closed).
        let err = download("http://127.0.0.1:9/x.json", Duration::from_secs(5)).unwrap_err();
        assert!(matches!(err, CoreError::Network(_)), "{err:?}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }
}
