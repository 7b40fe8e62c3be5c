//! Token usage per provider and the formulas that price it.
//!
//! Sums are evaluated left to right as `tokens * price_per_million / 1e6`, term by term, the
//! order openpipe-art uses, so that the same prices give bit-identical costs. New terms
//! (1-hour cache writes, Gemini thoughts) are added where they are exactly `+ 0.0` whenever
//! the usage does not have them.

use super::usage::{Field, ResponseFields};
use super::{Formula, TokenPricing};
use crate::error::{CoreError, CoreResult};

/// Token counts of one response, in the shape of its provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenUsage {
    /// Chat completions (`prompt_tokens`...) or Responses API (`input_tokens`...) usage.
    OpenAi {
        prompt: f64,
        cached: f64,
        completion: f64,
    },
    /// Messages usage. `cache_write_1h` is split out of `cache_creation_input_tokens` when
    /// the response has `cache_creation.ephemeral_1h_input_tokens`.
    Anthropic {
        input: f64,
        cache_write_5m: f64,
        cache_write_1h: f64,
        cache_read: f64,
        output: f64,
    },
    /// Gemini `usage_metadata`: the prompt includes its cached part; thoughts bill as output.
    Gemini {
        prompt: f64,
        cached: f64,
        candidates: f64,
        thoughts: f64,
    },
}

fn t2c(tokens: f64, per_million: f64) -> f64 {
    tokens * per_million / 1_000_000.0
}

/// The error for a usage without any of the provider's fields.
pub fn mismatch_error(provider: &str) -> CoreError {
    CoreError::Pricing(format!(
        "Response usage does not match provider '{provider}'. Pass the correct provider/model \
         pair or register a custom cost extractor."
    ))
}

impl TokenUsage {
    /// Reads the usage of `formula`'s shape; `None` when the response has none of its fields.
    pub fn read(formula: Formula, f: &ResponseFields) -> CoreResult<Option<TokenUsage>> {
        match formula {
            Formula::OpenAi => read_openai(f),
            Formula::Anthropic => read_anthropic(f),
            Formula::Gemini => read_gemini(f),
            Formula::None => Ok(None),
        }
    }

    /// The input size that selects a long-context tier: every input token, cached or not.
    pub fn tier_tokens(&self) -> f64 {
        match *self {
            TokenUsage::OpenAi { prompt, .. } => prompt,
            TokenUsage::Anthropic {
                input,
                cache_write_5m,
                cache_write_1h,
                cache_read,
                ..
            } => input + cache_write_5m + cache_write_1h + cache_read,
            TokenUsage::Gemini { prompt, .. } => prompt,
        }
    }

    /// The cost in US dollars at `p` (prices per million tokens).
    pub fn cost(&self, p: &TokenPricing) -> f64 {
        let prompt = p.prompt_per_million;
        match *self {
            TokenUsage::OpenAi {
                prompt: n,
                cached,
                completion,
            } => {
                let uncached = (n - cached).max(0.0);
                t2c(uncached, prompt)
                    + t2c(cached, p.cached_prompt_per_million.unwrap_or(prompt))
                    + t2c(completion, p.completion_per_million)
            }
            TokenUsage::Anthropic {
                input,
                cache_write_5m,
                cache_write_1h,
                cache_read,
                output,
            } => {
                t2c(input, prompt)
                    + t2c(cache_write_5m, p.cache_creation_per_million.unwrap_or(prompt))
                    // Anthropic bills 1-hour cache writes at twice the base input price.
                    + t2c(cache_write_1h, 2.0 * prompt)
                    + t2c(cache_read, p.cache_read_per_million.unwrap_or(prompt))
                    + t2c(output, p.completion_per_million)
            }
            TokenUsage::Gemini {
                prompt: n,
                cached,
                candidates,
                thoughts,
            } => {
                let uncached = (n - cached).max(0.0);
                t2c(uncached, prompt)
                    + t2c(cached, p.cached_prompt_per_million.unwrap_or(prompt))
                    + t2c(candidates, p.completion_per_million)
                    + t2c(thoughts, p.completion_per_million)
            }
        }
    }
}

fn read_openai(f: &ResponseFields) -> CoreResult<Option<TokenUsage>> {
    let chat = (
        f.tokens(Field::PromptTokens)?,
        f.tokens(Field::CompletionTokens)?,
        f.tokens_or_zero(Field::PromptCachedTokens)?,
    );
    let (prompt, completion, cached) = match chat {
        (None, None, 0.0) => {
            // No chat-completions fields: try the Responses API's names.
            let responses = (
                f.tokens(Field::InputTokens)?,
                f.tokens(Field::OutputTokens)?,
                f.tokens_or_zero(Field::InputCachedTokens)?,
            );
            match responses {
                (None, None, 0.0) => return Ok(None),
                other => other,
            }
        }
        other => other,
    };
    let prompt = prompt.unwrap_or(0.0);
    Ok(Some(TokenUsage::OpenAi {
        prompt,
        cached: cached.min(prompt),
        completion: completion.unwrap_or(0.0),
    }))
}

