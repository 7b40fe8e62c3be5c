"""Issue #21, case 3: a worker's PendingMetrics payload cannot abort, double-count or need an
unsafe pickle global."""

from __future__ import annotations

import io
import pickle
import pickletools
import subprocess
import sys
import textwrap

import pytest
from art_metrics import MetricsBuilder, PendingMetrics


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def text(s: str) -> bytes:
    return varint(len(s.encode())) + s.encode()


def worker_pending() -> PendingMetrics:
    w = MetricsBuilder("train")
    w.add_cost("train/judge", 0.5)
    w.add_data(scenario_ids=["s1"])
    return w.export_pending()


def with_sequence(data: bytes, sequence: int) -> bytes:
    """`data` (a to_bytes() payload) with its sequence number replaced."""
    start = 5 + 1 + data[5]  # magic, version, the origin's length (< 128) and bytes
    end = start
    while data[end] & 0x80:
        end += 1
    return data[:start] + varint(sequence) + data[end + 1 :]


def test_a_payload_claiming_gigabytes_raises_instead_of_aborting():
    # 488 KiB naming a 100,000-byte scenario id 97,000 times (front-coded: each repeat is 4
    # bytes): 9.7 GB decoded. Before: SIGABRT, "memory allocation of 100000 bytes failed".
    # In a subprocess with its address space capped, so the abort cannot take pytest down.
    code = textwrap.dedent(
        """
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        from art_metrics import PendingMetrics

        def varint(n):
            out = bytearray()
            while n >= 0x80:
                out.append(n & 0x7F | 0x80)
                n >>= 7
            out.append(n)
            return bytes(out)

        def text(s):
            return varint(len(s)) + s.encode()

        n, size = 97_000, 100_000
        data = (
            b"AMPM\\x01" + text("origin") + varint(0) + text("train") + text("train")
            + varint(0) + varint(n) + varint(0) + text("a" * size)
            + (varint(size) + varint(0)) * (n - 1)
        )
        assert len(data) < 500 * 1024, len(data)
        try:
            PendingMetrics.from_bytes(data)
        except ValueError as e:
            print("refused:", e)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "refused:" in done.stdout and "more than 64 MiB" in done.stdout, done.stdout


def test_the_largest_sequence_number_is_refused_not_counted_three_times():
    # Before: the next-expected counter wrapped past 2**64 - 1, so the same payload merged
    # again (its cost counted 3x) or, in a debug build, panicked.
    data = with_sequence(worker_pending().to_bytes(), 2**64 - 1)
    with pytest.raises(ValueError, match="sequence number 18446744073709551615"):
        PendingMetrics.from_bytes(data)
    # The largest sequence number that is allowed merges once.
    driver = MetricsBuilder("train")
    top = PendingMetrics.from_bytes(with_sequence(worker_pending().to_bytes(), 2**64 - 2))
    assert top.id[1] == 2**64 - 2
    assert [driver.merge_pending(top) for _ in range(3)] == [True, False, False]


def pickle_globals(data: bytes) -> list[tuple[str, str]]:
    """Every (module, name) a pickle imports, GLOBAL and STACK_GLOBAL alike."""
    found, strings, memo = [], [], {}
    for op, arg, _ in pickletools.genops(data):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            strings.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = strings[-1] if strings else None
        elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[arg] = strings[-1] if strings else None
        elif op.name in ("BINGET", "LONG_BINGET", "GET"):
            strings.append(memo.get(arg))
        elif op.name == "GLOBAL":
            found.append(tuple(arg.split(" ", 1)))
        elif op.name == "STACK_GLOBAL":
            found.append((strings[-2], strings[-1]))
    return found


class ArtMetricsOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module != "art_metrics._core":
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed")
        return super().find_class(module, name)


# Protocols 0-2 pickle bytes as _codecs.encode: 3 and up (the default, Ray) carry them raw.
@pytest.mark.parametrize("protocol", range(3, pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_names_only_art_metrics(protocol):
    # Before: __reduce__ returned the bound PendingMetrics.from_bytes, which pickles as
    # builtins.getattr(PendingMetrics, "from_bytes"): no allow-list could admit it safely.
    p = worker_pending()
    data = pickle.dumps(p, protocol=protocol)
    names = pickle_globals(data)
    assert names, "no global found: the disassembly helper is broken"
    assert all(module.split(".")[0] == "art_metrics" for module, _ in names), names
    assert ArtMetricsOnly(io.BytesIO(data)).load() == p
