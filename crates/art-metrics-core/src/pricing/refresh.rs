//! `refresh_catalog`: read a price list (an https URL, a local path or a `file://` URL), in
//! genai-prices' or litellm's format (detected), merge it into the built-in catalog, cache it
//! and make it the active catalog. Bad entries are skipped one by one (each named for a
//! warning); any failure leaves the previous catalog (and cache file) in place.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::catalog::{PriceCatalog, PriceOrigin, SourceInfo};
use super::merge::{CatalogChanges, MergeReport, merge_catalog};
use super::prices::format_utc;
use super::{genai, litellm, store};
use crate::error::{CoreError, CoreResult};

/// genai-prices' data file at its 0.2.5 release (the embedded catalog's primary source): a
/// pinned release, not a moving branch.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/pydantic/genai-prices/refs/tags/v0.2.5/prices/data.json";

/// The longest wait `refresh_catalog` allows: a day (a longer wait is a mistake, and an
/// unbounded one overflows the clock's arithmetic).
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// The largest price list read: litellm's map is ~1.5 MiB, genai-prices' data ~1 MiB.
pub const MAX_BODY_BYTES: u64 = 64 << 20;

/// How the caller spells the options a refresh error points at: errors from
/// `refresh_catalog` name its arguments, errors from `art-metrics refresh` its flags
/// (issue #22 part 4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionNames {
    pub timeout: &'static str,
    pub allow_insecure: &'static str,
}

impl OptionNames {
    /// `pricing.refresh_catalog(...)`'s keyword arguments.
    pub const API: OptionNames = OptionNames {
        timeout: "timeout",
        allow_insecure: "allow_insecure=True",
    };
    /// `art-metrics refresh`'s flags.
    pub const CLI: OptionNames = OptionNames {
        timeout: "--timeout",
        allow_insecure: "--allow-insecure",
    };
}

/// A timeout from a number of seconds: positive, finite and at most a day; an error naming
/// the timeout option (`names`) otherwise.
pub fn timeout_from_secs(secs: f64, names: OptionNames) -> CoreResult<Duration> {
    if secs.is_finite() && secs > 0.0 && secs <= MAX_TIMEOUT_SECS {
        return Ok(Duration::from_secs_f64(secs));
    }
    Err(CoreError::value(format!(
        "{} must be a positive number of seconds, at most {MAX_TIMEOUT_SECS}, got {secs}",
        names.timeout
    )))
}

/// Where a price list comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Url(String),
    File(std::path::PathBuf),
}

impl Source {
    /// Reads a `source` argument: `https://` (or `http://` with `allow_insecure`), `file://`,
    /// or a local path; errors name the options as `names` spells them.
    pub fn parse(source: &str, allow_insecure: bool, names: OptionNames) -> CoreResult<Source> {
        let s = source.trim();
        let lower = s.to_ascii_lowercase();
        if let Some(path) = s.get(7..).filter(|_| lower.starts_with("file://")) {
            return Ok(Source::File(path.into()));
        }
        if lower.starts_with("https://") {
            return Ok(Source::Url(s.to_owned()));
        }
        if lower.starts_with("http://") {
            if allow_insecure {
                return Ok(Source::Url(s.to_owned()));
            }
            return Err(CoreError::value(format!(
                "source {s} is plain http: prices could be altered in transit; use https, or \
                 pass {}",
                names.allow_insecure
            )));
        }
        if lower.contains("://") {
            return Err(CoreError::value(format!(
                "source {s} must be an https URL, a file:// URL or a local path"
            )));
        }
        if s.is_empty() {
            return Err(CoreError::empty("source"));
        }
        Ok(Source::File(s.into()))
    }
}

/// How far a price list's read has come: bytes received and the announced length, updated
/// as the body arrives and readable from any thread (the CLI draws its progress bar from it).
#[derive(Debug, Default)]
pub struct Progress {
    received: AtomicU64,
    /// The announced length plus one; 0 while unknown.
    total: AtomicU64,
}

impl Progress {
    /// Bytes read so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// The announced length (`Content-Length`, a file's size), if known.
    pub fn total(&self) -> Option<u64> {
        self.total.load(Ordering::Relaxed).checked_sub(1)
    }

    fn start(&self, total: Option<u64>) {
        self.received.store(0, Ordering::Relaxed);
        self.total
            .store(total.map_or(0, |n| n.saturating_add(1)), Ordering::Relaxed);
    }
}

