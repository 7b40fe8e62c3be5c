//! One catalog model's prices: the billed terms ([`PriceKey`]), dated periods, long-context
//! tiers and the variants a request context selects (service tiers, batch, fast mode).
//!
//! The semantics are genai-prices' own (its `ConditionalPrice` list, `TieredPrices` and
//! `PriceVariant`), as the catalog's JSON holds them and the README describes them:
//!
//! - a period holds from its `from` date (UTC) or during its `utc` hours; the LAST period that
//!   holds applies, the FIRST when none does (a date before every `from`);
//! - a tiered price is a cliff: the price of the last tier whose start the request's whole
//!   input exceeds, for every unit of that key;
//! - variants override per key: for each key, the first variant that applies and has it.

use std::time::{SystemTime, UNIX_EPOCH};

/// A billed term. `*_mtok` keys are USD per million tokens, `*_kcount` keys USD per 1,000
/// (web searches, requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PriceKey {
    Input,
    CacheRead,
    CacheWrite,
    CacheWrite1h,
    CacheWrite12h,
    InputAudio,
    CacheAudioRead,
    InputImage,
    CacheImageRead,
    InputVideo,
    InputTool,
    Output,
    OutputReasoning,
    OutputAudio,
    OutputImage,
    OutputVideo,
    /// Perplexity's citation tokens (billed on top of the completion).
    OutputCitation,
    WebSearches,
    /// A fee per request (Perplexity's `requests_kcount`): every priced response is one.
    Requests,
}

/// Number of [`PriceKey`]s.
pub const KEY_COUNT: usize = 19;

impl PriceKey {
    /// Every key, in catalog order.
    pub const ALL: [PriceKey; KEY_COUNT] = [
        PriceKey::Input,
        PriceKey::CacheRead,
        PriceKey::CacheWrite,
        PriceKey::CacheWrite1h,
        PriceKey::CacheWrite12h,
        PriceKey::InputAudio,
        PriceKey::CacheAudioRead,
        PriceKey::InputImage,
        PriceKey::CacheImageRead,
        PriceKey::InputVideo,
        PriceKey::InputTool,
        PriceKey::Output,
        PriceKey::OutputReasoning,
        PriceKey::OutputAudio,
        PriceKey::OutputImage,
        PriceKey::OutputVideo,
        PriceKey::OutputCitation,
        PriceKey::WebSearches,
        PriceKey::Requests,
    ];

    /// The key's name in the catalog (and in genai-prices' data).
    pub fn name(self) -> &'static str {
        match self {
            PriceKey::Input => "input_mtok",
            PriceKey::CacheRead => "cache_read_mtok",
            PriceKey::CacheWrite => "cache_write_mtok",
            PriceKey::CacheWrite1h => "cache_write_1h_mtok",
            PriceKey::CacheWrite12h => "cache_write_12h_mtok",
            PriceKey::InputAudio => "input_audio_mtok",
            PriceKey::CacheAudioRead => "cache_audio_read_mtok",
            PriceKey::InputImage => "input_image_mtok",
            PriceKey::CacheImageRead => "cache_image_read_mtok",
            PriceKey::InputVideo => "input_video_mtok",
            PriceKey::InputTool => "input_tool_mtok",
            PriceKey::Output => "output_mtok",
            PriceKey::OutputReasoning => "output_reasoning_mtok",
            PriceKey::OutputAudio => "output_audio_mtok",
            PriceKey::OutputImage => "output_image_mtok",
            PriceKey::OutputVideo => "output_video_mtok",
            PriceKey::OutputCitation => "output_citation_mtok",
            PriceKey::WebSearches => "web_searches_kcount",
            PriceKey::Requests => "requests_kcount",
        }
    }

    /// The key named `name`, if it is one.
    pub fn from_name(name: &str) -> Option<PriceKey> {
        PriceKey::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The key whose price bills these units when this key has none (`None`: not billed).
    pub fn fallback(self) -> Option<PriceKey> {
        use PriceKey::{
            CacheAudioRead, CacheImageRead, CacheRead, CacheWrite, CacheWrite1h, CacheWrite12h,
            Input, InputAudio, InputImage, InputTool, InputVideo, Output, OutputAudio,
            OutputCitation, OutputImage, OutputReasoning, OutputVideo, Requests, WebSearches,
        };
        match self {
            Input | Output | WebSearches | Requests => None,
            CacheRead | CacheWrite | InputAudio | InputImage | InputVideo | InputTool => {
                Some(Input)
            }
            CacheWrite1h | CacheWrite12h => Some(CacheWrite),
            CacheAudioRead | CacheImageRead => Some(CacheRead),
            OutputReasoning | OutputAudio | OutputImage | OutputVideo | OutputCitation => {
                Some(Output)
            }
        }
    }

    /// Units per priced quantity: a million tokens, or a thousand requests.
    pub fn per(self) -> f64 {
        match self {
            PriceKey::WebSearches | PriceKey::Requests => 1_000.0,
            _ => 1_000_000.0,
        }
    }
}

