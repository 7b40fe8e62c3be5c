//! Token usage per provider shape, split into billed units per [`PriceKey`], and its cost.
//!
//! Each token is billed once, at the most specific key the model prices (genai-prices' leaf
//! rule): the units of a sub-class (cached input, cache writes, audio, reasoning...) are
//! taken out of their parent's count and billed at their own key, which falls back to the
//! parent's price when the model has none ([`PriceKey::fallback`]).
//!
//! - OpenAI (chat and Responses; every OpenAI-shaped provider): the prompt includes cached
//!   tokens, cache writes (`cache_write_tokens`, its `ttl_12h_tokens` at the 12-hour price)
//!   and audio/image tokens; the completion includes reasoning and audio tokens.
//! - Anthropic: input, cache writes (the 1-hour part of `cache_creation` at the 1-hour
//!   price), cache reads and output are disjoint; web search requests are billed per 1,000.
//! - Gemini: `prompt_token_count` includes the cached tokens and the per-modality counts;
//!   `tool_use_prompt_token_count` is added to the input, thoughts to the output.
//!
//! - Bedrock Converse: `inputTokens`, `cacheReadInputTokens`, `cacheWriteInputTokens` are
//!   disjoint (as genai-prices' `aws` extractor reads them); an InvokeModel body is read as
//!   Anthropic's (Claude) or OpenAI's (gpt-oss) usage. Claude on Vertex AI is Anthropic's.
//! - Perplexity: OpenAI chat usage; `citation_tokens` and `reasoning_tokens` are billed on top
//!   of `completion_tokens`, `num_search_queries` as web searches (genai-prices' extractor).
//!
//! Every priced response is one request ([`PriceKey::Requests`], a fee only some models have).
//! A long-context tier is chosen by the request's whole input (every input-side unit).

use super::Formula;
use super::prices::{Applied, KEY_COUNT, PriceKey, RequestContext};
use super::usage::{Field, ResponseFields};
use crate::error::{CoreError, CoreResult};

/// The order terms are added in: openpipe-art's (input, cache writes, cache reads, output),
/// so that the same prices give bit-identical costs; the other terms after their group.
const SUM_ORDER: [PriceKey; KEY_COUNT] = [
    PriceKey::Input,
    PriceKey::CacheWrite,
    PriceKey::CacheWrite1h,
    PriceKey::CacheWrite12h,
    PriceKey::CacheRead,
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

/// Billed units of one response, per key, and the input size that selects a tier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    pub counts: [f64; KEY_COUNT],
    pub input_tokens: f64,
}

/// The error for a usage without any of the provider's fields.
#[cold]
#[inline(never)]
pub fn mismatch_error(provider: &str) -> CoreError {
    CoreError::Pricing(format!(
        "Response usage does not match provider '{provider}'. Pass the correct provider/model \
         pair or register a custom cost extractor."
    ))
}

impl Default for Units {
    fn default() -> Units {
        Units {
            counts: [0.0; KEY_COUNT],
            input_tokens: 0.0,
        }
    }
}

impl Units {
    fn put(&mut self, key: PriceKey, n: f64) {
        self.counts[key as usize] += n.max(0.0);
    }

    /// Reads the usage of `formula`'s shape; `None` when the response has none of its fields.
    pub fn read(formula: Formula, f: &ResponseFields) -> CoreResult<Option<Units>> {
        let mut units = Units::default();
        Ok(Units::read_into(formula, f, &mut units)?.then_some(units))
    }

    /// [`Units::read`] into `units` (zero on entry): true when the usage matched. Filled in
    /// place: a `Units` is 160 bytes, and moving it through nested `Result`s and `Option`s
    /// was a tenth of a tracked call's pricing (issue #20).
    pub fn read_into(formula: Formula, f: &ResponseFields, units: &mut Units) -> CoreResult<bool> {
        let u = units;
        let matched = match formula {
            Formula::OpenAi => read_openai(f, u)?,
            Formula::Anthropic => read_anthropic(f, u)?,
            Formula::Gemini => read_gemini(f, u)? || read_anthropic(f, u)?,
            Formula::Bedrock => read_converse(f, u)? || read_anthropic(f, u)? || read_openai(f, u)?,
            Formula::Perplexity => read_perplexity(f, u)?,
            Formula::None => false,
        };
        if matched {
            u.put(PriceKey::Requests, 1.0);
        }
        Ok(matched)
    }