/// A reader that counts what passes through it into a [`Progress`].
struct Counted<'a, R> {
    inner: R,
    progress: &'a Progress,
    /// When the whole download must be done (a server sending a byte at a time never times
    /// out a single read).
    deadline: Option<std::time::Instant>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self
            .deadline
            .is_some_and(|d| std::time::Instant::now() >= d)
        {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        let n = self.inner.read(buf)?;
        self.progress
            .received
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn too_large(what: &str) -> CoreError {
    CoreError::value(format!(
        "The price list at {what} is larger than {} MiB; refused",
        MAX_BODY_BYTES >> 20
    ))
}

/// Reads at most [`MAX_BODY_BYTES`] from `r`; an error when there is more.
fn read_capped(mut r: impl Read, what: &str) -> std::io::Result<Result<Vec<u8>, CoreError>> {
    let mut body = Vec::new();
    (&mut r).take(MAX_BODY_BYTES + 1).read_to_end(&mut body)?;
    if body.len() as u64 > MAX_BODY_BYTES {
        return Ok(Err(too_large(what)));
    }
    Ok(Ok(body))
}

/// Downloads `url` within `timeout` (from connecting to the last byte: a read is refused
/// once it has passed), capped, counting the bytes into `progress`. Redirects stay on https
/// (`allow_insecure` lets them go to http; never to another scheme), at most 10.
pub fn download(
    url: &str,
    timeout: Duration,
    allow_insecure: bool,
    names: OptionNames,
    progress: &Progress,
) -> CoreResult<Vec<u8>> {
    let deadline = std::time::Instant::now() + timeout;
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
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        match redirect_refused(
            attempt.url(),
            attempt.previous().len(),
            allow_insecure,
            names,
        ) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    });
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .redirect(redirects)
        .build()
        .map_err(fail)?;
    let response = client.get(url).send().map_err(fail)?;
    let status = response.status();
    if !status.is_success() {
        return Err(CoreError::Network(format!(
            "Could not download the price catalog from {url}: HTTP {status}"
        )));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY_BYTES)
    {
        return Err(too_large(url));
    }
    progress.start(response.content_length());
    let body = Counted {
        inner: response,
        progress,
        deadline: Some(deadline),
    };
    read_capped(body, url).map_err(|e| {
        let timed_out = e
            .get_ref()
            .and_then(|r| r.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_timeout)
            || e.kind() == std::io::ErrorKind::TimedOut;
        if timed_out {
            CoreError::Timeout(format!(
                "Downloading the price catalog from {url} timed out after {:.3}s",
                timeout.as_secs_f64()
            ))
        } else {
            CoreError::Network(format!(
                "Could not download the price catalog from {url}: {e}"
            ))
        }
    })?
}

/// Why a redirect to `to`, after `hops` earlier ones, is not followed (None: follow it):
/// a price list stays on https (http only with `allow_insecure`), within 10 redirects.
fn redirect_refused(
    to: &reqwest::Url,
    hops: usize,
    allow_insecure: bool,
    names: OptionNames,
) -> Option<String> {
    let scheme = to.scheme();
    if hops > 10 {
        Some("more than 10 redirects".into())
    } else if scheme == "https" || (allow_insecure && scheme == "http") {
        None
    } else {
        Some(format!(
            "redirected to {to}: a price list is only read over https (http with {})",
            names.allow_insecure
        ))
    }
}

fn read_file(path: &std::path::Path, progress: &Progress) -> CoreResult<Vec<u8>> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| CoreError::Io(format!("cannot read the price list {shown}: {e}"));
    let file = std::fs::File::open(path).map_err(io)?;
    progress.start(file.metadata().ok().map(|m| m.len()));
    let counted = Counted {
        inner: file,
        progress,
        deadline: None,
    };
    read_capped(counted, &shown).map_err(io)?
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

/// A price list merged into `base`: the models it prices (bad ones named in `skipped`) and
/// the terms kept from the models they replaced.
pub struct Merged {
    pub catalog: PriceCatalog,
    pub skipped: Vec<String>,
    pub report: MergeReport,
}