/// One price: flat, or a long-context cliff (`tiers`: `(start, price)`, starts ascending).
#[derive(Debug, Clone, PartialEq)]
pub enum Price {
    Flat(f64),
    Tiered { base: f64, tiers: Box<[(f64, f64)]> },
}

impl Price {
    /// The price for a request whose whole input is `input_tokens`.
    pub fn at(&self, input_tokens: f64) -> f64 {
        match self {
            Price::Flat(p) => *p,
            Price::Tiered { base, tiers } => tiers
                .iter()
                .rev()
                .find(|(start, _)| input_tokens > *start)
                .map_or(*base, |(_, p)| *p),
        }
    }

    /// The price below every tier.
    pub fn base(&self) -> f64 {
        match self {
            Price::Flat(p) | Price::Tiered { base: p, .. } => *p,
        }
    }

    /// Every number in it (for validation).
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let (base, tiers): (f64, &[(f64, f64)]) = match self {
            Price::Flat(p) => (*p, &[]),
            Price::Tiered { base, tiers } => (*base, tiers),
        };
        std::iter::once(base).chain(tiers.iter().flat_map(|(s, p)| [*s, *p]))
    }
}

/// A price per key (absent keys bill through [`PriceKey::fallback`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceSet(pub [Option<Price>; KEY_COUNT]);

impl PriceSet {
    /// The headline prices per million tokens, as `lookup()` reports them: input and
    /// output (0 when not billed: the model charges nothing per token of that kind), and
    /// cache read, cache write and 1-hour cache write (`None` when not billed). Below every
    /// long-context tier.
    pub fn headline(&self) -> Headline {
        let base = |key| self.get(key).map(Price::base);
        Headline {
            input: base(PriceKey::Input).unwrap_or(0.0),
            output: base(PriceKey::Output).unwrap_or(0.0),
            cache_read: base(PriceKey::CacheRead),
            cache_write: base(PriceKey::CacheWrite),
            cache_write_1h: base(PriceKey::CacheWrite1h),
        }
    }

    /// The long-context tiers of these prices, one per input size where any price changes
    /// (ascending): at each, the price of input, output, cache read and cache write in force
    /// above it (`None`: that key is not tiered).
    pub fn tiers(&self) -> Vec<TierView> {
        let keys = [
            PriceKey::Input,
            PriceKey::Output,
            PriceKey::CacheRead,
            PriceKey::CacheWrite,
        ];
        let mut starts: Vec<f64> = keys
            .iter()
            .filter_map(|k| match self.get(*k) {
                Some(Price::Tiered { tiers, .. }) => Some(tiers.iter().map(|(s, _)| *s)),
                _ => None,
            })
            .flatten()
            .collect();
        starts.sort_by(f64::total_cmp);
        starts.dedup();
        let at = |key: PriceKey, start: f64| match self.get(key) {
            Some(Price::Tiered { tiers, .. }) => tiers
                .iter()
                .rev()
                .find(|(s, _)| *s <= start)
                .map(|(_, p)| *p),
            _ => None,
        };
        starts
            .into_iter()
            .map(|start| TierView {
                above_tokens: start,
                prices: keys.map(|k| at(k, start)),
            })
            .collect()
    }

    pub fn get(&self, key: PriceKey) -> Option<&Price> {
        self.0[key as usize].as_ref()
    }

    pub fn set(&mut self, key: PriceKey, price: Price) {
        self.0[key as usize] = Some(price);
    }

