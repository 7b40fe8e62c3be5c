//! The process-wide active catalog: the built-in one, or the built-in one with the price list
//! cached by the last `refresh_catalog` (in this or an earlier process) merged in.
//!
//! The cache lives in `$ART_METRICS_CACHE_DIR`, else `$XDG_CACHE_HOME/art-metrics`, else
//! `~/.cache/art-metrics`. A cached file that cannot be read is ignored: the built-in catalog
//! is used and a warning is queued for the bindings to emit (a bad cache must never stop
//! cost tracking, nor an import).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use super::catalog::{PriceCatalog, PriceOrigin};
use crate::error::{CoreError, CoreResult};

/// File name of the cached price list inside the cache directory.
pub const CACHE_FILE: &str = "price-list.json";
/// Marks a file as ours: `{"format": CACHE_FORMAT, "url": ..., "fetched_at": ..., "prices": {...}}`.
pub const CACHE_FORMAT: &str = "art-metrics-price-cache/1";

static BUILTIN: OnceLock<Arc<PriceCatalog>> = OnceLock::new();
static ACTIVE: RwLock<Option<Arc<PriceCatalog>>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);
static WARNING: Mutex<Option<String>> = Mutex::new(None);

/// The catalog built into the extension.
pub fn builtin() -> Arc<PriceCatalog> {
    Arc::clone(BUILTIN.get_or_init(|| {
        // The embedded file is checked by `cargo test`; a failure here is a build bug.
        Arc::new(PriceCatalog::builtin().expect("the built-in price catalog is valid"))
    }))
}

/// Bumped whenever the active catalog changes, so cached resolutions can be revalidated
/// with one atomic load.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::Acquire)
}

/// The active catalog if it is loaded already (no file is read).
pub fn loaded() -> Option<Arc<PriceCatalog>> {
    ACTIVE.read().as_ref().map(Arc::clone)
}

/// The active catalog, loading the cached one on first use.
pub fn active() -> Arc<PriceCatalog> {
    if let Some(c) = loaded() {
        return c;
    }
    let mut slot = ACTIVE.write();
    if let Some(c) = slot.as_ref() {
        return Arc::clone(c);
    }
    let catalog = load_from_cache_or_builtin();
    *slot = Some(Arc::clone(&catalog));
    catalog
}

/// Forgets the active catalog and loads it again from the cache directory.
pub fn reload() -> Arc<PriceCatalog> {
    let catalog = load_from_cache_or_builtin();
    install(Arc::clone(&catalog));
    catalog
}

/// Makes `catalog` the active one.
pub fn install(catalog: Arc<PriceCatalog>) {
    *ACTIVE.write() = Some(catalog);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The warning queued by the last load of a bad cache file, once.
pub fn take_warning() -> Option<String> {
    WARNING.lock().take()
}

fn load_from_cache_or_builtin() -> Arc<PriceCatalog> {
    let Some(path) = cache_file() else {
        return builtin();
    };
    match load_cached(&path) {
        Ok(Some(catalog)) => Arc::new(catalog),
        Ok(None) => builtin(),
        Err(e) => {
            *WARNING.lock() = Some(format!(
                "Ignoring the cached price catalog, using the built-in one: {e}. \
                 Delete the file or run art_metrics.pricing.refresh_catalog() again."
            ));
            builtin()
        }
    }
}

/// The cache directory, from the environment.
pub fn cache_dir() -> Option<PathBuf> {
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("ART_METRICS_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("art-metrics"));
    }
    non_empty("HOME").map(|h| PathBuf::from(h).join(".cache").join("art-metrics"))
}

/// The cached price map's path.
pub fn cache_file() -> Option<PathBuf> {
    cache_dir().map(|d| d.join(CACHE_FILE))
}

/// Reads a cached price map: `None` when there is none, an error naming the file when it
/// is not one we wrote or does not hold a valid map.
pub fn load_cached(path: &Path) -> CoreResult<Option<PriceCatalog>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CoreError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let corrupt = |why: String| CoreError::Corrupt(format!("{}: {why}", path.display()));
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("not JSON ({e})")))?;
    if value.get("format").and_then(Value::as_str) != Some(CACHE_FORMAT) {
        return Err(corrupt(format!("not an {CACHE_FORMAT} file")));
    }
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let prices = value
        .get("prices")
        .ok_or_else(|| corrupt("no 'prices' map".into()))?;
    let origin = PriceOrigin::Cache {
        path: path.display().to_string(),
        url: text("url"),
        fetched_at: text("fetched_at"),
        format: String::new(),
    };
    // Entries skipped here were reported when the list was refreshed.
    super::refresh::merge_price_list(prices, &builtin(), origin, text("sha256"))
        .map(|m| Some(m.catalog))
        .map_err(|e| corrupt(e.to_string()))
}

/// Writes a downloaded price map (`raw`, already validated) to `path` atomically: a
/// temporary file in the same directory, then a rename.
pub fn write_cached(
    path: &Path,
    raw: &[u8],
    url: &str,
    fetched_at: &str,
    sha256: &str,
) -> CoreResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |what: &str, e: std::io::Error| {
        CoreError::Io(format!(
            "cannot {what} the price cache {}: {e}",
            path.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    let header = serde_json::json!({
        "format": CACHE_FORMAT, "url": url, "fetched_at": fetched_at, "sha256": sha256,
    });
    let mut body = header.to_string();
    body.pop(); // the closing brace: the raw map goes in as-is, without a re-encode.
    body.push_str(",\"prices\":");
    let mut bytes = body.into_bytes();
    bytes.extend_from_slice(raw);
    bytes.push(b'}');
    let tmp = dir.join(format!(".{CACHE_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replace", e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("art-metrics-store-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir.join(CACHE_FILE)
    }

    const MAP: &str = r#"{"gpt-x": {"litellm_provider": "openai", "mode": "chat",
        "input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6},
        "claude-x": {"litellm_provider": "anthropic", "mode": "chat",
        "input_cost_per_token": 3e-6, "output_cost_per_token": 1.5e-5}}"#;

    #[test]
    fn cache_round_trip() {
        let path = temp_file("round-trip");
        assert!(load_cached(&path).unwrap().is_none());
        write_cached(
            &path,
            MAP.as_bytes(),
            "http://x/p.json",
            "2026-01-01T00:00:00+00:00",
            "abc",
        )
        .unwrap();
        let cat = load_cached(&path).unwrap().unwrap();
        assert_eq!(cat.sha256, "abc");
        assert!(matches!(&cat.origin, PriceOrigin::Cache { url, .. } if url == "http://x/p.json"));
        let p = cat.resolve("openai", "openai/gpt-x").unwrap();
        assert_eq!(p.model.src, "litellm");
        // Merged: the built-in models are all still there.
        assert!(cat.resolve("openai", "gpt-4o").is_ok());
        // No temporary file is left behind.
        let files = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(files, 1);
    }

    #[test]
    fn corrupted_cache_files_are_errors_naming_the_file() {
        let path = temp_file("corrupt");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        for content in [
            "garbage",
            r#"{"format": "other"}"#,
            r#"{"format": "art-metrics-price-cache/1"}"#,
        ] {
            std::fs::write(&path, content).unwrap();
            let err = load_cached(&path).unwrap_err();
            assert!(matches!(err, CoreError::Corrupt(_)), "{err:?}");
            assert!(err.to_string().contains(CACHE_FILE), "{err}");
        }
    }

    #[test]
    fn builtin_catalog_is_shared() {
        assert!(Arc::ptr_eq(&builtin(), &builtin()));
    }
}
