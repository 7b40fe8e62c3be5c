//! Reading a provider response: the fields the pricing rules look at, where they live,
//! and how their values are checked.
//!
//! A response is read once into [`ResponseFields`], a flat table of the few leaves the rules
//! need. The bindings fill it by walking [`RESPONSE_SCHEMA`] over Python objects;
//! [`ResponseFields::from_json`] walks the same schema over a JSON tree. Both stop at the
//! leaves a provider needs ([`Field::mask_for`]), so a hot call reads five or six values.

use std::mem::MaybeUninit;

use serde_json::Value;

use super::Formula;
use super::prices::parse_rfc3339;
use crate::error::{CoreError, CoreResult};

/// One leaf of a response that the pricing rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    UsageCost,
    UsageCostTotal,
    ExtraCost,
    ExtraCostTotal,
    HeaderCost,
    HeaderCostTotal,
    PromptTokens,
    CompletionTokens,
    PromptCachedTokens,
    InputTokens,
    OutputTokens,
    InputCachedTokens,
    CacheCreationTokens,
    CacheReadTokens,
    Ephemeral5mTokens,
    Ephemeral1hTokens,
    GeminiPromptTokens,
    GeminiCandidatesTokens,
    GeminiCachedTokens,
    GeminiThoughtsTokens,
    /// OpenAI chat `created` / Responses `created_at`: the request's time.
    Created,
    CreatedAt,
    /// OpenAI's `service_tier` on the response.
    ServiceTier,
    PromptAudioTokens,
    PromptImageTokens,
    PromptCacheWriteTokens,
    PromptCacheWrite12hTokens,
    CompletionReasoningTokens,
    CompletionAudioTokens,
    CompletionImageTokens,
    InputCacheWriteTokens,
    InputCacheWrite12hTokens,
    OutputReasoningTokens,
    WebSearchRequests,
    UsageServiceTier,
    UsageSpeed,
    GeminiToolUseTokens,
    GeminiPromptAudio,
    GeminiPromptImage,
    GeminiPromptVideo,
    GeminiCachedAudio,
    GeminiCachedImage,
    /// Gemini's `create_time` (`createTime` in REST): when the server got the request; a
    /// datetime in the SDK (read as seconds since the epoch), an RFC 3339 string in JSON.
    GeminiCreateTime,
    /// Bedrock Converse usage (camelCase; input, cache reads and cache writes are disjoint).
    ConverseInputTokens,
    ConverseOutputTokens,
    ConverseCacheReadTokens,
    ConverseCacheWriteTokens,
    /// Perplexity's counts beside `completion_tokens` (billed on top of it) and its searches.
    PerplexityCitationTokens,
    PerplexityReasoningTokens,
    PerplexitySearchQueries,
}

/// Number of [`Field`] variants.
pub const FIELD_COUNT: usize = 50;

const fn bit(f: Field) -> u64 {
    1 << f as u64
}

const REPORTED: u64 = bit(Field::UsageCost)
    | bit(Field::UsageCostTotal)
    | bit(Field::ExtraCost)
    | bit(Field::ExtraCostTotal)
    | bit(Field::HeaderCost)
    | bit(Field::HeaderCostTotal);
const OPENAI_CHAT: u64 =
    bit(Field::PromptTokens) | bit(Field::CompletionTokens) | bit(Field::PromptCachedTokens);
const OPENAI: u64 = OPENAI_CHAT
    | bit(Field::Created)
    | bit(Field::ServiceTier)
    | bit(Field::PromptAudioTokens)
    | bit(Field::PromptImageTokens)
    | bit(Field::PromptCacheWriteTokens)
    | bit(Field::PromptCacheWrite12hTokens)
    | bit(Field::CompletionReasoningTokens)
    | bit(Field::CompletionAudioTokens)
    | bit(Field::CompletionImageTokens);
const OPENAI_RESPONSES: u64 = bit(Field::InputTokens)
    | bit(Field::OutputTokens)
    | bit(Field::InputCachedTokens)
    | bit(Field::CreatedAt)
    | bit(Field::InputCacheWriteTokens)
    | bit(Field::InputCacheWrite12hTokens)
    | bit(Field::OutputReasoningTokens);
const ANTHROPIC: u64 = bit(Field::InputTokens)
    | bit(Field::OutputTokens)
    | bit(Field::CacheCreationTokens)
    | bit(Field::CacheReadTokens)
    | bit(Field::Ephemeral5mTokens)
    | bit(Field::Ephemeral1hTokens)
    | bit(Field::WebSearchRequests)
    | bit(Field::UsageServiceTier)
    | bit(Field::UsageSpeed);
