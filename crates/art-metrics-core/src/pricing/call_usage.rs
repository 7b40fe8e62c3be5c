//! One priced call's token counts as OpenTelemetry's GenAI semantic conventions count them
//! (`gen_ai.usage.*`), for the reporters that receive each priced call (issue #24).
//!
//! The conventions count differently from the bill: `input_tokens` is the whole input, cached
//! tokens and cache writes included (each of those is also given on its own), and
//! `output_tokens` the whole output, reasoning included. So the counts are sums of the billed
//! units ([`Units`]), which each provider's formula has already made disjoint.

use super::Formula;
use super::formula::Units;
use super::prices::PriceKey;
use super::usage::ResponseFields;
use crate::error::CoreResult;

/// The `gen_ai.usage.*` counts of one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallUsage {
    /// `gen_ai.usage.input_tokens`: every input-side token (cache reads and writes, audio,
    /// images, tool-use prompt tokens).
    pub input: f64,
    /// `gen_ai.usage.output_tokens`: every output-side token (reasoning, audio, citations).
    pub output: f64,
    /// `gen_ai.usage.cache_read.input_tokens`.
    pub cache_read: f64,
    /// `gen_ai.usage.cache_creation.input_tokens`: cache writes of every lifetime.
    pub cache_creation: f64,
    /// `gen_ai.usage.reasoning.output_tokens`.
    pub reasoning: f64,
}

const OUTPUT: [PriceKey; 6] = [
    PriceKey::Output,
    PriceKey::OutputReasoning,
    PriceKey::OutputAudio,
    PriceKey::OutputImage,
    PriceKey::OutputVideo,
    PriceKey::OutputCitation,
];
const CACHE_READ: [PriceKey; 3] = [
    PriceKey::CacheRead,
    PriceKey::CacheAudioRead,
    PriceKey::CacheImageRead,
];
const CACHE_CREATION: [PriceKey; 3] = [
    PriceKey::CacheWrite,
    PriceKey::CacheWrite1h,
    PriceKey::CacheWrite12h,
];

impl CallUsage {
    /// The counts of a response read with `formula`'s shape; `None` when it carries no token
    /// usage (a response priced by its reported cost alone).
    pub fn read(formula: Formula, fields: &ResponseFields) -> CoreResult<Option<CallUsage>> {
        Ok(Units::read(formula, fields)?.map(|units| {
            let sum = |keys: &[PriceKey]| keys.iter().map(|k| units.counts[*k as usize]).sum();
            CallUsage {
                input: units.input_tokens,
                output: sum(&OUTPUT),
                cache_read: sum(&CACHE_READ),
                cache_creation: sum(&CACHE_CREATION),
                reasoning: units.counts[PriceKey::OutputReasoning as usize],
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn usage(formula: Formula, response: Value) -> Option<CallUsage> {
        CallUsage::read(formula, &ResponseFields::from_json(&response, formula)).unwrap()
    }

    fn counts(input: f64, output: f64, read: f64, creation: f64, reasoning: f64) -> CallUsage {
        CallUsage {
            input,
            output,
            cache_read: read,
            cache_creation: creation,
            reasoning,
        }
    }

    #[test]
    fn openai_prompts_include_their_cached_tokens_and_completions_their_reasoning() {
        let chat = json!({"usage": {"prompt_tokens": 1_000, "completion_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 400},
            "completion_tokens_details": {"reasoning_tokens": 120}}});
        assert_eq!(
            usage(Formula::OpenAi, chat),
            Some(counts(1_000.0, 300.0, 400.0, 0.0, 120.0))
        );
        let responses = json!({"usage": {"input_tokens": 50_000, "output_tokens": 1_000,
            "input_tokens_details": {"cached_tokens": 10_000, "cache_write_tokens": 30_000},
            "output_tokens_details": {"reasoning_tokens": 600}}});
        assert_eq!(
            usage(Formula::OpenAi, responses),
            Some(counts(50_000.0, 1_000.0, 10_000.0, 30_000.0, 600.0))
        );
    }

    #[test]
    fn anthropic_input_is_the_sum_of_its_disjoint_counts() {
        let message = json!({"usage": {"input_tokens": 100, "output_tokens": 50,
            "cache_creation_input_tokens": 2_000, "cache_read_input_tokens": 3_000,
            "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1_500}}});
        assert_eq!(
            usage(Formula::Anthropic, message),
            Some(counts(5_100.0, 50.0, 3_000.0, 2_000.0, 0.0))
        );
    }

    #[test]
    fn gemini_counts_tool_prompts_as_input_and_thoughts_as_output() {
        let response = json!({"usage_metadata": {"prompt_token_count": 1_000,
            "candidates_token_count": 200, "cached_content_token_count": 600,
            "thoughts_token_count": 80, "tool_use_prompt_token_count": 10}});
        assert_eq!(
            usage(Formula::Gemini, response),
            Some(counts(1_010.0, 280.0, 600.0, 0.0, 80.0))
        );
    }

    #[test]
    fn a_response_without_token_usage_has_none() {
        assert_eq!(
            usage(Formula::OpenAi, json!({"usage": {"cost": 0.5}})),
            None
        );
    }
}