/// Parses a price list in either format (detected) and merges it into `base`.
pub fn merge_price_list(
    data: &Value,
    base: &PriceCatalog,
    origin: PriceOrigin,
    sha256: String,
) -> CoreResult<Merged> {
    let (format, parsed) = if genai::is_genai_prices(data) {
        ("genai-prices", genai::parse(data, base))
    } else if litellm::is_litellm(data) {
        ("litellm", litellm::parse(data, base))
    } else {
        return Err(CoreError::Corrupt(
            "not a price list: expected genai-prices' data (a list of providers with \
             'models') or a litellm price map (model names to entries with 'litellm_provider')"
                .into(),
        ));
    };
    if parsed.models.is_empty() {
        let mut msg =
            format!("the {format} price list prices no model of a provider the catalog covers");
        if !parsed.skipped.is_empty() {
            msg.push_str("; skipped: ");
            msg.push_str(&parsed.skipped.join("; "));
        }
        return Err(CoreError::Corrupt(msg));
    }
    let (url, fetched_at) = match &origin {
        PriceOrigin::Cache {
            url, fetched_at, ..
        } => (url.clone(), fetched_at.clone()),
        PriceOrigin::Builtin => (String::new(), String::new()),
    };
    let origin = match origin {
        PriceOrigin::Cache {
            path,
            url,
            fetched_at,
            ..
        } => PriceOrigin::Cache {
            path,
            url,
            fetched_at,
            format: format.into(),
        },
        PriceOrigin::Builtin => PriceOrigin::Builtin,
    };
    let source = SourceInfo {
        name: format!("{format} (refreshed {fetched_at})"),
        version: "refreshed".into(),
        url,
    };
    let (catalog, report) = merge_catalog(base, parsed.models, origin, source, sha256);
    Ok(Merged {
        catalog,
        skipped: parsed.skipped,
        report,
    })
}

/// A refresh's outcome: the catalog now active and what changed against the one it replaced.
pub struct Refreshed {
    pub catalog: Arc<PriceCatalog>,
    pub changes: CatalogChanges,
}

fn cache_path() -> CoreResult<std::path::PathBuf> {
    store::cache_file().ok_or_else(|| {
        CoreError::Io(
            "No cache directory: set ART_METRICS_CACHE_DIR, XDG_CACHE_HOME or HOME".into(),
        )
    })
}

/// Reads, validates, merges, caches and installs the price list at `source`.
/// `progress` counts the bytes read.
pub fn refresh(
    source: &str,
    timeout: Duration,
    allow_insecure: bool,
    names: OptionNames,
    progress: &Progress,
) -> CoreResult<Refreshed> {
    let parsed_source = Source::parse(source, allow_insecure, names)?;
    cache_path()?;
    let started = std::time::Instant::now();
    let raw = match &parsed_source {
        Source::Url(url) => download(url, timeout, allow_insecure, names, progress)?,
        Source::File(p) => read_file(p, progress)?,
    };
    install_price_list(&raw, source.trim(), || {
        if started.elapsed() > timeout {
            return Err(CoreError::Timeout(format!(
                "Refreshing the price catalog from {source} took longer than {:.3}s",
                timeout.as_secs_f64()
            )));
        }
        Ok(())
    })
}

/// Validates, merges, caches and installs a price list already read (an installed
/// genai-prices package's data, `refresh_catalog(from_package=True)`); `source` says where
/// it came from.
pub fn refresh_from_data(raw: &[u8], source: &str) -> CoreResult<Refreshed> {
    cache_path()?;
    install_price_list(raw, source, || Ok(()))
}

/// Merges `raw` into the built-in catalog, then (once `in_time` agrees) caches and installs
/// it; the changes are against the catalog active until then.
fn install_price_list(
    raw: &[u8],
    source: &str,
    in_time: impl FnOnce() -> CoreResult<()>,
) -> CoreResult<Refreshed> {
    let path = cache_path()?;
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        CoreError::Corrupt(format!("The price list at {source} is not valid JSON: {e}"))
    })?;
    let sha256 = sha256_hex(raw);
    let fetched_at = utc_now();
    let origin = PriceOrigin::Cache {
        path: path.display().to_string(),
        url: source.to_owned(),
        fetched_at: fetched_at.clone(),
        format: String::new(),
    };
    let merged = merge_price_list(&value, &store::builtin(), origin, sha256.clone())
        .map_err(|e| CoreError::Corrupt(format!("The price list at {source} was refused: {e}")))?;
    in_time()?;
    let before = store::active();
    store::write_cached(&path, raw, source, &fetched_at, &sha256)?;
    let catalog = Arc::new(merged.catalog);
    store::install(Arc::clone(&catalog));
    let changes = CatalogChanges::between(&before, &catalog, merged.report, merged.skipped);
    Ok(Refreshed { catalog, changes })
}

/// Now as `YYYY-MM-DDTHH:MM:SS+00:00`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