fn read_anthropic(f: &ResponseFields) -> CoreResult<Option<TokenUsage>> {
    let input = f.tokens(Field::InputTokens)?;
    let output = f.tokens(Field::OutputTokens)?;
    let creation = f.tokens_or_zero(Field::CacheCreationTokens)?;
    let read = f.tokens_or_zero(Field::CacheReadTokens)?;
    let split_5m = f.tokens(Field::Ephemeral5mTokens)?;
    let split_1h = f.tokens(Field::Ephemeral1hTokens)?;
    let split = split_5m.unwrap_or(0.0) + split_1h.unwrap_or(0.0);
    if input.is_none() && output.is_none() && creation == 0.0 && read == 0.0 && split == 0.0 {
        return Ok(None);
    }
    // Without a split every write bills at the 5-minute price, as the reference does. With
    // one, the 1-hour part is taken out of the total (which the API reports as the sum).
    let write_1h = split_1h.unwrap_or(0.0);
    let write_5m = if split_1h.is_some() || split_5m.is_some() {
        creation.max(split) - write_1h
    } else {
        creation
    };
    Ok(Some(TokenUsage::Anthropic {
        input: input.unwrap_or(0.0),
        cache_write_5m: write_5m,
        cache_write_1h: write_1h,
        cache_read: read,
        output: output.unwrap_or(0.0),
    }))
}