    /// The keys priced, with their prices.
    pub fn iter(&self) -> impl Iterator<Item = (PriceKey, &Price)> {
        PriceKey::ALL
            .into_iter()
            .filter_map(|k| self.get(k).map(|p| (k, p)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// When a period applies: from a UTC date, or during UTC hours of the day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    Always,
    /// Days since 1970-01-01 (UTC).
    From(i64),
    /// Minutes after UTC midnight: start inclusive, end exclusive, wrapping when end < start.
    Hours(u32, u32),
}

impl Condition {
    /// The UTC date a period starts on (`2025-11-01`), for `From`.
    pub fn start_date(&self) -> Option<String> {
        match *self {
            Condition::From(day) => Some(format_utc(day.max(0) as u64 * 86_400)[..10].to_owned()),
            _ => None,
        }
    }

    /// The UTC hours a period applies (`("16:30", "00:30")`), for `Hours`.
    pub fn utc_hours(&self) -> Option<(String, String)> {
        match *self {
            Condition::Hours(a, b) => {
                let hhmm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
                Some((hhmm(a), hhmm(b)))
            }
            _ => None,
        }
    }

    /// How `refresh`'s changes name a period: `from 2026-03-01`, `16:30-00:30 UTC`, or
    /// `undated` (the prices before the dated ones).
    pub fn label(self) -> String {
        if let Some(date) = self.start_date() {
            format!("from {date}")
        } else if let Some((start, end)) = self.utc_hours() {
            format!("{start}-{end} UTC")
        } else {
            "undated".into()
        }
    }
}

/// [`PriceSet::headline`].
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_write_1h: Option<f64>,
}

/// One long-context tier of a [`PriceSet`] (see [`PriceSet::tiers`]): the input size above
/// which it applies, and the input, output, cache read and cache write prices per million.
#[derive(Debug, Clone, PartialEq)]
pub struct TierView {
    pub above_tokens: f64,
    pub prices: [Option<f64>; 4],
}

/// A period of prices (genai-prices' `ConditionalPrice`).
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub when: Condition,
    pub prices: PriceSet,
}

/// A partial price list selected by the request context (genai-prices' `PriceVariant`).
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// Context key -> value pairs that must all hold (`service_tier`, `processing`, `speed`).
    pub when: Vec<(String, String)>,
    /// Days since 1970-01-01 from which it applies.
    pub from: Option<i64>,
    pub prices: PriceSet,
}

/// A catalog model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The source's model id (case kept).
    pub id: String,
    /// Further (lowercase) names it answers to: snapshots, `-latest` aliases, spellings.
    pub names: Vec<String>,
    /// The source that priced it (`genai-prices`, `litellm`, `art_tinker`, or a refresh's).
    pub src: String,
    /// Non-empty.
    pub periods: Vec<Period>,
    pub variants: Vec<Variant>,
}

/// When a request was made: seconds since the epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequestTime(pub f64);

impl RequestTime {
    pub fn now() -> RequestTime {
        RequestTime(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        )
    }

    fn day(self) -> i64 {
        (self.0 / 86_400.0).floor() as i64
    }

    fn minute_of_day(self) -> u32 {
        (self.0.rem_euclid(86_400.0) / 60.0) as u32
    }
}

/// What the request says about itself beyond its usage: its service tier, batch, fast mode.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RequestContext<'a> {
    /// OpenAI's `service_tier` (`flex`, `priority`...); `None` for the standard tier.
    pub service_tier: Option<&'a str>,
    /// A batch job (`batch=True`, or Anthropic's usage saying so).
    pub batch: bool,
    /// Anthropic fast mode (`usage.speed == "fast"`).
    pub fast: bool,
}

impl RequestContext<'_> {
    /// The standard tier, not batch, not fast: no variant applies.
    pub fn is_standard(&self) -> bool {
        self.service_tier.is_none() && !self.batch && !self.fast
    }

    fn holds(&self, key: &str, value: &str) -> bool {
        match key {
            "service_tier" => self.service_tier == Some(value),
            "processing" => value == "batch" && self.batch,
            "speed" => value == "fast" && self.fast,
            _ => false,
        }
    }
}