const GEMINI: u64 = bit(Field::GeminiCreateTime)
    | bit(Field::GeminiPromptTokens)
    | bit(Field::GeminiCandidatesTokens)
    | bit(Field::GeminiCachedTokens)
    | bit(Field::GeminiThoughtsTokens)
    | bit(Field::GeminiToolUseTokens)
    | bit(Field::GeminiPromptAudio)
    | bit(Field::GeminiPromptImage)
    | bit(Field::GeminiPromptVideo)
    | bit(Field::GeminiCachedAudio)
    | bit(Field::GeminiCachedImage);

const CONVERSE: u64 = bit(Field::ConverseInputTokens)
    | bit(Field::ConverseOutputTokens)
    | bit(Field::ConverseCacheReadTokens)
    | bit(Field::ConverseCacheWriteTokens);
const PERPLEXITY: u64 = OPENAI
    | bit(Field::PerplexityCitationTokens)
    | bit(Field::PerplexityReasoningTokens)
    | bit(Field::PerplexitySearchQueries);

/// The fields that say a response (or stream event) carries usage or a cost.
const CARRIES_USAGE: u64 = REPORTED
    | OPENAI_CHAT
    | bit(Field::ConverseInputTokens)
    | bit(Field::ConverseOutputTokens)
    | bit(Field::InputTokens)
    | bit(Field::OutputTokens)
    | bit(Field::GeminiPromptTokens)
    | bit(Field::GeminiCandidatesTokens);

/// Where a stream event keeps the response it wraps: Responses `response.completed` events
/// (`event.response`), Anthropic `message_start` (`event.message`) and Bedrock
/// ConverseStream's last event (`{"metadata": {"usage": ...}}`).
pub const WRAPPER_KEYS: [&str; 3] = ["response", "message", "metadata"];

impl Field {
    /// The fields read for a provider's formula, plus the reported-cost fields.
    pub fn mask_for(formula: Formula) -> u64 {
        REPORTED
            | match formula {
                Formula::OpenAi => OPENAI,
                Formula::Anthropic => ANTHROPIC,
                Formula::Gemini => GEMINI,
                Formula::Bedrock => CONVERSE,
                Formula::Perplexity => PERPLEXITY,
                Formula::None => 0,
            }
    }

    /// Fields to read in a second pass when the first found none of the provider's usual
    /// ones: the Responses API's names under `openai`; Claude's Anthropic-shaped usage under
    /// `google` (Vertex AI); InvokeModel bodies (Anthropic- or OpenAI-shaped) under `aws`.
    /// Keeps the common case to one pass.
    pub fn fallback_mask(formula: Formula, first: &ResponseFields) -> Option<u64> {
        let none_of = |mask: u64| first.set & mask & !REPORTED == 0;
        match formula {
            Formula::OpenAi | Formula::Perplexity => {
                none_of(OPENAI_CHAT).then_some(OPENAI_RESPONSES)
            }
            Formula::Gemini => none_of(GEMINI).then_some(ANTHROPIC),
            Formula::Bedrock => none_of(CONVERSE).then_some(ANTHROPIC | OPENAI),
            Formula::Anthropic | Formula::None => None,
        }
    }