    /// The cost in US dollars at `prices`, summed key by key in [`SUM_ORDER`].
    pub fn cost(&self, prices: &Applied<'_>) -> f64 {
        SUM_ORDER
            .iter()
            .filter(|k| self.counts[**k as usize] != 0.0)
            .map(|k| self.counts[*k as usize] * prices.price(*k, self.input_tokens) / k.per())
            .sum()
    }
}

/// The request context a response states: OpenAI's `service_tier`, Anthropic's
/// `usage.service_tier` (`batch`) and `usage.speed` (`fast`); `batch` from the caller.
pub fn request_context(f: &ResponseFields, batch: bool) -> RequestContext<'_> {
    let standard = |t: &&str| !matches!(*t, "default" | "auto" | "standard" | "standard_only");
    let usage_tier = f.text(Field::UsageServiceTier);
    RequestContext {
        service_tier: f.text(Field::ServiceTier).filter(standard),
        batch: batch || usage_tier == Some("batch"),
        fast: f.text(Field::UsageSpeed) == Some("fast"),
    }
}

/// The OpenAI usage fields split out of the prompt or the completion, for chat usage and for
/// the Responses API's (the audio and image counts are chat's names in both).
const OPENAI_CHAT_DETAILS: [Field; 7] = [
    Field::PromptCacheWriteTokens,
    Field::PromptCacheWrite12hTokens,
    Field::CompletionReasoningTokens,
    Field::PromptAudioTokens,
    Field::PromptImageTokens,
    Field::CompletionAudioTokens,
    Field::CompletionImageTokens,
];
const OPENAI_RESPONSES_DETAILS: [Field; 7] = [
    Field::InputCacheWriteTokens,
    Field::InputCacheWrite12hTokens,
    Field::OutputReasoningTokens,
    Field::PromptAudioTokens,
    Field::PromptImageTokens,
    Field::CompletionAudioTokens,
    Field::CompletionImageTokens,
];

fn read_openai(f: &ResponseFields, u: &mut Units) -> CoreResult<bool> {
    let t = |field| f.tokens_or_zero(field);
    let chat = (
        f.tokens(Field::PromptTokens)?,
        f.tokens(Field::CompletionTokens)?,
        t(Field::PromptCachedTokens)?,
    );
    let responses = chat == (None, None, 0.0);
    let (prompt, completion, cached) = if responses {
        let r = (
            f.tokens(Field::InputTokens)?,
            f.tokens(Field::OutputTokens)?,
            t(Field::InputCachedTokens)?,
        );
        if r == (None, None, 0.0) {
            return Ok(false);
        }
        r
    } else {
        chat
    };
    let details = if responses {
        OPENAI_RESPONSES_DETAILS
    } else {
        OPENAI_CHAT_DETAILS
    };
    if details.iter().all(|d| f.get(*d).is_none()) {
        // Most usages give the three counts alone: the split below with every detail 0,
        // term for term (x - 0.0 is x), without its chain of clamps (issue #20).
        let (prompt, completion) = (prompt.unwrap_or(0.0), completion.unwrap_or(0.0));
        let cached = cached.min(prompt);
        u.put(PriceKey::CacheRead, cached);
        u.put(PriceKey::Input, prompt - cached);
        u.put(PriceKey::Output, completion);
        u.input_tokens = prompt;
        return Ok(true);
    }
    let (writes, writes_12h, reasoning) = if responses {
        (
            t(Field::InputCacheWriteTokens)?,
            t(Field::InputCacheWrite12hTokens)?,
            t(Field::OutputReasoningTokens)?,
        )
    } else {
        (
            t(Field::PromptCacheWriteTokens)?,
            t(Field::PromptCacheWrite12hTokens)?,
            t(Field::CompletionReasoningTokens)?,
        )
    };
    let (audio_in, image_in) = (t(Field::PromptAudioTokens)?, t(Field::PromptImageTokens)?);
    let (audio_out, image_out) = (
        t(Field::CompletionAudioTokens)?,
        t(Field::CompletionImageTokens)?,
    );
    let prompt = prompt.unwrap_or(0.0);
    let completion = completion.unwrap_or(0.0);
    let cached = cached.min(prompt);
    let writes = writes.min(prompt - cached);
    let writes_12h = writes_12h.min(writes);
    u.put(PriceKey::CacheRead, cached);
    u.put(PriceKey::CacheWrite12h, writes_12h);
    u.put(PriceKey::CacheWrite, writes - writes_12h);
    let rest = prompt - cached - writes;
    let audio_in = audio_in.min(rest);
    let image_in = image_in.min(rest - audio_in);
    u.put(PriceKey::InputAudio, audio_in);
    u.put(PriceKey::InputImage, image_in);
    u.put(PriceKey::Input, rest - audio_in - image_in);
    let audio_out = audio_out.min(completion);
    let image_out = image_out.min(completion - audio_out);
    let reasoning = reasoning.min(completion - audio_out - image_out);
    u.put(PriceKey::OutputAudio, audio_out);
    u.put(PriceKey::OutputImage, image_out);
    u.put(PriceKey::OutputReasoning, reasoning);
    u.put(
        PriceKey::Output,
        completion - audio_out - image_out - reasoning,
    );
    u.input_tokens = prompt;
    Ok(true)
}