/// The prices that apply to one request, without copying any (this runs on every priced
/// call): a period's own set (a standard request, a registered price), or a reference per
/// key once variants or per-call overrides replace some.
#[derive(Debug, Clone)]
pub enum Applied<'a> {
    Set(&'a PriceSet),
    /// Boxed: the common `Set` stays two words.
    Keys(Box<[Option<&'a Price>; KEY_COUNT]>),
}

/// No prices at all (every key bills at 0).
static NO_PRICES: PriceSet = PriceSet([const { None }; KEY_COUNT]);

impl<'a> Applied<'a> {
    /// Nothing priced.
    pub fn none() -> Self {
        Applied::Set(&NO_PRICES)
    }

    /// `key`'s own price, if it has one.
    pub fn get(&self, key: PriceKey) -> Option<&'a Price> {
        match self {
            Applied::Set(s) => s.0[key as usize].as_ref(),
            Applied::Keys(k) => k[key as usize],
        }
    }

    /// Bills `key` at `price`.
    pub fn replace(&mut self, key: PriceKey, price: &'a Price) {
        if let Applied::Set(s) = *self {
            *self = Applied::Keys(Box::new(std::array::from_fn(|i| s.0[i].as_ref())));
        }
        if let Applied::Keys(k) = self {
            k[key as usize] = Some(price);
        }
    }

    /// The price billing `key`'s units at `input_tokens`: its own, else its fallback's, else 0.
    pub fn price(&self, mut key: PriceKey, input_tokens: f64) -> f64 {
        loop {
            if let Some(p) = self.get(key) {
                return p.at(input_tokens);
            }
            match key.fallback() {
                Some(k) => key = k,
                None => return 0.0,
            }
        }
    }
}

impl Model {
    /// The period that applies at `at` (module docs).
    /// Whether the prices a request in `ctx` gets depend on when it was made: several
    /// periods, or dated variants that a non-standard request may get. Otherwise pricing it
    /// needs no clock read.
    pub fn needs_time(&self, ctx: &RequestContext<'_>) -> bool {
        self.periods.len() > 1
            || (!ctx.is_standard() && self.variants.iter().any(|v| v.from.is_some()))
    }

    pub fn period_at(&self, at: RequestTime) -> &Period {
        if self.periods.len() == 1 {
            return &self.periods[0];
        }
        let (day, minute) = (at.day(), at.minute_of_day());
        self.periods
            .iter()
            .rev()
            .find(|p| match p.when {
                Condition::Always => true,
                Condition::From(d) => day >= d,
                Condition::Hours(start, end) if start <= end => minute >= start && minute < end,
                Condition::Hours(start, end) => minute >= start || minute < end,
            })
            .unwrap_or(&self.periods[0])
    }

    /// The prices of a request made at `at` in context `ctx`.
    pub fn applied(&self, at: RequestTime, ctx: &RequestContext<'_>) -> Applied<'_> {
        let period = self.period_at(at);
        let mut out = Applied::Set(&period.prices);
        if ctx.is_standard() {
            return out;
        }
        let day = at.day();
        let mut overridden = [false; KEY_COUNT];
        for v in &self.variants {
            if v.from.is_some_and(|d| day < d) || !v.when.iter().all(|(k, x)| ctx.holds(k, x)) {
                continue;
            }
            for (k, p) in v.prices.iter() {
                if !overridden[k as usize] {
                    out.replace(k, p);
                    overridden[k as usize] = true;
                }
            }
        }
        out
    }

    /// The id lowercased, then the further names: every name the model answers to.
    pub fn all_names(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.id.to_lowercase()).chain(self.names.iter().cloned())
    }
}

impl Variant {
    /// Its conditions as `refresh`'s changes name them: `key=value` in key order
    /// (`processing=batch`, `service_tier=flex`).
    pub fn conditions_label(&self) -> String {
        let mut when: Vec<String> = self.when.iter().map(|(k, v)| format!("{k}={v}")).collect();
        when.sort();
        when.join(", ")
    }

    /// Its conditions, then `from <date>` when it has a start (`service_tier=flex from
    /// 2026-03-01`).
    pub fn label(&self) -> String {
        match self.from {
            Some(day) => format!(
                "{} {}",
                self.conditions_label(),
                Condition::From(day).label()
            ),
            None => self.conditions_label(),
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date; `None` when it is not one.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // days_from_civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Seconds since the epoch of an RFC 3339 timestamp (`2026-11-28T10:00:00.123456Z`, or with
/// an offset such as `+01:00`), as the Gemini API writes `createTime`; `None` when it is not
/// one.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let day = parse_date(s.get(..10)?)?;
    let time = s.get(10..)?.strip_prefix(['T', 't', ' '])?;
    let clock = |i: usize, max: i64| {
        let v = time.get(i..i + 2)?.parse::<i64>().ok()?;
        (v <= max).then_some(v)
    };
    if time.get(2..3)? != ":" || time.get(5..6)? != ":" {
        return None;
    }
    let secs = clock(0, 23)? * 3600 + clock(3, 59)? * 60 + clock(6, 60)?;
    let mut rest = time.get(8..)?;
    let mut fraction = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        let shown = &f[..digits.min(9)];
        fraction = shown.parse::<u64>().ok()? as f64 / 10f64.powi(shown.len() as i32);
        rest = &f[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.get(..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let hhmm = rest.get(1..)?;
            (hhmm.len() == 5).then_some(())?;
            sign * i64::from(parse_hhmm(hhmm)?) * 60
        }
    };
    Some((day * 86_400 + secs - offset) as f64 + fraction)
}

/// Minutes after midnight of an `HH:MM` time; `None` when it is not one.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.get(..2)?.parse::<u32>().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps_as_gemini_writes_them() {
        // 2026-11-28T10:00:00Z = 1_795_860_000 (checked with Python's datetime).
        let base = 1_795_860_000.0;
        assert_eq!(parse_rfc3339("2026-11-28T10:00:00Z"), Some(base));
        assert_eq!(parse_rfc3339("2026-11-28t10:00:00z"), Some(base));
        assert_eq!(parse_rfc3339("2026-11-28T10:00:00.250Z"), Some(base + 0.25));
        assert_eq!(
            parse_rfc3339("2026-11-28T10:00:00.123456789123Z"),
            Some(base + 0.123456789)
        );
        assert_eq!(parse_rfc3339("2026-11-28T11:30:00+01:30"), Some(base));
        assert_eq!(parse_rfc3339("2026-11-28T05:00:00-05:00"), Some(base));
        for bad in [
            "",
            "2026-11-28",
            "2026-11-28T10:00:00",
            "2026-11-28T24:00:00Z",
            "2026-11-28T10:60:00Z",
            "2026-11-28T10:00:00.Z",
            "2026-11-28T10:00:00+0100",
            "2026-13-28T10:00:00Z",
            "28/11/2026 10:00:00",
            "2026-11-28T10:00:00Zjunk",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    fn flat(pairs: &[(PriceKey, f64)]) -> PriceSet {
        let mut s = PriceSet::default();
        for (k, p) in pairs {
            s.set(*k, Price::Flat(*p));
        }
        s
    }

    fn o3() -> Model {
        Model {
            id: "o3".into(),
            names: vec![],
            src: "test".into(),
            periods: vec![
                Period {
                    when: Condition::Always,
                    prices: flat(&[(PriceKey::Input, 10.0), (PriceKey::Output, 40.0)]),
                },
                Period {
                    when: Condition::From(parse_date("2025-06-10").unwrap()),
                    prices: flat(&[(PriceKey::Input, 2.0), (PriceKey::Output, 8.0)]),
                },
            ],
            variants: vec![Variant {
                when: vec![("service_tier".into(), "flex".into())],
                from: None,
                prices: flat(&[(PriceKey::Input, 1.0)]),
            }],
        }
    }

    fn at(date: &str) -> RequestTime {
        RequestTime(parse_date(date).unwrap() as f64 * 86_400.0 + 3600.0)
    }

    /// A request whose prices cannot depend on when it was made needs no clock: one
    /// period (which applies at any time, even before its date), and no dated variant that
    /// the request could get.
    #[test]
    fn requests_that_need_no_clock() {
        let mut m = o3();
        let standard = RequestContext::default();
        let flex = RequestContext {
            service_tier: Some("flex"),
            ..standard
        };
        assert!(m.needs_time(&standard), "two periods");
        m.periods.remove(0);
        assert!(!m.needs_time(&standard) && !m.needs_time(&flex));
        for when in [RequestTime(0.0), at("2020-01-01"), at("2030-01-01")] {
            assert_eq!(m.applied(when, &standard).price(PriceKey::Input, 0.0), 2.0);
        }
        m.variants[0].from = parse_date("2026-01-01");
        assert!(
            !m.needs_time(&standard),
            "a standard request gets no variant"
        );
        assert!(m.needs_time(&flex));
    }

    #[test]
    fn dates_parse_to_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2024-2-29"), None);
        assert_eq!(parse_hhmm("16:30"), Some(990));
        assert_eq!(parse_hhmm("24:00"), None);
    }

    #[test]
    fn the_last_period_that_holds_applies() {
        let m = o3();
        let ctx = RequestContext::default();
        assert_eq!(
            m.applied(at("2025-05-01"), &ctx)
                .price(PriceKey::Input, 0.0),
            10.0
        );
        assert_eq!(
            m.applied(at("2025-06-10"), &ctx)
                .price(PriceKey::Input, 0.0),
            2.0
        );
        // Before every `from`: the first period.
        let mut only_dated = o3();
        only_dated.periods.remove(0);
        assert_eq!(
            only_dated
                .applied(at("2020-01-01"), &ctx)
                .price(PriceKey::Output, 0.0),
            8.0
        );
    }

    #[test]
    fn time_of_day_periods_wrap_past_midnight() {
        let mut m = o3();
        m.periods[1].when = Condition::Hours(16 * 60 + 30, 30);
        let ctx = RequestContext::default();
        let day = parse_date("2026-01-01").unwrap() as f64 * 86_400.0;
        let price = |h: f64| {
            m.applied(RequestTime(day + h * 3600.0), &ctx)
                .price(PriceKey::Input, 0.0)
        };
        assert_eq!(price(12.0), 10.0);
        assert_eq!(price(17.0), 2.0);
        assert_eq!(price(0.25), 2.0);
        assert_eq!(price(0.75), 10.0);
    }

    #[test]
    fn variants_override_only_their_keys() {
        let m = o3();
        let flex = RequestContext {
            service_tier: Some("flex"),
            ..RequestContext::default()
        };
        let a = m.applied(at("2026-01-01"), &flex);
        assert_eq!(a.price(PriceKey::Input, 0.0), 1.0);
        assert_eq!(a.price(PriceKey::Output, 0.0), 8.0);
        let priority = RequestContext {
            service_tier: Some("priority"),
            ..RequestContext::default()
        };
        assert_eq!(
            m.applied(at("2026-01-01"), &priority)
                .price(PriceKey::Input, 0.0),
            2.0
        );
    }

    #[test]
    fn fallbacks_and_tiers() {
        let mut s = flat(&[(PriceKey::Input, 3.0), (PriceKey::CacheWrite, 3.75)]);
        s.set(
            PriceKey::Output,
            Price::Tiered {
                base: 15.0,
                tiers: vec![(200_000.0, 22.5)].into(),
            },
        );
        let m = Model {
            id: "x".into(),
            names: vec![],
            src: "test".into(),
            periods: vec![Period {
                when: Condition::Always,
                prices: s,
            }],
            variants: vec![],
        };
        let a = m.applied(RequestTime(0.0), &RequestContext::default());
        assert_eq!(a.price(PriceKey::CacheWrite1h, 0.0), 3.75);
        assert_eq!(a.price(PriceKey::CacheRead, 0.0), 3.0);
        assert_eq!(a.price(PriceKey::WebSearches, 0.0), 0.0);
        assert_eq!(a.price(PriceKey::OutputReasoning, 200_000.0), 15.0);
        assert_eq!(a.price(PriceKey::OutputReasoning, 200_001.0), 22.5);
    }

    #[test]
    fn headline_and_tiers_of_a_long_context_model() {
        let mut set = PriceSet::default();
        set.0[PriceKey::Input as usize] = Some(Price::Tiered {
            base: 1.25,
            tiers: vec![(200_000.0, 2.5)].into(),
        });
        set.0[PriceKey::Output as usize] = Some(Price::Flat(10.0));
        let h = set.headline();
        assert_eq!((h.input, h.output, h.cache_read), (1.25, 10.0, None));
        assert_eq!(
            set.tiers(),
            [TierView {
                above_tokens: 200_000.0,
                prices: [Some(2.5), None, None, None]
            }]
        );
        assert_eq!(
            PriceSet::default().headline().input,
            0.0,
            "not billed: free"
        );
    }
}