    /// Where the field lives, for error messages: `usage.prompt_tokens`.
    pub fn path(self) -> &'static str {
        match self {
            Field::UsageCost => "usage.cost",
            Field::UsageCostTotal => "usage.cost.total_cost",
            Field::ExtraCost => "usage.model_extra.cost",
            Field::ExtraCostTotal => "usage.model_extra.cost.total_cost",
            Field::HeaderCost => {
                "_hidden_params.additional_headers.llm_provider-x-litellm-response-cost"
            }
            Field::HeaderCostTotal => {
                "_hidden_params.additional_headers.llm_provider-x-litellm-response-cost.total_cost"
            }
            Field::PromptTokens => "usage.prompt_tokens",
            Field::CompletionTokens => "usage.completion_tokens",
            Field::PromptCachedTokens => "usage.prompt_tokens_details.cached_tokens",
            Field::InputTokens => "usage.input_tokens",
            Field::OutputTokens => "usage.output_tokens",
            Field::InputCachedTokens => "usage.input_tokens_details.cached_tokens",
            Field::CacheCreationTokens => "usage.cache_creation_input_tokens",
            Field::CacheReadTokens => "usage.cache_read_input_tokens",
            Field::Ephemeral5mTokens => "usage.cache_creation.ephemeral_5m_input_tokens",
            Field::Ephemeral1hTokens => "usage.cache_creation.ephemeral_1h_input_tokens",
            Field::GeminiPromptTokens => "usage_metadata.prompt_token_count",
            Field::GeminiCandidatesTokens => "usage_metadata.candidates_token_count",
            Field::GeminiCachedTokens => "usage_metadata.cached_content_token_count",
            Field::GeminiThoughtsTokens => "usage_metadata.thoughts_token_count",
            Field::Created => "created",
            Field::CreatedAt => "created_at",
            Field::ServiceTier => "service_tier",
            Field::PromptAudioTokens => "usage.prompt_tokens_details.audio_tokens",
            Field::PromptImageTokens => "usage.prompt_tokens_details.image_tokens",
            Field::PromptCacheWriteTokens => "usage.prompt_tokens_details.cache_write_tokens",
            Field::PromptCacheWrite12hTokens => {
                "usage.prompt_tokens_details.cache_write_tokens_details.ttl_12h_tokens"
            }
            Field::CompletionReasoningTokens => "usage.completion_tokens_details.reasoning_tokens",
            Field::CompletionAudioTokens => "usage.completion_tokens_details.audio_tokens",
            Field::CompletionImageTokens => "usage.completion_tokens_details.image_tokens",
            Field::InputCacheWriteTokens => "usage.input_tokens_details.cache_write_tokens",
            Field::InputCacheWrite12hTokens => {
                "usage.input_tokens_details.cache_write_tokens_details.ttl_12h_tokens"
            }
            Field::OutputReasoningTokens => "usage.output_tokens_details.reasoning_tokens",
            Field::WebSearchRequests => "usage.server_tool_use.web_search_requests",
            Field::UsageServiceTier => "usage.service_tier",
            Field::UsageSpeed => "usage.speed",
            Field::GeminiToolUseTokens => "usage_metadata.tool_use_prompt_token_count",
            Field::GeminiPromptAudio => "usage_metadata.prompt_tokens_details[AUDIO]",
            Field::GeminiPromptImage => "usage_metadata.prompt_tokens_details[IMAGE]",
            Field::GeminiPromptVideo => "usage_metadata.prompt_tokens_details[VIDEO]",
            Field::GeminiCachedAudio => "usage_metadata.cache_tokens_details[AUDIO]",
            Field::GeminiCachedImage => "usage_metadata.cache_tokens_details[IMAGE]",
            Field::GeminiCreateTime => "create_time",
            Field::ConverseInputTokens => "usage.inputTokens",
            Field::ConverseOutputTokens => "usage.outputTokens",
            Field::ConverseCacheReadTokens => "usage.cacheReadInputTokens",
            Field::ConverseCacheWriteTokens => "usage.cacheWriteInputTokens",
            Field::PerplexityCitationTokens => "usage.citation_tokens",
            Field::PerplexityReasoningTokens => "usage.reasoning_tokens",
            Field::PerplexitySearchQueries => "usage.num_search_queries",
        }
    }
}

/// A node of the response schema: a key (dict key or attribute), the field stored there,
/// and the keys read below it. `mask` is every field bit in the subtree. A node with
/// `modalities` holds a list of `{modality, token_count}` items (Gemini's per-modality
/// counts): each item's count is added to the field of its modality.
#[derive(Debug)]
pub struct SchemaNode {
    pub key: &'static str,
    pub field: Option<Field>,
    pub children: &'static [SchemaNode],
    pub modalities: &'static [(&'static str, Field)],
    pub mask: u64,
}

impl SchemaNode {
    /// The field counting tokens of `modality` (`"TEXT"`, `"audio"`: any case) in this
    /// node's list of per-modality counts.
    pub fn modality_field(&self, modality: &str) -> Option<Field> {
        self.modalities
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(modality))
            .map(|(_, f)| *f)
    }
}

const fn node(
    key: &'static str,
    field: Option<Field>,
    children: &'static [SchemaNode],
) -> SchemaNode {
    let mut mask = match field {
        Some(f) => bit(f),
        None => 0,
    };
    let mut i = 0;
    while i < children.len() {
        mask |= children[i].mask;
        i += 1;
    }
    SchemaNode {
        key,
        field,
        children,
        modalities: &[],
        mask,
    }
}

const fn leaf(key: &'static str, f: Field) -> SchemaNode {
    node(key, Some(f), &[])
}

const fn modality_list(
    key: &'static str,
    modalities: &'static [(&'static str, Field)],
) -> SchemaNode {
    let mut mask = 0;
    let mut i = 0;
    while i < modalities.len() {
        mask |= bit(modalities[i].1);
        i += 1;
    }
    SchemaNode {
        key,
        field: None,
        children: &[],
        modalities,
        mask,
    }
}

