"""Hypothesis: the builder against a small pure-Python model of the rules."""

import math

from art_metrics import MetricsBuilder
from hypothesis import given, settings
from hypothesis import strategies as st

SEGMENTS = st.sampled_from(["a", "b", "step_c"])
COST_PATHS = st.lists(SEGMENTS, min_size=1, max_size=3).map("/".join)
OTHER_KEYS = st.sampled_from(
    [
        "time/step_actor_s",
        "data/step_actor_tokens",
        "time/step_trainer_s",
        "data/step_trainer_tokens",
        "throughput/step_actor_idle_s",
        "loss/train",
        "time/actor_s",
    ]
)
VALUES = st.integers(0, 10_000).map(lambda i: i / 1000)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("cost"), COST_PATHS, VALUES),
        st.tuples(st.just("metric"), OTHER_KEYS, VALUES),
        st.tuples(st.just("ids"), st.lists(st.sampled_from("pqrstu"), max_size=3)),
        st.tuples(st.just("flush")),
    ),
    max_size=40,
)


class Model:
    """The flush rules, written plainly: leaves, rollups, running totals, ids, idle, throughput."""

    def __init__(self):
        self.leaves, self.ids, self.cum, self.seen = {}, set(), {}, set()

    def add(self, key, value):
        for other in self.leaves:
            if other != key and (other.startswith(key + "/") or key.startswith(other + "/")):
                return False
        self.leaves[key] = self.leaves.get(key, 0.0) + value
        return True

    def flush(self):
        out = dict(self.leaves)
        costs = {k: v for k, v in self.leaves.items() if k.startswith("costs/")}
        for key in costs:
            parts = key.split("/")
            for depth in range(2, len(parts)):
                parent = "/".join(parts[:depth])
                out[parent] = math.fsum(v for k, v in costs.items() if k.startswith(parent + "/"))
        if costs:
            out["costs/all"] = math.fsum(costs.values())
        for key, value in list(out.items()):
            section, rest = key.split("/", 1)
            if section in ("costs", "time", "data"):
                cum_key = f"{section}/cum/{rest.removeprefix('step_')}"
                self.cum[cum_key] = self.cum.get(cum_key, 0.0) + value
                out[cum_key] = self.cum[cum_key]
        if self.ids:
            self.seen |= self.ids
            out["data/cum/num_unique_scenarios"] = float(len(self.seen))
        if "throughput/step_actor_idle_s" in out:
            k = "throughput/cum/actor_idle_s"
            self.cum[k] = self.cum.get(k, 0.0) + out["throughput/step_actor_idle_s"]
            out[k] = self.cum[k]
        for who in ("trainer", "actor"):
            if f"data/step_{who}_tokens" in out or f"time/step_{who}_s" in out:
                tokens, secs = (
                    self.cum.get(f"data/cum/{who}_tokens"),
                    self.cum.get(f"time/cum/{who}_s"),
                )
                if tokens is not None and secs is not None and secs > 0:
                    out[f"throughput/avg_{who}_tok_per_s"] = tokens / secs
        self.leaves, self.ids = {}, set()
        return out


def same(a, b):
    assert set(a) == set(b), set(a) ^ set(b)
    for k in a:
        assert math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-9), (k, a[k], b[k])


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_builder_matches_the_model(ops):
    builder, model = MetricsBuilder("train"), Model()
    for op in ops + [("flush",)]:
        if op[0] in ("cost", "metric"):
            key = f"costs/{op[1]}" if op[0] == "cost" else op[1]
            expected_ok = model.add(key, op[2])
            try:
                builder.add_metric(key, op[2])
                ok = True
            except ValueError:
                ok = False
            assert ok == expected_ok, key
        elif op[0] == "ids":
            builder.add_data(scenario_ids=op[1])
            model.ids |= set(op[1])
        else:
            same(builder._flush(), model.flush())