fn read_anthropic(f: &ResponseFields, u: &mut Units) -> CoreResult<bool> {
    let input = f.tokens(Field::InputTokens)?;
    let output = f.tokens(Field::OutputTokens)?;
    let creation = f.tokens_or_zero(Field::CacheCreationTokens)?;
    let read = f.tokens_or_zero(Field::CacheReadTokens)?;
    let split_5m = f.tokens(Field::Ephemeral5mTokens)?;
    let split_1h = f.tokens(Field::Ephemeral1hTokens)?;
    let searches = f.tokens_or_zero(Field::WebSearchRequests)?;
    let split = split_5m.unwrap_or(0.0) + split_1h.unwrap_or(0.0);
    if input.is_none() && output.is_none() && creation == 0.0 && read == 0.0 && split == 0.0 {
        return Ok(false);
    }
    // The API reports the total writes and, separately, their split by TTL.
    let writes = creation.max(split);
    let writes_1h = split_1h.unwrap_or(0.0).min(writes);
    let input = input.unwrap_or(0.0);
    u.put(PriceKey::Input, input);
    u.put(PriceKey::CacheWrite, writes - writes_1h);
    u.put(PriceKey::CacheWrite1h, writes_1h);
    u.put(PriceKey::CacheRead, read);
    u.put(PriceKey::Output, output.unwrap_or(0.0));
    u.put(PriceKey::WebSearches, searches);
    u.input_tokens = input + writes + read;
    Ok(true)
}

fn read_converse(f: &ResponseFields, u: &mut Units) -> CoreResult<bool> {
    let input = f.tokens(Field::ConverseInputTokens)?;
    let output = f.tokens(Field::ConverseOutputTokens)?;
    let read = f.tokens_or_zero(Field::ConverseCacheReadTokens)?;
    let write = f.tokens_or_zero(Field::ConverseCacheWriteTokens)?;
    if input.is_none() && output.is_none() && read == 0.0 && write == 0.0 {
        return Ok(false);
    }
    let input = input.unwrap_or(0.0);
    u.put(PriceKey::Input, input);
    u.put(PriceKey::CacheWrite, write);
    u.put(PriceKey::CacheRead, read);
    u.put(PriceKey::Output, output.unwrap_or(0.0));
    u.input_tokens = input + read + write;
    Ok(true)
}

fn read_perplexity(f: &ResponseFields, u: &mut Units) -> CoreResult<bool> {
    if !read_openai(f, u)? {
        return Ok(false);
    }
    u.put(
        PriceKey::OutputCitation,
        f.tokens_or_zero(Field::PerplexityCitationTokens)?,
    );
    u.put(
        PriceKey::OutputReasoning,
        f.tokens_or_zero(Field::PerplexityReasoningTokens)?,
    );
    u.put(
        PriceKey::WebSearches,
        f.tokens_or_zero(Field::PerplexitySearchQueries)?,
    );
    Ok(true)
}