/// SHA-256 of `data`, hex (the catalog records it to say which map it was built from).
pub fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write;
    Sha256::digest(data)
        .iter()
        .fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_every_byte_read_against_the_announced_length() {
        let progress = Progress::default();
        assert_eq!((progress.received(), progress.total()), (0, None));
        let path =
            std::env::temp_dir().join(format!("art-metrics-progress-{}", std::process::id()));
        std::fs::write(&path, vec![b'x'; 100_000]).unwrap();
        let body = read_file(&path, &progress).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(body.len(), 100_000);
        assert_eq!(
            (progress.received(), progress.total()),
            (100_000, Some(100_000))
        );

        // A reader of unknown length: counted as it goes, no total.
        progress.start(None);
        let mut counted = Counted {
            inner: &b"0123456789"[..],
            progress: &progress,
            deadline: None,
        };
        let mut first = [0u8; 4];
        counted.read_exact(&mut first).unwrap();
        assert_eq!((progress.received(), progress.total()), (4, None));
        std::io::copy(&mut counted, &mut std::io::sink()).unwrap();
        assert_eq!(progress.received(), 10);
    }

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
        assert_eq!(
            timeout_from_secs(0.5, OptionNames::API),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            timeout_from_secs(MAX_TIMEOUT_SECS, OptionNames::API),
            Ok(Duration::from_secs(86_400))
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 86_400.5, 1e20, f64::MAX] {
            let err = timeout_from_secs(bad, OptionNames::API).unwrap_err();
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
    fn sources() {
        assert_eq!(
            Source::parse("https://x/p.json", false, OptionNames::API),
            Ok(Source::Url("https://x/p.json".into()))
        );
        assert_eq!(
            Source::parse(" /tmp/p.json ", false, OptionNames::API),
            Ok(Source::File("/tmp/p.json".into()))
        );
        assert_eq!(
            Source::parse("file:///tmp/p.json", false, OptionNames::API),
            Ok(Source::File("/tmp/p.json".into()))
        );
        assert!(
            Source::parse("http://x/p.json", false, OptionNames::API)
                .unwrap_err()
                .to_string()
                .contains("allow_insecure")
        );
        assert!(Source::parse("http://x/p.json", true, OptionNames::API).is_ok());
        // Issue #22 part 4: the command line's errors name its flags.
        let cli = Source::parse("http://x/p.json", false, OptionNames::CLI).unwrap_err();
        assert!(cli.to_string().ends_with("pass --allow-insecure"), "{cli}");
        let why = redirect_refused(
            &reqwest::Url::parse("http://b/p.json").unwrap(),
            0,
            false,
            OptionNames::CLI,
        )
        .unwrap();
        assert!(why.contains("--allow-insecure"), "{why}");
        let err = timeout_from_secs(0.0, OptionNames::CLI).unwrap_err();
        assert!(err.to_string().starts_with("--timeout must be"), "{err}");
        assert!(Source::parse("ftp://x/p.json", true, OptionNames::API).is_err());
    }

    #[test]
    fn large_bodies_are_refused() {
        let endless = std::io::repeat(b' ');
        let err = read_capped(endless, "endless").unwrap().unwrap_err();
        assert!(err.to_string().contains("64 MiB"), "{err}");
    }

    /// Issue #21 case 4: a server that drips one byte at a time never times out a single
    /// read; the deadline ends the whole download.
    #[test]
    fn the_timeout_bounds_the_whole_download() {
        let drip = std::io::repeat(b' ').take(1 << 20);
        let slow = SlowReader(drip);
        let deadline = std::time::Instant::now() + Duration::from_millis(150);
        let counted = Counted {
            inner: slow,
            progress: &Progress::default(),
            deadline: Some(deadline),
        };
        let started = std::time::Instant::now();
        let err = read_capped(counted, "drip").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    /// Issue #21 case 4: an https source redirected to http (or file://, ftp://) is refused.
    #[test]
    fn redirects_stay_on_https() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert_eq!(
            redirect_refused(&url("https://b/p.json"), 0, false, OptionNames::API),
            None
        );
        for (to, insecure) in [
            ("http://b/p.json", false),
            ("file:///etc/passwd", true),
            ("ftp://b/p.json", true),
        ] {
            let why = redirect_refused(&url(to), 0, insecure, OptionNames::API).unwrap();
            assert!(why.contains("only read over https"), "{why}");
        }
        assert_eq!(
            redirect_refused(&url("http://b/p.json"), 0, true, OptionNames::API),
            None
        );
        assert!(redirect_refused(&url("https://b/p.json"), 11, false, OptionNames::API).is_some());
    }

    /// One byte per read, 10 ms apart.
    struct SlowReader<R>(R);

    impl<R: Read> Read for SlowReader<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            std::thread::sleep(Duration::from_millis(10));
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn download_errors_are_clear() {
        // Nothing listens on port 9 of localhost (discard, normally closed).
        let err = download(
            "http://127.0.0.1:9/x.json",
            Duration::from_secs(5),
            true,
            OptionNames::API,
            &Progress::default(),
        )
        .unwrap_err();
        assert!(matches!(err, CoreError::Network(_)), "{err:?}");
        assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
    }
}
