"""@track_api_cost: decoration-time checks, sync and async calls, contexts, errors."""

import asyncio
import inspect
import threading

import pytest
from art_metrics import CostTrackingError, CostTrackingWarning, MetricsBuilder, track_api_cost
from pricing_helpers import anthropic_message, chat_completion, openai_usage

GPT_4O_COST = 0.0032500000000000003


def judge_fn(**kw):
    @track_api_cost(source="llm_judge/correctness", provider="openai", model_name="gpt-4o", **kw)
    def judge(response=None):
        """Judges."""
        return openai_usage() if response is None else response

    return judge


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"source": "/"}, "source must be non-empty"),
        ({"source": ""}, "source must be non-empty"),
        ({"provider": " "}, "provider must be non-empty"),
        ({"model_name": " "}, "model_name must be non-empty"),
        ({"provider": " ", "model_name": " "}, "provider must be non-empty"),
    ],
)
def test_validation_at_decoration_time(kw, message):
    args = {"source": "s", "provider": "openai", "model_name": "m"} | kw
    with pytest.raises(ValueError, match=message):
        track_api_cost(**args)


def test_bad_arguments_fail_at_decoration_time():
    with pytest.raises(ValueError, match="prompt_price_per_million"):
        track_api_cost(
            source="s", provider="openai", model_name="m", prompt_price_per_million="abc"
        )
    with pytest.raises(TypeError, match="response_getter must be callable"):
        track_api_cost(source="s", provider="openai", model_name="m", response_getter=3)
    # A space is a source (only slashes are stripped), as in the reference.
    track_api_cost(source=" ", provider="openai", model_name="m")


def test_sync_records_in_the_active_context():
    judge = judge_fn()
    assert judge.__name__ == "judge" and judge.__doc__ == "Judges."
    train = MetricsBuilder("train")
    evals = train.for_cost_context("eval")
    with train.activate_context():
        assert judge() == openai_usage()
        with evals.activate_context():
            judge()
            judge()
    assert train._flush()["costs/train/llm_judge/correctness"] == GPT_4O_COST
    assert evals._flush()["costs/eval/llm_judge/correctness"] == GPT_4O_COST * 2