fn read_gemini(f: &ResponseFields) -> CoreResult<Option<TokenUsage>> {
    let prompt = f.tokens(Field::GeminiPromptTokens)?;
    let candidates = f.tokens(Field::GeminiCandidatesTokens)?;
    let cached = f.tokens_or_zero(Field::GeminiCachedTokens)?;
    let thoughts = f.tokens_or_zero(Field::GeminiThoughtsTokens)?;
    if prompt.is_none() && candidates.is_none() && cached == 0.0 && thoughts == 0.0 {
        return Ok(None);
    }
    let prompt = prompt.unwrap_or(0.0);
    Ok(Some(TokenUsage::Gemini {
        prompt,
        cached: cached.min(prompt),
        candidates: candidates.unwrap_or(0.0),
        thoughts,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const GPT_4O: TokenPricing = TokenPricing {
        prompt_per_million: 2.5,
        completion_per_million: 10.0,
        cached_prompt_per_million: Some(1.25),
        cache_creation_per_million: None,
        cache_read_per_million: Some(1.25),
    };
    const SONNET: TokenPricing = TokenPricing {
        prompt_per_million: 3.0,
        completion_per_million: 15.0,
        cached_prompt_per_million: None,
        cache_creation_per_million: Some(3.75),
        cache_read_per_million: Some(0.3),
    };

    fn usage(formula: Formula, v: Value) -> Option<TokenUsage> {
        let f = ResponseFields::from_json(&v, formula);
        TokenUsage::read(formula, &f).unwrap()
    }

    #[test]
    fn openai_chat_formula_matches_the_reference() {
        let u = usage(
            Formula::OpenAi,
            json!({"usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                "prompt_tokens_details": {"cached_tokens": 200}}}),
        )
        .unwrap();
        // 800 * 2.5 / 1e6 + 200 * 1.25 / 1e6 + 100 * 10 / 1e6, in that order.
        let expected: f64 = 800.0 * 2.5 / 1e6 + 200.0 * 1.25 / 1e6 + 100.0 * 10.0 / 1e6;
        assert_eq!(u.cost(&GPT_4O).to_bits(), expected.to_bits());
    }

    #[test]
    fn openai_cached_is_clamped_and_falls_back_to_prompt_price() {
        let u = usage(
            Formula::OpenAi,
            json!({"usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": 500}}}),
        )
        .unwrap();
        assert_eq!(u.cost(&GPT_4O), 100.0 * 1.25 / 1e6);
        let only_cached = json!({"usage": {"prompt_tokens_details": {"cached_tokens": 5}}});
        assert_eq!(
            usage(Formula::OpenAi, only_cached).unwrap().cost(&GPT_4O),
            0.0
        );
        let no_cache_price = TokenPricing {
            cached_prompt_per_million: None,
            ..GPT_4O
        };
        assert_eq!(u.cost(&no_cache_price), 100.0 * 2.5 / 1e6);
    }

    #[test]
    fn openai_responses_api_usage() {
        let u = usage(
            Formula::OpenAi,
            json!({"usage": {"input_tokens": 1000, "output_tokens": 100,
                "input_tokens_details": {"cached_tokens": 200},
                "output_tokens_details": {"reasoning_tokens": 50}}}),
        )
        .unwrap();
        assert_eq!(
            u,
            TokenUsage::OpenAi {
                prompt: 1000.0,
                cached: 200.0,
                completion: 100.0
            }
        );
        assert_eq!(usage(Formula::OpenAi, json!({"usage": {}})), None);
        assert_eq!(usage(Formula::OpenAi, json!({})), None);
    }

    #[test]
    fn anthropic_formula_adds_every_term() {
        let u = usage(
            Formula::Anthropic,
            json!({"usage": {"input_tokens": 100, "output_tokens": 50,
                "cache_creation_input_tokens": 300, "cache_read_input_tokens": 400}}),
        )
        .unwrap();
        let expected: f64 =
            100.0 * 3.0 / 1e6 + 300.0 * 3.75 / 1e6 + 400.0 * 0.3 / 1e6 + 50.0 * 15.0 / 1e6;
        assert_eq!(u.cost(&SONNET).to_bits(), expected.to_bits());
        assert_eq!(u.tier_tokens(), 800.0);
    }

    #[test]
    fn anthropic_cache_write_split() {
        let v = |h1: u64| {
            json!({"usage": {"input_tokens": 100, "output_tokens": 50,
            "cache_creation_input_tokens": 300, "cache_read_input_tokens": 400,
            "cache_creation": {"ephemeral_5m_input_tokens": 300 - h1, "ephemeral_1h_input_tokens": h1}}})
        };
        let plain = usage(
            Formula::Anthropic,
            json!({"usage": {"input_tokens": 100, "output_tokens": 50,
                "cache_creation_input_tokens": 300, "cache_read_input_tokens": 400}}),
        )
        .unwrap();
        // No 1-hour writes: bit-identical to the unsplit formula.
        let zero = usage(Formula::Anthropic, v(0)).unwrap();
        assert_eq!(zero.cost(&SONNET).to_bits(), plain.cost(&SONNET).to_bits());
        let split = usage(Formula::Anthropic, v(100)).unwrap();
        let expected = 100.0 * 3.0 / 1e6
            + 200.0 * 3.75 / 1e6
            + 100.0 * 6.0 / 1e6
            + 400.0 * 0.3 / 1e6
            + 50.0 * 15.0 / 1e6;
        assert_eq!(split.cost(&SONNET), expected);
        // A split without the total still counts every write.
        let only_split = usage(
            Formula::Anthropic,
            json!({"usage": {"cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 5}}}),
        )
        .unwrap();
        assert_eq!(
            only_split.cost(&SONNET),
            10.0 * 3.75 / 1e6 + 5.0 * 6.0 / 1e6
        );
    }

    #[test]
    fn gemini_usage_metadata() {
        let u = usage(
            Formula::Gemini,
            json!({"usage_metadata": {"prompt_token_count": 1000, "candidates_token_count": 100,
                "cached_content_token_count": 400, "thoughts_token_count": 50}}),
        )
        .unwrap();
        let p = TokenPricing {
            prompt_per_million: 1.25,
            completion_per_million: 10.0,
            cached_prompt_per_million: Some(0.125),
            cache_creation_per_million: None,
            cache_read_per_million: Some(0.125),
        };
        let expected: f64 =
            600.0 * 1.25 / 1e6 + 400.0 * 0.125 / 1e6 + 100.0 * 10.0 / 1e6 + 50.0 * 10.0 / 1e6;
        assert_eq!(u.cost(&p), expected);
        assert_eq!(
            usage(Formula::Gemini, json!({"usage": {"prompt_tokens": 5}})),
            None
        );
    }

    #[test]
    fn shapes_are_chosen_by_provider() {
        let both = json!({"usage": {"prompt_tokens": 1000, "input_tokens": 5, "output_tokens": 5}});
        let a = usage(Formula::Anthropic, both.clone()).unwrap();
        assert_eq!(a.cost(&SONNET), 5.0 * 3.0 / 1e6 + 5.0 * 15.0 / 1e6);
        let o = usage(Formula::OpenAi, both).unwrap();
        assert_eq!(o.tier_tokens(), 1000.0);
        assert_eq!(
            usage(Formula::None, json!({"usage": {"prompt_tokens": 1}})),
            None
        );
    }

    proptest::proptest! {
        // The new shapes never change a cost the reference could compute.
        #[test]
        fn additions_keep_reference_costs_bit_identical(
            input in 0u32..2_000_000, output in 0u32..200_000,
            creation in 0u32..100_000, read in 0u32..100_000,
        ) {
            let anthropic = |extra: Value| {
                let mut u = json!({"input_tokens": input, "output_tokens": output,
                    "cache_creation_input_tokens": creation, "cache_read_input_tokens": read});
                u["cache_creation"] = extra;
                usage(Formula::Anthropic, json!({"usage": u})).unwrap().cost(&SONNET).to_bits()
            };
            let split = json!({"ephemeral_5m_input_tokens": creation, "ephemeral_1h_input_tokens": 0});
            proptest::prop_assert_eq!(anthropic(Value::Null), anthropic(split));
            let chat = usage(Formula::OpenAi, json!({"usage": {"prompt_tokens": input,
                "completion_tokens": output, "prompt_tokens_details": {"cached_tokens": read}}}));
            let responses = usage(Formula::OpenAi, json!({"usage": {"input_tokens": input,
                "output_tokens": output, "input_tokens_details": {"cached_tokens": read}}}));
            proptest::prop_assert_eq!(
                chat.unwrap().cost(&GPT_4O).to_bits(),
                responses.unwrap().cost(&GPT_4O).to_bits()
            );
        }
    }
}
