"""_disk: sizes as text, and a filesystem's use in percent as df shows it."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes, percent_used
from tests.support.disk import df


@pytest.mark.parametrize("value, text", [
    (None, None), (0, "0 bytes"), (1023, "1023 bytes"), (1536, "1.5 kB"), (16 * 1024 ** 2, "16.0 MB"), (3 * 1024 ** 3, "3.0 GB"),
])
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize("used, avail, percent", [
    (0, 100, 0),
    (1, 10 ** 9, 1),          # any use at all is at least 1%, as df rounds up
    (90, 10, 90),
    (901, 99, 91),            # 90.1% is 91%
    # ext4 keeps 5% for root: 86 used and 9 available of 100 blocks is 91% in df, not 86%
    (86, 9, 91),
    (100, 0, 100),
    (0, 0, None),
])
def test_percent_used_is_dfs_use_rounded_up_without_the_reserved_blocks(used, avail, percent):
    assert percent_used(used, avail) == percent


def test_percent_used_agrees_with_df_on_this_machines_filesystems():
    # POSIX df -P's capacity column is the same formula: the number an operator reads in df -h.
    for path in ("/", os.getcwd()):
        usage = df(path)
        assert percent_used(usage["used"] // 1024, usage["avail"] // 1024) == usage["capacity"]
