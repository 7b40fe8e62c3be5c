"""The run-directory cases of tests/test_rundir.py and bench/crash.py against openpipe-art
0.5.18's ``art.Model`` under ``art_metrics.install()``, beside ``art_metrics.Model``: the same
assertions, so both kinds show the same results (tests/art_rundir_cases.py; the 0.5.23 twin is
tests/differential_0523/test_rundir_art_0523.py).
"""

import pytest

pytest.register_assert_rewrite("art_rundir_cases")  # its asserts explain their failures
import art_rundir_cases as cases  # noqa: E402

KILLS = 20  # tests/test_crash_safety.py kills art_metrics.Model 50 times; bench/crash.py more

kinds = pytest.mark.parametrize("kind", cases.KINDS)


@kinds
def test_sigkills_during_logging_tear_nothing_and_keep_totals_exact(tmp_path, kind):
    """(a) 0 torn files, 0 failed restarts, every row's totals exact."""
    cases.kill_case(tmp_path, kind, kills=KILLS)


def test_plain_art_model_does_not_survive_the_same_kills(tmp_path):
    """(a) without install(): openpipe-art's torn state.json, as bench/crash.py shows."""
    cases.plain_art_kill_case(tmp_path, kills=KILLS)


@pytest.mark.slow
@kinds
def test_a_reader_process_loses_no_row_and_modifies_no_file(tmp_path, kind):
    """(b)"""
    cases.reader_case(tmp_path, kind, reads=20, min_rows=150)


@kinds
def test_a_second_writer_process_is_refused_naming_the_pid(tmp_path, kind):
    """(c)"""
    cases.two_writers_case(tmp_path, kind)


@kinds
def test_a_corrupt_journal_line_is_reported_and_later_entries_count(tmp_path, kind):
    """(d)"""
    cases.corrupt_journal_case(tmp_path, kind)


@kinds
def test_forks_while_threads_log_and_record_never_hang(tmp_path, kind):
    """(e)"""
    cases.fork_case(tmp_path, kind, forks=40)


@kinds
def test_a_fork_after_the_first_load_loads_in_the_child(tmp_path, kind):
    """(e) the control of the next test: the same fork once the parent's load is done."""
    cases.fork_during_first_load_case(tmp_path, kind, after_the_load=True)


@kinds
def test_a_fork_during_the_first_load_does_not_hang(tmp_path, kind):
    """(e) a fork while another thread does the model's first load."""
    cases.fork_during_first_load_case(tmp_path, kind)
