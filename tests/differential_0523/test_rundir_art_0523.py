"""The run-directory cases of tests/test_rundir.py and bench/crash.py against openpipe-art
0.5.23's ``art.Model`` under ``art_metrics.install()``, beside ``art_metrics.Model``: the same
tests as tests/test_rundir_art.py (0.5.18), collected here in the 0.5.23 venv (the cases live
in tests/art_rundir_cases.py).
"""

import pytest

pytest.register_assert_rewrite("art_rundir_cases", "test_rundir_art")
from test_rundir_art import (  # noqa: E402
    test_a_corrupt_journal_line_is_reported_and_later_entries_count,
    test_a_fork_after_the_first_load_loads_in_the_child,
    test_a_fork_during_the_first_load_does_not_hang,
    test_a_reader_process_loses_no_row_and_modifies_no_file,
    test_a_second_writer_process_is_refused_naming_the_pid,
    test_forks_while_threads_log_and_record_never_hang,
    test_plain_art_model_does_not_survive_the_same_kills,
    test_sigkills_during_logging_tear_nothing_and_keep_totals_exact,
)

__all__ = [
    "test_a_corrupt_journal_line_is_reported_and_later_entries_count",
    "test_a_fork_after_the_first_load_loads_in_the_child",
    "test_a_fork_during_the_first_load_does_not_hang",
    "test_a_reader_process_loses_no_row_and_modifies_no_file",
    "test_a_second_writer_process_is_refused_naming_the_pid",
    "test_forks_while_threads_log_and_record_never_hang",
    "test_plain_art_model_does_not_survive_the_same_kills",
    "test_sigkills_during_logging_tear_nothing_and_keep_totals_exact",
]