/// The keys of a modality item (snake_case from the SDK, camelCase from REST).
pub const MODALITY_KEYS: [&str; 3] = ["modality", "token_count", "tokenCount"];

const PROMPT_MODALITIES: &[(&str, Field)] = &[
    ("AUDIO", Field::GeminiPromptAudio),
    ("IMAGE", Field::GeminiPromptImage),
    ("DOCUMENT", Field::GeminiPromptImage),
    ("VIDEO", Field::GeminiPromptVideo),
];
const CACHE_MODALITIES: &[(&str, Field)] = &[
    ("AUDIO", Field::GeminiCachedAudio),
    ("IMAGE", Field::GeminiCachedImage),
    ("DOCUMENT", Field::GeminiCachedImage),
];

const TTL_PROMPT: &[SchemaNode] = &[leaf("ttl_12h_tokens", Field::PromptCacheWrite12hTokens)];
const TTL_INPUT: &[SchemaNode] = &[leaf("ttl_12h_tokens", Field::InputCacheWrite12hTokens)];

// A reported cost is a number, or an object with `total_cost`: cost leaves have a child.

/// Every path the pricing rules read, from the response down.
pub static RESPONSE_SCHEMA: &[SchemaNode] = &[
    leaf("created", Field::Created),
    leaf("created_at", Field::CreatedAt),
    leaf("service_tier", Field::ServiceTier),
    node(
        "usage",
        None,
        &[
            node(
                "cost",
                Some(Field::UsageCost),
                &[leaf("total_cost", Field::UsageCostTotal)],
            ),
            node(
                "model_extra",
                None,
                &[node(
                    "cost",
                    Some(Field::ExtraCost),
                    &[leaf("total_cost", Field::ExtraCostTotal)],
                )],
            ),
            leaf("prompt_tokens", Field::PromptTokens),
            leaf("completion_tokens", Field::CompletionTokens),
            node(
                "prompt_tokens_details",
                None,
                &[
                    leaf("cached_tokens", Field::PromptCachedTokens),
                    leaf("audio_tokens", Field::PromptAudioTokens),
                    leaf("image_tokens", Field::PromptImageTokens),
                    leaf("cache_write_tokens", Field::PromptCacheWriteTokens),
                    node("cache_write_tokens_details", None, TTL_PROMPT),
                ],
            ),
            node(
                "completion_tokens_details",
                None,
                &[
                    leaf("reasoning_tokens", Field::CompletionReasoningTokens),
                    leaf("audio_tokens", Field::CompletionAudioTokens),
                    leaf("image_tokens", Field::CompletionImageTokens),
                ],
            ),
            leaf("input_tokens", Field::InputTokens),
            leaf("output_tokens", Field::OutputTokens),
            node(
                "input_tokens_details",
                None,
                &[
                    leaf("cached_tokens", Field::InputCachedTokens),
                    leaf("cache_write_tokens", Field::InputCacheWriteTokens),
                    node("cache_write_tokens_details", None, TTL_INPUT),
                ],
            ),
            node(
                "output_tokens_details",
                None,
                &[leaf("reasoning_tokens", Field::OutputReasoningTokens)],
            ),
            leaf("cache_creation_input_tokens", Field::CacheCreationTokens),
            leaf("cache_read_input_tokens", Field::CacheReadTokens),
            node(
                "cache_creation",
                None,
                &[
                    leaf("ephemeral_5m_input_tokens", Field::Ephemeral5mTokens),
                    leaf("ephemeral_1h_input_tokens", Field::Ephemeral1hTokens),
                ],
            ),
            node(
                "server_tool_use",
                None,
                &[leaf("web_search_requests", Field::WebSearchRequests)],
            ),
            leaf("service_tier", Field::UsageServiceTier),
            leaf("speed", Field::UsageSpeed),
            // Bedrock Converse (boto3 `converse()` returns these camelCase keys).
            leaf("inputTokens", Field::ConverseInputTokens),
            leaf("outputTokens", Field::ConverseOutputTokens),
            leaf("cacheReadInputTokens", Field::ConverseCacheReadTokens),
            leaf("cacheWriteInputTokens", Field::ConverseCacheWriteTokens),
            leaf("citation_tokens", Field::PerplexityCitationTokens),
            leaf("reasoning_tokens", Field::PerplexityReasoningTokens),
            leaf("num_search_queries", Field::PerplexitySearchQueries),
        ],
    ),
    node(
        "_hidden_params",
        None,
        &[node(
            "additional_headers",
            None,
            &[node(
                "llm_provider-x-litellm-response-cost",
                Some(Field::HeaderCost),
                &[leaf("total_cost", Field::HeaderCostTotal)],
            )],
        )],
    ),
    node(
        "usage_metadata",
        None,
        &[
            leaf("prompt_token_count", Field::GeminiPromptTokens),
            leaf("candidates_token_count", Field::GeminiCandidatesTokens),
            leaf("cached_content_token_count", Field::GeminiCachedTokens),
            leaf("thoughts_token_count", Field::GeminiThoughtsTokens),
            leaf("tool_use_prompt_token_count", Field::GeminiToolUseTokens),
            modality_list("prompt_tokens_details", PROMPT_MODALITIES),
            modality_list("cache_tokens_details", CACHE_MODALITIES),
        ],
    ),
    leaf("create_time", Field::GeminiCreateTime),
    // The Gemini REST API's camelCase names (`requests`/`httpx` bodies).
    leaf("createTime", Field::GeminiCreateTime),
    node(
        "usageMetadata",
        None,
        &[
            leaf("promptTokenCount", Field::GeminiPromptTokens),
            leaf("candidatesTokenCount", Field::GeminiCandidatesTokens),
            leaf("cachedContentTokenCount", Field::GeminiCachedTokens),
            leaf("thoughtsTokenCount", Field::GeminiThoughtsTokens),
            leaf("toolUsePromptTokenCount", Field::GeminiToolUseTokens),
            modality_list("promptTokensDetails", PROMPT_MODALITIES),
            modality_list("cacheTokensDetails", CACHE_MODALITIES),
        ],
    ),
];

