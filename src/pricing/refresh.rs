//! `refresh_catalog`: download a litellm-format price map, validate it, cache it and make it
//! the active catalog. Any failure leaves the previous catalog (and cache file) in place.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::catalog::{PriceCatalog, PriceOrigin};
use super::store;
use crate::error::{CoreError, CoreResult};

/// litellm's maintained price map.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";

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
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in chunk.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (a, b) in h.iter_mut().zip(v) {
            *a = a.wrapping_add(b);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
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
