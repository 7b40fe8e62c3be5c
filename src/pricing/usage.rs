//! Reading a provider response: the fields the pricing rules look at, where they live,
//! and how their values are checked.
//!
//! A response is read once into [`ResponseFields`], a flat table of the few leaves the rules
//! need. The bindings fill it by walking [`RESPONSE_SCHEMA`] over Python objects;
//! [`ResponseFields::from_json`] walks the same schema over a JSON tree. Both stop at the
//! leaves a provider needs ([`Field::mask_for`]), so a hot call reads five or six values.

use serde_json::Value;

use super::Formula;
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
}

/// Number of [`Field`] variants.
pub const FIELD_COUNT: usize = 20;

const fn bit(f: Field) -> u32 {
    1 << f as u32
}

const REPORTED: u32 = bit(Field::UsageCost)
    | bit(Field::UsageCostTotal)
    | bit(Field::ExtraCost)
    | bit(Field::ExtraCostTotal)
    | bit(Field::HeaderCost)
    | bit(Field::HeaderCostTotal);
const OPENAI: u32 =
    bit(Field::PromptTokens) | bit(Field::CompletionTokens) | bit(Field::PromptCachedTokens);
const OPENAI_RESPONSES: u32 =
    bit(Field::InputTokens) | bit(Field::OutputTokens) | bit(Field::InputCachedTokens);
const ANTHROPIC: u32 = bit(Field::InputTokens)
    | bit(Field::OutputTokens)
    | bit(Field::CacheCreationTokens)
    | bit(Field::CacheReadTokens)
    | bit(Field::Ephemeral5mTokens)
    | bit(Field::Ephemeral1hTokens);
const GEMINI: u32 = bit(Field::GeminiPromptTokens)
    | bit(Field::GeminiCandidatesTokens)
    | bit(Field::GeminiCachedTokens)
    | bit(Field::GeminiThoughtsTokens);

impl Field {
    /// The fields read for a provider's formula, plus the reported-cost fields.
    pub fn mask_for(formula: Formula) -> u32 {
        REPORTED
            | match formula {
                Formula::OpenAi => OPENAI,
                Formula::Anthropic => ANTHROPIC,
                Formula::Gemini => GEMINI,
                Formula::None => 0,
            }
    }

    /// Fields to read in a second pass when the first found none of the provider's usual
    /// ones: the Responses API's names under `openai`. Keeps the common case to one pass.
    pub fn fallback_mask(formula: Formula, first: &ResponseFields) -> Option<u32> {
        let chat = [
            Field::PromptTokens,
            Field::CompletionTokens,
            Field::PromptCachedTokens,
        ];
        (formula == Formula::OpenAi && chat.iter().all(|f| first.get(*f).is_none()))
            .then_some(OPENAI_RESPONSES)
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
        }
    }
}

/// A node of the response schema: a key (dict key or attribute), the field stored there,
/// and the keys read below it. `mask` is every field bit in the subtree.
#[derive(Debug)]
pub struct SchemaNode {
    pub key: &'static str,
    pub field: Option<Field>,
    pub children: &'static [SchemaNode],
    pub mask: u32,
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
        mask,
    }
}

const fn leaf(key: &'static str, f: Field) -> SchemaNode {
    node(key, Some(f), &[])
}

// A reported cost is a number, or an object with `total_cost`: cost leaves have a child.

/// Every path the pricing rules read, from the response down.
pub static RESPONSE_SCHEMA: &[SchemaNode] = &[
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
                &[leaf("cached_tokens", Field::PromptCachedTokens)],
            ),
            leaf("input_tokens", Field::InputTokens),
            leaf("output_tokens", Field::OutputTokens),
            node(
                "input_tokens_details",
                None,
                &[leaf("cached_tokens", Field::InputCachedTokens)],
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
#[derive(Debug, Clone, Default)]
pub struct ResponseFields {
    values: [Option<Scalar>; FIELD_COUNT],
}

impl ResponseFields {
    pub fn set(&mut self, field: Field, value: Scalar) {
        self.values[field as usize] = Some(value);
    }

    pub fn get(&self, field: Field) -> Option<&Scalar> {
        self.values[field as usize].as_ref()
    }

    /// Reads the fields `formula` needs from a JSON response (both passes).
    pub fn from_json(response: &Value, formula: Formula) -> ResponseFields {
        let mut out = ResponseFields::default();
        walk_json(
            response,
            RESPONSE_SCHEMA,
            Field::mask_for(formula),
            &mut out,
        );
        if let Some(mask) = Field::fallback_mask(formula, &out) {
            walk_json(response, RESPONSE_SCHEMA, mask, &mut out);
        }
        out
    }

    /// A token count: absent, or a finite non-negative number. Anything else is refused,
    /// naming the field (bools and numeric strings are not token counts).
    pub fn tokens(&self, field: Field) -> CoreResult<Option<f64>> {
        match self.get(field) {
            None => Ok(None),
            Some(Scalar::Number(v)) if super::is_price(*v) => Ok(Some(*v)),
            Some(other) => Err(CoreError::value(format!(
                "Token count {} must be a non-negative number, got {}",
                field.path(),
                other.describe()
            ))),
        }
    }

    /// A token count, 0 when absent.
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

/// A reported cost candidate as a float, the way Python's `float()` would read it.
fn coerce_cost(value: Option<&Scalar>) -> Option<f64> {
    match value? {
        Scalar::Number(v) => Some(*v),
        Scalar::Str(s) => s.trim().parse::<f64>().ok(),
        Scalar::Bool(_) | Scalar::Other(_) => None,
    }
}

fn walk_json(value: &Value, nodes: &[SchemaNode], mask: u32, out: &mut ResponseFields) {
    let Value::Object(map) = value else { return };
    for node in nodes {
        if node.mask & mask == 0 {
            continue;
        }
        let Some(child) = map.get(node.key) else {
            continue;
        };
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
        assert_eq!(all, (1u32 << FIELD_COUNT) - 1);
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