/// A leaf value as found in the response (`None`/null leaves are simply absent).
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Number(f64),
    Bool(bool),
    Str(Box<str>),
    /// Anything else (a list, a dict, an object), by type name.
    Other(Box<str>),
}

impl Scalar {
    /// True for values whose children are not read (a number, bool or str).
    pub fn is_leaf_value(&self) -> bool {
        !matches!(self, Scalar::Other(_))
    }

    fn describe(&self) -> String {
        match self {
            Scalar::Number(v) => format!("{v}"),
            Scalar::Bool(b) => format!("a bool ({})", if *b { "True" } else { "False" }),
            Scalar::Str(s) => format!("a str ('{s}')"),
            Scalar::Other(t) => format!("a {t}"),
        }
    }
}

/// The leaves of one response that the pricing rules read.
pub struct ResponseFields {
    /// The slots whose bit is in `set` hold a value; the others are uninitialised. A tracked
    /// call sets five or six of fifty: initialising and dropping every slot was a tenth of
    /// the pricing's time (issue #20).
    values: [MaybeUninit<Scalar>; FIELD_COUNT],
    /// A bit per field set.
    set: u64,
    /// A bit per slot holding a `Str` or `Other`: the only values with something to drop.
    owned: u64,
}

impl Drop for ResponseFields {
    fn drop(&mut self) {
        let mut owned = self.owned;
        while owned != 0 {
            // SAFETY: every bit of `owned` is also in `set`: that slot is initialised, and it
            // is dropped once (the struct goes away).
            unsafe { self.values[owned.trailing_zeros() as usize].assume_init_drop() };
            owned &= owned - 1;
        }
    }
}

impl Default for ResponseFields {
    fn default() -> Self {
        ResponseFields {
            values: [const { MaybeUninit::uninit() }; FIELD_COUNT],
            set: 0,
            owned: 0,
        }
    }
}

impl Clone for ResponseFields {
    fn clone(&self) -> Self {
        let mut out = ResponseFields::default();
        for (field, value) in self.iter() {
            out.put(field, value.clone());
        }
        out
    }
}