fn read_gemini(f: &ResponseFields, u: &mut Units) -> CoreResult<bool> {
    let t = |field| f.tokens_or_zero(field);
    let prompt = f.tokens(Field::GeminiPromptTokens)?;
    let candidates = f.tokens(Field::GeminiCandidatesTokens)?;
    let cached = t(Field::GeminiCachedTokens)?;
    let thoughts = t(Field::GeminiThoughtsTokens)?;
    let tool = t(Field::GeminiToolUseTokens)?;
    if prompt.is_none() && candidates.is_none() && cached == 0.0 && thoughts == 0.0 && tool == 0.0 {
        return Ok(false);
    }
    let prompt = prompt.unwrap_or(0.0);
    let cached = cached.min(prompt);
    let cached_audio = t(Field::GeminiCachedAudio)?.min(cached);
    let cached_image = t(Field::GeminiCachedImage)?.min(cached - cached_audio);
    let audio = (t(Field::GeminiPromptAudio)? - cached_audio).max(0.0);
    let image = (t(Field::GeminiPromptImage)? - cached_image).max(0.0);
    let video = t(Field::GeminiPromptVideo)?;
    let uncached = prompt - cached;
    let audio = audio.min(uncached);
    let image = image.min(uncached - audio);
    let video = video.min(uncached - audio - image);
    u.put(PriceKey::CacheAudioRead, cached_audio);
    u.put(PriceKey::CacheImageRead, cached_image);
    u.put(PriceKey::CacheRead, cached - cached_audio - cached_image);
    u.put(PriceKey::InputAudio, audio);
    u.put(PriceKey::InputImage, image);
    u.put(PriceKey::InputVideo, video);
    u.put(PriceKey::Input, uncached - audio - image - video);
    u.put(PriceKey::InputTool, tool);
    u.put(PriceKey::Output, candidates.unwrap_or(0.0));
    u.put(PriceKey::OutputReasoning, thoughts);
    u.input_tokens = prompt + tool;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::prices::{Condition, Model, Period, Price, PriceSet, RequestTime};
    use serde_json::{Value, json};

    fn model(pairs: &[(PriceKey, f64)]) -> Model {
        let mut s = PriceSet::default();
        for (k, p) in pairs {
            s.set(*k, Price::Flat(*p));
        }
        Model {
            id: "m".into(),
            names: vec![],
            src: "test".into(),
            periods: vec![Period {
                when: Condition::Always,
                prices: s,
            }],
            variants: vec![],
        }
    }

    fn cost(formula: Formula, m: &Model, v: Value) -> f64 {
        let f = ResponseFields::from_json(&v, formula);
        let u = Units::read(formula, &f).unwrap().unwrap();
        u.cost(&m.applied(RequestTime(0.0), &request_context(&f, false)))
    }

    proptest::proptest! {
        /// The three-count fast path bills exactly what the full split bills when every
        /// detail is there and 0, bit for bit (cached above the prompt included).
        #[test]
        fn openai_counts_alone_split_as_with_zero_details(
            prompt in 0u32..5_000_000,
            completion in 0u32..5_000_000,
            cached in proptest::option::of(0u32..6_000_000),
            responses: bool,
        ) {
            let (p, c, d, dc) = match responses {
                true => ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"),
                false => ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"),
            };
            let mut usage = json!({p: prompt, c: completion});
            if let Some(k) = cached {
                usage[d] = json!({"cached_tokens": k});
            }
            let mut full = usage.clone();
            full[d]["cache_write_tokens"] = json!(0);
            full[d]["cache_write_tokens_details"] = json!({"ttl_12h_tokens": 0});
            full[dc] = json!({"reasoning_tokens": 0});
            full["prompt_tokens_details"]["audio_tokens"] = json!(0);
            full["prompt_tokens_details"]["image_tokens"] = json!(0);
            full["completion_tokens_details"]["audio_tokens"] = json!(0);
            full["completion_tokens_details"]["image_tokens"] = json!(0);
            let read = |v: Value| {
                let f = ResponseFields::from_json(&json!({"usage": v}), Formula::OpenAi);
                Units::read(Formula::OpenAi, &f).unwrap().unwrap()
            };
            let (fast, general) = (read(usage), read(full));
            let bits = |u: &Units| u.counts.map(f64::to_bits);
            proptest::prop_assert_eq!(bits(&fast), bits(&general));
            proptest::prop_assert_eq!(fast.input_tokens.to_bits(), general.input_tokens.to_bits());
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1e-12), "{a} != {b}");
    }

    #[test]
    fn openai_cached_writes_audio_and_reasoning() {
        let m = model(&[
            (PriceKey::Input, 2.0),
            (PriceKey::CacheRead, 0.2),
            (PriceKey::CacheWrite, 2.5),
            (PriceKey::CacheWrite12h, 5.0),
            (PriceKey::InputAudio, 40.0),
            (PriceKey::Output, 10.0),
        ]);
        let v = json!({"usage": {"input_tokens": 50_000, "output_tokens": 1_000,
            "input_tokens_details": {"cached_tokens": 10_000, "cache_write_tokens": 30_000,
                "cache_write_tokens_details": {"ttl_30m_tokens": 10_000, "ttl_12h_tokens": 20_000}},
            "output_tokens_details": {"reasoning_tokens": 600}}});
        close(
            cost(Formula::OpenAi, &m, v),
            (10_000.0 * 2.0 + 10_000.0 * 0.2 + 10_000.0 * 2.5 + 20_000.0 * 5.0 + 1_000.0 * 10.0)
                / 1e6,
        );
        let audio = json!({"usage": {"prompt_tokens": 3_000, "completion_tokens": 100,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 1_000}}});
        close(
            cost(Formula::OpenAi, &m, audio),
            (2_000.0 * 2.0 + 1_000.0 * 40.0 + 100.0 * 10.0) / 1e6,
        );
        // Cached tokens beyond the prompt are clamped.
        let clamped = json!({"usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 500}}});
        close(cost(Formula::OpenAi, &m, clamped), 100.0 * 0.2 / 1e6);
    }

    #[test]
    fn anthropic_terms_and_web_search() {
        let m = model(&[
            (PriceKey::Input, 3.0),
            (PriceKey::CacheWrite, 3.75),
            (PriceKey::CacheWrite1h, 6.0),
            (PriceKey::CacheRead, 0.3),
            (PriceKey::Output, 15.0),
            (PriceKey::WebSearches, 10.0),
        ]);
        let v = json!({"usage": {"input_tokens": 1_000, "output_tokens": 500,
            "cache_creation_input_tokens": 3_000, "cache_read_input_tokens": 400,
            "cache_creation": {"ephemeral_5m_input_tokens": 1_000, "ephemeral_1h_input_tokens": 2_000},
            "server_tool_use": {"web_search_requests": 3}}});
        close(
            cost(Formula::Anthropic, &m, v),
            (1_000.0 * 3.0 + 1_000.0 * 3.75 + 2_000.0 * 6.0 + 400.0 * 0.3 + 500.0 * 15.0) / 1e6
                + 0.03,
        );
    }

    #[test]
    fn bedrock_converse_invoke_model_and_vertex_claude() {
        let m = model(&[
            (PriceKey::Input, 3.3),
            (PriceKey::CacheWrite, 4.125),
            (PriceKey::CacheRead, 0.33),
            (PriceKey::Output, 16.5),
        ]);
        let converse = json!({"output": {}, "usage": {"inputTokens": 1_000, "outputTokens": 100,
            "totalTokens": 5_100, "cacheReadInputTokens": 3_000, "cacheWriteInputTokens": 1_000}});
        let want = (1_000.0 * 3.3 + 1_000.0 * 4.125 + 3_000.0 * 0.33 + 100.0 * 16.5) / 1e6;
        close(cost(Formula::Bedrock, &m, converse), want);
        let invoke = json!({"type": "message", "usage": {"input_tokens": 1_000, "output_tokens": 100,
            "cache_creation_input_tokens": 1_000, "cache_read_input_tokens": 3_000}});
        close(cost(Formula::Bedrock, &m, invoke.clone()), want);
        close(cost(Formula::Gemini, &m, invoke), want);
        let chat = json!({"usage": {"prompt_tokens": 1_000, "completion_tokens": 100}});
        close(
            cost(Formula::Bedrock, &m, chat),
            (1_000.0 * 3.3 + 100.0 * 16.5) / 1e6,
        );
        // ConverseStream: the usage is in the last event's `metadata`.
        let stream = json!([
            {"messageStart": {"role": "assistant"}},
            {"contentBlockDelta": {"delta": {"text": "yes"}, "contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {"metadata": {"usage": {"inputTokens": 1_000, "outputTokens": 100,
                "totalTokens": 5_100, "cacheReadInputTokens": 3_000,
                "cacheWriteInputTokens": 1_000}, "metrics": {"latencyMs": 420}}}
        ]);
        close(cost(Formula::Bedrock, &m, stream), want);
    }

    #[test]
    fn perplexity_request_fee_citations_reasoning_and_searches() {
        let m = model(&[
            (PriceKey::Input, 2.0),
            (PriceKey::Output, 8.0),
            (PriceKey::OutputReasoning, 3.0),
            (PriceKey::OutputCitation, 2.0),
            (PriceKey::WebSearches, 5.0),
            (PriceKey::Requests, 12.0),
        ]);
        let v = json!({"usage": {"prompt_tokens": 1_000, "completion_tokens": 100,
            "citation_tokens": 500, "reasoning_tokens": 2_000, "num_search_queries": 3}});
        close(
            cost(Formula::Perplexity, &m, v),
            (1_000.0 * 2.0 + 100.0 * 8.0 + 500.0 * 2.0 + 2_000.0 * 3.0) / 1e6 + 0.015 + 0.012,
        );
    }

    #[test]
    fn gemini_modalities_tools_thoughts_and_camel_case() {
        let m = model(&[
            (PriceKey::Input, 0.3),
            (PriceKey::CacheRead, 0.03),
            (PriceKey::InputAudio, 1.0),
            (PriceKey::Output, 2.5),
        ]);
        let v = json!({"usage_metadata": {"prompt_token_count": 10_000, "candidates_token_count": 500,
            "cached_content_token_count": 2_000, "thoughts_token_count": 100, "tool_use_prompt_token_count": 300,
            "prompt_tokens_details": [{"modality": "TEXT", "token_count": 4_000}, {"modality": "AUDIO", "token_count": 6_000}]}});
        close(
            cost(Formula::Gemini, &m, v),
            (2_000.0 * 0.03 + 6_000.0 * 1.0 + 2_000.0 * 0.3 + 300.0 * 0.3 + 600.0 * 2.5) / 1e6,
        );
        let rest = json!({"usageMetadata": {"promptTokenCount": 1_000, "candidatesTokenCount": 10,
            "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 400}]}});
        close(
            cost(Formula::Gemini, &m, rest),
            (600.0 * 0.3 + 400.0 + 10.0 * 2.5) / 1e6,
        );
    }

    #[test]
    fn streams_take_the_last_usage_never_the_sum() {
        let m = model(&[(PriceKey::Input, 1.0), (PriceKey::Output, 2.0)]);
        let chunk = |n: u32| json!({"usage_metadata": {"prompt_token_count": 100, "candidates_token_count": n}});
        let stream = json!([chunk(1), chunk(5), chunk(9)]);
        close(cost(Formula::Gemini, &m, stream), (100.0 + 9.0 * 2.0) / 1e6);
        let anthropic = json!([
            {"type": "message_start", "message": {"usage": {"input_tokens": 100, "output_tokens": 1}}},
            {"type": "content_block_delta"},
            {"type": "message_delta", "usage": {"output_tokens": 40}}
        ]);
        close(
            cost(Formula::Anthropic, &m, anthropic),
            (100.0 + 40.0 * 2.0) / 1e6,
        );
        let completed = json!({"type": "response.completed", "response": {"created_at": 1, "usage": {"input_tokens": 10, "output_tokens": 2}}});
        close(cost(Formula::OpenAi, &m, completed), (10.0 + 4.0) / 1e6);
    }

    #[test]
    fn context_from_the_response() {
        let f = ResponseFields::from_json(
            &json!({"service_tier": "default", "usage": {"prompt_tokens": 1}}),
            Formula::OpenAi,
        );
        assert_eq!(request_context(&f, false), RequestContext::default());
        let f = ResponseFields::from_json(
            &json!({"service_tier": "flex", "created": 1_700_000_000}),
            Formula::OpenAi,
        );
        assert_eq!(request_context(&f, true).service_tier, Some("flex"));
        assert!(request_context(&f, true).batch);
        assert_eq!(f.timestamp(), Some(1_700_000_000.0));
        let f = ResponseFields::from_json(
            &json!({"usage": {"service_tier": "batch", "speed": "fast"}}),
            Formula::Anthropic,
        );
        let ctx = request_context(&f, false);
        assert!(ctx.batch && ctx.fast);
    }
}
