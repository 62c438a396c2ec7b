"""Promise 1 of issue 7, in the suite: ``marquee run`` killed with SIGKILL at 20 random
points (mid-poll, mid-send, mid-digest, anywhere) while postings and stories keep
appearing, then left to finish: every alert due arrives, exactly once on Discord, at
most once more per kill on Slack, in each channel in the order of its events.

The harness is ``tests/crash_soak.py`` (``python -m tests.crash_soak --kills 200`` is the
long run). The first lives are forced to the two windows that matter most: the platform
created the message but Marquee never heard back (on Discord, then on Slack), and the
answer arrived just before the kill.
"""

from __future__ import annotations

import os

from tests.crash_soak import soak

SEED = int(os.environ.get("MARQUEE_CRASH_SEED", "20261128"))


async def test_sigkill_at_random_points_loses_nothing_and_doubles_nothing(tmp_path):
    result = await soak(
        tmp_path,
        kills=20,
        seed=SEED,
        life_range=(0.3, 4.0),
        finish_within=60,
        first=("send-held:discord", "send-held:slack", "send-answered"),
    )
    report = f"seed {SEED}\n{result.summary()}"
    assert result.problems == [], report
    assert result.kills >= 20, report
    for figures in (result.discord, result.slack):
        assert figures.due > 0 and figures.delivered == figures.due, report
        assert figures.unexpected == 0 and figures.out_of_order == 0, report
    assert result.discord.duplicates == 0, report
    assert result.slack.duplicates <= result.kills, report
    # the windows were really hit: Discord was asked again for a message it already had
    # (and dropped the repeat by its nonce), and killed polls and digests happened
    assert result.kill_points["send-held"] >= 1, report
    assert result.discord.resends_dropped >= 1, report
    assert result.postings and result.stories and result.digests, report