def test_one_judge_records_into_each_context_it_meets_from_any_thread():
    """The tracker keeps the first context's key without a lock and the others' behind it:
    each call still lands in its own context, whichever context came first, alternating or
    racing from threads, and in another run's builder of the same context name."""
    judge = judge_fn()
    train = MetricsBuilder("train")
    others = [train.for_cost_context(name) for name in ("eval", "val", "test")]
    other_run = MetricsBuilder("train")
    barrier = threading.Barrier(4)

    def work(builder, n):
        barrier.wait()
        with builder.activate_context():
            for _ in range(n):
                judge()

    threads = [threading.Thread(target=work, args=(b, i + 1)) for i, b in enumerate(others)]
    threads.append(threading.Thread(target=work, args=(train, 4)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for builder in [train, others[0], train, other_run, others[2], train]:
        with builder.activate_context():
            judge()
    flushed = {b.cost_context: b._flush() for b in [train, *others]}
    expected = {"train": 4 + 3, "eval": 1 + 1, "val": 2, "test": 3 + 1}
    for name, n in expected.items():
        assert flushed[name][f"costs/{name}/llm_judge/correctness"] == pytest.approx(
            n * GPT_4O_COST
        ), name
    assert other_run._flush()["costs/train/llm_judge/correctness"] == GPT_4O_COST


async def test_async_stays_a_coroutine_function():
    @track_api_cost(source="judge", provider="anthropic", model_name="claude-sonnet-4-6")
    async def ajudge():
        await asyncio.sleep(0)
        return anthropic_message()

    assert inspect.iscoroutinefunction(ajudge) and ajudge.__name__ == "ajudge"
    b = MetricsBuilder("eval")
    with b.activate_context():
        msg = await ajudge()
    assert msg.id == "msg_1"
    assert b._flush()["costs/eval/judge"] > 0


async def test_async_tasks_keep_their_own_context():
    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    async def ajudge():
        await asyncio.sleep(0)
        return openai_usage()

    train = MetricsBuilder("train")
    evals = train.for_cost_context("eval")

    async def run(builder, n):
        with builder.activate_context():
            for _ in range(n):
                await ajudge()

    await asyncio.gather(run(train, 3), run(evals, 2))
    assert train._flush()["costs/train/judge"] == pytest.approx(3 * GPT_4O_COST)
    assert evals._flush()["costs/eval/judge"] == pytest.approx(2 * GPT_4O_COST)


def test_no_active_builder_records_nothing_and_skips_the_getter():
    calls = []
    judge = judge_fn(response_getter=lambda r: calls.append(r) or r)
    with pytest.warns(CostTrackingWarning, match="no active MetricsBuilder") as warned:
        assert judge() == openai_usage()
        assert judge() == openai_usage()
    assert len(warned) == 1  # once per decorated function
    assert calls == []
    b = MetricsBuilder("train")
    with b.activate_context():
        judge()
    assert len(calls) == 1
    assert b._flush()["costs/train/llm_judge/correctness"] == GPT_4O_COST


def test_response_getter_result_is_priced_but_the_result_returned():
    @track_api_cost(
        source="judge", provider="openai", model_name="gpt-4o", response_getter=lambda r: r[1]
    )
    def judge():
        return ("verdict", chat_completion())

    b = MetricsBuilder("train")
    with b.activate_context():
        assert judge()[0] == "verdict"
    assert b._flush()["costs/train/judge"] == GPT_4O_COST


def test_exceptions_of_the_function_propagate_and_record_nothing():
    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    def judge():
        raise KeyError("nope")

    b = MetricsBuilder("train")
    with b.activate_context(), pytest.raises(KeyError):
        judge()
    assert b._pending_len() == 0


def test_pricing_failure_keeps_the_result():
    @track_api_cost(source="judge", provider="openai", model_name="no-such-model")
    def judge():
        return openai_usage()

    b = MetricsBuilder("train")
    with b.activate_context(), pytest.raises(CostTrackingError) as e:
        judge()
    assert isinstance(e.value, ValueError)
    assert e.value.result == openai_usage()
    assert "No pricing configured for model 'no-such-model'" in str(e.value)
    assert isinstance(e.value.__cause__, ValueError)
    assert b._pending_len() == 0


async def test_async_getter_and_extractor_failures_keep_the_result():
    def getter(result):
        raise KeyError("missing")

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o", response_getter=getter)
    async def ajudge():
        return "the answer"

    b = MetricsBuilder("train")
    with b.activate_context(), pytest.raises(CostTrackingError) as e:
        await ajudge()
    assert e.value.result == "the answer"
    assert isinstance(e.value.__cause__, KeyError)


def test_uses_prices_registered_later_and_on_any_context():
    @track_api_cost(source="judge", provider="openai", model_name="my-judge")
    def judge():
        return openai_usage(cached=0)

    train = MetricsBuilder("train")
    evals = train.for_cost_context("eval")
    evals.register_model_pricing("my-judge", prompt_per_million=1.0, completion_per_million=2.0)
    train.register_cost_extractor("unused", lambda r: 1.0)
    with train.activate_context():
        judge()
    assert train._flush()["costs/train/judge"] == 1000 / 1e6 + 200 / 1e6


def test_extractor_registered_on_another_context():
    @track_api_cost(source="judge", provider="custom", model_name="m")
    def judge():
        return {"answer": 1}

    train = MetricsBuilder("train")
    train.for_cost_context("eval").register_cost_extractor("Custom", lambda r: 0.5)
    with train.activate_context():
        judge()
    assert train._flush()["costs/train/judge"] == 0.5


def test_overrides_and_reported_cost():
    @track_api_cost(source="j", provider="openai", model_name="gpt-4o", prompt_price_per_million=1)
    def judge(r):
        return r

    b = MetricsBuilder("train")
    with b.activate_context():
        judge(openai_usage(cached=0))
        judge({"usage": {"cost": 0.5}})
    assert b._flush()["costs/train/j"] == pytest.approx(1000 / 1e6 + 100 * 10 / 1e6 + 0.5)


def test_activate_token_and_many_threads():
    judge = judge_fn()
    b = MetricsBuilder("train")

    def worker():
        with b.activate_context():
            for _ in range(200):
                judge()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert b._flush()["costs/train/llm_judge/correctness"] == pytest.approx(800 * GPT_4O_COST)


def test_decorated_methods_static_methods_and_introspection():
    class Judge:
        scale = 2

        @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
        def run(self, prompt, *, n=1):
            """Runs the judge."""
            return {"usage": {"prompt_tokens": 1000 * n * self.scale}}

        @staticmethod
        @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
        def static(n):
            return {"usage": {"prompt_tokens": n}}

    b = MetricsBuilder("train")
    with b.activate_context():
        assert Judge().run("p", n=2) == {"usage": {"prompt_tokens": 4000}}
        Judge.static(1000)
    assert b._flush()["costs/train/judge"] == pytest.approx(5000 * 2.5 / 1e6)
    assert Judge.run.__name__ == "run" and Judge.run.__doc__ == "Runs the judge."
    assert Judge.run.__qualname__.endswith("Judge.run")
    assert list(inspect.signature(Judge.run).parameters) == ["self", "prompt", "n"]
    assert not inspect.iscoroutinefunction(Judge.run)
    assert "run" in repr(Judge.run)


def test_both_call_protocols_pass_arguments_and_errors_alike():
    """A plain call comes through vectorcall (after the first, through tp_call), `f(*args,
    **kwargs)` through tp_call: each passes positional, keyword and bound arguments on as
    given, records once, and lets the function's exception through."""
    seen = []

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    def judge(a, b=0, *rest, c=0, **more):
        seen.append((a, b, rest, c, more))
        if a == "boom":
            raise LookupError("boom")
        return {"usage": {"prompt_tokens": 1000}}

    class Holder:
        run = judge

    builder = MetricsBuilder("train")
    calls = [
        lambda: judge(1),
        lambda: judge(1, 2, 3, c=4, d=5),
        lambda: judge(*(1, 2), **{"c": 4}),
        lambda: judge(a=1, b=2),
        lambda: Holder().run(b=7),
        lambda: Holder().run(*(), **{"b": 7}),
    ]
    with builder.activate_context():
        for call in calls + calls:
            call()
        for boom in (lambda: judge("boom", c=1), lambda: judge(*("boom",), **{"c": 1})):
            with pytest.raises(LookupError, match="boom"):
                boom()
    seen = [(type(a) if isinstance(a, Holder) else a, *rest) for a, *rest in seen]
    expected = [
        (1, 0, (), 0, {}),
        (1, 2, (3,), 4, {"d": 5}),
        (1, 2, (), 4, {}),
        (1, 2, (), 0, {}),
        (Holder, 7, (), 0, {}),
        (Holder, 7, (), 0, {}),
    ]
    assert seen == expected + expected + [("boom", 0, (), 1, {})] * 2
    # Python calls it as it calls a function (Py_TPFLAGS_HAVE_VECTORCALL), not through tp_call.
    assert type(judge).__flags__ & (1 << 11)
    assert builder._flush()["costs/train/judge"] == pytest.approx(12 * 1000 * 2.5 / 1e6)


def test_builders_of_every_class_record_and_anything_else_is_refused():
    """The first builder class a judge meets is recognised by its address alone after that:
    a subclass's builders, and its own, still record, in any order; an object of another
    class set as the active builder is still refused, as CostTrackingError."""
    from art_metrics.builder import _active_builder

    class Mine(MetricsBuilder):
        pass

    class NotABuilder:
        cost_context = "train"

    judge = judge_fn()
    builders = [Mine("train"), MetricsBuilder("train"), Mine("eval"), MetricsBuilder("eval")]
    for builder in builders + builders[::-1]:
        with builder.activate_context():
            judge()
    for builder in builders:
        name = builder.cost_context
        key = f"costs/{name}/llm_judge/correctness"
        assert builder._flush()[key] == pytest.approx(2 * GPT_4O_COST)
    token = _active_builder.set(NotABuilder())
    try:
        with pytest.raises(CostTrackingError, match="NotABuilder"):
            judge()
    finally:
        _active_builder.reset(token)


def test_base_exceptions_from_the_getter_pass_through():
    def getter(result):
        raise KeyboardInterrupt

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o", response_getter=getter)
    def judge():
        return 1

    with MetricsBuilder("train").activate_context(), pytest.raises(KeyboardInterrupt):
        judge()


def test_on_unpriced_warn_counts_the_calls_and_names_the_model_once():
    @track_api_cost(
        source="judge", provider="openai", model_name="gpt-4.1-nnao", on_unpriced="warn"
    )
    def judge():
        return openai_usage()

    b = MetricsBuilder("train")
    with b.activate_context():
        with pytest.warns(CostTrackingWarning, match="gpt-4.1-nnao") as warned:
            judge()
            judge()
    assert len(warned) == 1
    assert "data/step_unpriced_calls" in str(warned[0].message)
    flushed = b._flush()
    assert flushed["data/step_unpriced_calls"] == 2
    assert flushed["data/cum/unpriced_calls"] == 2
    assert not any(k.startswith("costs/") for k in flushed)


async def test_on_unpriced_warn_async_and_raise_by_default():
    @track_api_cost(source="judge", provider="openai", model_name="nope", on_unpriced="warn")
    async def judge():
        return openai_usage()

    @track_api_cost(source="judge", provider="openai", model_name="nope")
    def strict():
        return openai_usage()

    b = MetricsBuilder("train")
    with b.activate_context():
        with pytest.warns(CostTrackingWarning, match="'nope'"):
            await judge()
        with pytest.raises(CostTrackingError, match="No pricing configured for model 'nope'"):
            strict()
    assert b._flush()["data/step_unpriced_calls"] == 1
    # Other errors still raise under "warn": a malformed usage of a priced model.
    with b.activate_context():
        with pytest.raises(CostTrackingError, match="usage.prompt_tokens"):
            track_api_cost(source="j", provider="openai", model_name="gpt-4o", on_unpriced="warn")(
                lambda: {"usage": {"prompt_tokens": -1}}
            )()
    with pytest.raises(ValueError, match="on_unpriced must be 'raise' or 'warn'"):
        track_api_cost(source="j", provider="openai", model_name="gpt-4o", on_unpriced="skip")


async def test_no_active_builder_warns_for_async_functions_too():
    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    async def judge():
        return openai_usage()

    with pytest.warns(CostTrackingWarning, match="no active MetricsBuilder"):
        await judge()


@pytest.mark.parametrize("returned", [None, "The answer is yes.", 3])
def test_a_judge_returning_no_response_is_told_so(returned):
    """Issue #22: not "usage does not match provider": the response is missing."""

    @track_api_cost(source="judge", provider="openai", model_name="gpt-4o")
    def judge():
        return returned

    with MetricsBuilder("train").activate_context():
        with pytest.raises(CostTrackingError) as info:
            judge()
    message = str(info.value)
    assert f"The judge returned no API response (got {type(returned).__name__})" in message
    assert "response_getter" in message
    assert info.value.result == returned


def test_a_misspelled_provider_is_refused_when_decorating():
    with pytest.raises(
        ValueError, match="Unknown provider 'opnai'. Nearest provider names: 'openai'"
    ):
        track_api_cost(source="judge", provider="opnai", model_name="gpt-4o")
    with pytest.raises(ValueError, match="Nearest provider names: 'anthropic'"):
        MetricsBuilder("train").add_response_cost(
            "judge", {"usage": {}}, provider="anthropc", model_name="claude-sonnet-4-5"
        )