impl std::fmt::Debug for ResponseFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl ResponseFields {
    /// The fields set, by index, with their values.
    fn iter(&self) -> impl Iterator<Item = (usize, &Scalar)> + '_ {
        let mut set = self.set;
        std::iter::from_fn(move || {
            if set == 0 {
                return None;
            }
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            // SAFETY: bit `i` is in `set`: the slot is initialised.
            Some((i, unsafe { self.values[i].assume_init_ref() }))
        })
    }

    /// Stores `value` in slot `i`, dropping what it held.
    #[inline]
    fn put(&mut self, i: usize, value: Scalar) {
        let bit = 1u64 << i;
        if self.owned & bit != 0 {
            // SAFETY: an owned slot is initialised; it is overwritten right after.
            unsafe { self.values[i].assume_init_drop() };
        }
        let owned = matches!(value, Scalar::Str(_) | Scalar::Other(_));
        self.values[i].write(value);
        self.set |= bit;
        if owned {
            self.owned |= bit;
        } else {
            self.owned &= !bit;
        }
    }

    #[inline]
    pub fn set(&mut self, field: Field, value: Scalar) {
        self.put(field as usize, value);
    }

    /// [`set`](Self::set) of a number.
    #[inline]
    pub fn set_number(&mut self, field: Field, value: f64) {
        self.put(field as usize, Scalar::Number(value));
    }

    #[inline]
    pub fn get(&self, field: Field) -> Option<&Scalar> {
        let i = field as usize;
        // SAFETY: bit `i` is in `set`: the slot is initialised.
        (self.set & (1 << i) != 0).then(|| unsafe { self.values[i].assume_init_ref() })
    }

    /// Adds `tokens` to a per-modality count (a modality may be listed more than once).
    pub fn add_tokens(&mut self, field: Field, tokens: Scalar) {
        let sum = match (self.get(field), &tokens) {
            (Some(Scalar::Number(a)), Scalar::Number(b)) => Scalar::Number(a + b),
            _ => tokens,
        };
        self.set(field, sum);
    }

    /// True when a usage or cost field was found (a stream event without one is skipped).
    pub fn carries_usage(&self) -> bool {
        self.set & CARRIES_USAGE != 0
    }

    /// Takes every field `later` has: a stream's later events override earlier ones (OpenAI's
    /// last chunk has the usage; Anthropic's `message_delta` the final output count; Gemini
    /// chunks are cumulative, so the last one is the call's usage, never the sum).
    ///
    /// `later` gives up its values and is left empty, ready for the next event (taken by
    /// reference: moving its 1.2 KB was a copy per event, issue #20).
    pub fn merge_later(&mut self, later: &mut ResponseFields) {
        let mut set = later.set;
        // `later` gives up its values: none is dropped with it.
        later.set = 0;
        later.owned = 0;
        while set != 0 {
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            // SAFETY: bit `i` was in `later.set`: the slot is initialised, and it is read
            // once (`later` no longer counts it as set).
            let value = unsafe { later.values[i].assume_init_read() };
            self.put(i, value);
        }
    }

    /// A string field (`service_tier`), if it is one.
    pub fn text(&self, field: Field) -> Option<&str> {
        match self.get(field) {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// The response's own timestamp in seconds since the epoch: OpenAI's `created` /
    /// `created_at`, Gemini's `create_time` (a datetime read as seconds, or RFC 3339 text).
    pub fn timestamp(&self) -> Option<f64> {
        [Field::Created, Field::CreatedAt, Field::GeminiCreateTime]
            .into_iter()
            .find_map(|f| match self.get(f) {
                Some(Scalar::Number(v)) => Some(*v),
                Some(Scalar::Str(s)) => parse_rfc3339(s),
                _ => None,
            })
            .filter(|v| v.is_finite() && *v > 0.0)
    }

    /// Reads the fields `formula` needs from a JSON response, stream event, or list of
    /// stream events (both passes).
    pub fn from_json(response: &Value, formula: Formula) -> ResponseFields {
        let mut out = ResponseFields::default();
        match response {
            Value::Array(events) => {
                for e in events {
                    out.merge_later(&mut read_json_event(e, formula));
                }
            }
            one => out = read_json_event(one, formula),
        }
        out
    }

    /// A token count: absent, or a finite non-negative number. Anything else is refused,
    /// naming the field (bools and numeric strings are not token counts).
    #[inline]
    pub fn tokens(&self, field: Field) -> CoreResult<Option<f64>> {
        match self.get(field) {
            None => Ok(None),
            Some(Scalar::Number(v)) if super::is_price(*v) => Ok(Some(*v)),
            Some(other) => Err(not_a_token_count(field, other)),
        }
    }

    /// A token count, 0 when absent.
    #[inline]
    pub fn tokens_or_zero(&self, field: Field) -> CoreResult<f64> {
        Ok(self.tokens(field)?.unwrap_or(0.0))
    }

    /// The cost the provider reported: `usage.cost`, `usage.model_extra["cost"]`, then the
    /// litellm response-cost header; each a number, a numeric str, or `{total_cost: ...}`.
    /// Bools and unparsable values are skipped; a negative or non-finite cost is refused.
    pub fn reported_cost(&self) -> CoreResult<Option<f64>> {
        let candidates = [
            (Field::UsageCost, Field::UsageCostTotal),
            (Field::ExtraCost, Field::ExtraCostTotal),
            (Field::HeaderCost, Field::HeaderCostTotal),
        ];
        for (direct, total) in candidates {
            let found = match coerce_cost(self.get(direct)) {
                Some(v) => Some((direct, v)),
                None => coerce_cost(self.get(total)).map(|v| (total, v)),
            };
            if let Some((field, v)) = found {
                if !super::is_price(v) {
                    return Err(CoreError::Pricing(format!(
                        "Reported cost {} must be a finite non-negative number, got {v}",
                        field.path()
                    )));
                }
                return Ok(Some(v));
            }
        }
        Ok(None)
    }
}

#[cold]
#[inline(never)]
fn not_a_token_count(field: Field, value: &Scalar) -> CoreError {
    CoreError::value(format!(
        "Token count {} must be a non-negative number, got {}",
        field.path(),
        value.describe()
    ))
}

/// A reported cost candidate as a float, the way Python's `float()` would read it.
fn coerce_cost(value: Option<&Scalar>) -> Option<f64> {
    match value? {
        Scalar::Number(v) => Some(*v),
        Scalar::Str(s) => s.trim().parse::<f64>().ok(),
        Scalar::Bool(_) | Scalar::Other(_) => None,
    }
}

fn read_json_event(event: &Value, formula: Formula) -> ResponseFields {
    let read = |v: &Value| {
        let mut out = ResponseFields::default();
        walk_json(v, RESPONSE_SCHEMA, Field::mask_for(formula), &mut out);
        if let Some(mask) = Field::fallback_mask(formula, &out) {
            walk_json(v, RESPONSE_SCHEMA, mask, &mut out);
        }
        out
    };
    let out = read(event);
    if out.carries_usage() {
        return out;
    }
    WRAPPER_KEYS
        .iter()
        .filter_map(|k| event.get(k))
        .map(read)
        .find(ResponseFields::carries_usage)
        .unwrap_or(out)
}

fn walk_json(value: &Value, nodes: &[SchemaNode], mask: u64, out: &mut ResponseFields) {
    let Value::Object(map) = value else { return };
    for node in nodes {
        if node.mask & mask == 0 {
            continue;
        }
        let Some(child) = map.get(node.key) else {
            continue;
        };
        if !node.modalities.is_empty() {
            for item in child.as_array().into_iter().flatten() {
                let modality = item.get(MODALITY_KEYS[0]).and_then(Value::as_str);
                let count = item
                    .get(MODALITY_KEYS[1])
                    .or_else(|| item.get(MODALITY_KEYS[2]));
                if let (Some(m), Some(Value::Number(n))) = (modality, count)
                    && let Some(f) = node.modality_field(m)
                {
                    out.add_tokens(f, Scalar::Number(n.as_f64().unwrap_or(f64::NAN)));
                }
            }
            continue;
        }
        if let Some(field) = node.field {
            let scalar = match child {
                Value::Null => continue,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Number(n) => Scalar::Number(n.as_f64().unwrap_or(f64::NAN)),
                Value::String(s) => Scalar::Str(s.as_str().into()),
                Value::Array(_) => Scalar::Other("list".into()),
                Value::Object(_) => Scalar::Other("dict".into()),
            };
            let leaf = scalar.is_leaf_value();
            out.set(field, scalar);
            if leaf {
                continue;
            }
        }
        walk_json(child, node.children, mask, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value, formula: Formula) -> ResponseFields {
        ResponseFields::from_json(&v, formula)
    }

    #[test]
    fn schema_masks_cover_every_field() {
        let all = RESPONSE_SCHEMA.iter().fold(0, |m, n| m | n.mask);
        assert_eq!(all & OPENAI_RESPONSES, OPENAI_RESPONSES);
        assert_eq!(all, (1u64 << FIELD_COUNT) - 1);
    }

    #[test]
    fn fields_keep_and_give_up_owned_values() {
        let mut f = ResponseFields::default();
        f.set(Field::ServiceTier, Scalar::Str("flex".into()));
        f.set_number(Field::ServiceTier, 1.0);
        assert_eq!(f.get(Field::ServiceTier), Some(&Scalar::Number(1.0)));
        f.set(Field::UsageServiceTier, Scalar::Other("list".into()));
        let copy = f.clone();
        let mut later = ResponseFields::default();
        later.set(Field::UsageServiceTier, Scalar::Str("batch".into()));
        later.set_number(Field::PromptTokens, 3.0);
        f.merge_later(&mut later);
        assert_eq!(f.text(Field::UsageServiceTier), Some("batch"));
        assert_eq!(f.tokens(Field::PromptTokens).unwrap(), Some(3.0));
        // `later` is left empty, and takes the next event's values.
        assert_eq!(later.get(Field::UsageServiceTier), None);
        assert_eq!(later.get(Field::PromptTokens), None);
        later.set(Field::UsageServiceTier, Scalar::Str("flex".into()));
        f.merge_later(&mut later);
        assert_eq!(f.text(Field::UsageServiceTier), Some("flex"));
        assert_eq!(f.tokens(Field::PromptTokens).unwrap(), Some(3.0));
        assert_eq!(
            copy.get(Field::UsageServiceTier),
            Some(&Scalar::Other("list".into()))
        );
        assert_eq!(copy.get(Field::PromptTokens), None);
        assert!(format!("{copy:?}").contains("list"));
    }

    #[test]
    fn reads_only_the_provider_fields() {
        let v =
            json!({"usage": {"prompt_tokens": 5, "input_tokens": 7, "cache_read_input_tokens": 3}});
        let f = read(v.clone(), Formula::OpenAi);
        assert_eq!(f.tokens(Field::PromptTokens).unwrap(), Some(5.0));
        assert_eq!(f.tokens(Field::CacheReadTokens).unwrap(), None);
        let f = read(v, Formula::Anthropic);
        assert_eq!(f.tokens(Field::PromptTokens).unwrap(), None);
        assert_eq!(f.tokens(Field::CacheReadTokens).unwrap(), Some(3.0));
    }

    #[test]
    fn token_counts_are_validated_naming_the_field() {
        for bad in [json!(true), json!(-1), json!("1000"), json!([1]), json!({})] {
            let f = read(json!({"usage": {"prompt_tokens": bad}}), Formula::OpenAi);
            let err = f.tokens(Field::PromptTokens).unwrap_err().to_string();
            assert!(err.contains("usage.prompt_tokens"), "{err}");
        }
        let f = read(json!({"usage": {"prompt_tokens": null}}), Formula::OpenAi);
        assert_eq!(f.tokens(Field::PromptTokens).unwrap(), None);
        let f = read(json!({"usage": {"prompt_tokens": 1.5}}), Formula::OpenAi);
        assert_eq!(f.tokens_or_zero(Field::PromptTokens).unwrap(), 1.5);
    }

    #[test]
    fn reported_cost_candidates_in_order() {
        let cost = |v: Value| read(v, Formula::None).reported_cost();
        assert_eq!(cost(json!({"usage": {"cost": 0.5}})).unwrap(), Some(0.5));
        assert_eq!(cost(json!({"usage": {"cost": 0}})).unwrap(), Some(0.0));
        assert_eq!(
            cost(json!({"usage": {"cost": "0.25"}})).unwrap(),
            Some(0.25)
        );
        assert_eq!(cost(json!({"usage": {"cost": true}})).unwrap(), None);
        assert_eq!(cost(json!({"usage": {"cost": "abc"}})).unwrap(), None);
        assert_eq!(
            cost(json!({"usage": {"cost": {"total_cost": 1.5}}})).unwrap(),
            Some(1.5)
        );
        assert_eq!(
            cost(json!({"usage": {"cost": {"total_cost": true}}})).unwrap(),
            None
        );
        let both = json!({"usage": {"cost": 0.1, "model_extra": {"cost": 0.7}}});
        assert_eq!(cost(both).unwrap(), Some(0.1));
        let extra = json!({"usage": {"model_extra": {"cost": {"total_cost": 0.8}}},
            "_hidden_params": {"additional_headers": {"llm_provider-x-litellm-response-cost": 3}}});
        assert_eq!(cost(extra).unwrap(), Some(0.8));
        let header = json!({"_hidden_params": {"additional_headers":
            {"llm_provider-x-litellm-response-cost": "0.0042"}}});
        assert_eq!(cost(header).unwrap(), Some(0.0042));
        assert_eq!(cost(json!({"usage": null})).unwrap(), None);
        assert_eq!(cost(json!("not a dict")).unwrap(), None);
    }

    #[test]
    fn negative_or_nan_reported_cost_is_refused() {
        let f = read(json!({"usage": {"cost": -1.0}}), Formula::None);
        let err = f.reported_cost().unwrap_err().to_string();
        assert!(err.contains("usage.cost") && err.contains("-1"), "{err}");
        let f = read(json!({"usage": {"cost": "nan"}}), Formula::None);
        assert!(f.reported_cost().is_err());
    }
}
