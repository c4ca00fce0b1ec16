"""The order of make test's pytest run: the longest files start first, each on a worker of its own.

A file marked ``pytest.mark.minutes(n)`` (roughly how long it runs alone) comes before every file
marked less and before every unmarked one; the collection keeps that order (sort_by_minutes, on each
worker alike). xdist's own loadfile scheduling reorders files by their number of tests, so the
molecule scenarios (one test each) started last, and it queues a second file on a worker whose file
has one test left: two long files ended up one after the other on one worker while the others
idled. LongestFileFirst keeps the collection's order and hands a worker its next file only when the
one it runs is down to its last test. A worker runs a test only once it knows the next one (for the
teardown of module fixtures), so a file of a single test is given a short follower from the back of
the queue, and the next long file goes to the worker that finishes first.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling


def minutes(item):
    marker = item.get_closest_marker("minutes")
    return marker.args[0] if marker else 0


def sort_by_minutes(items):
    """Files marked longer first, each file's tests in their own order (a stable sort by file)."""
    items.sort(key=lambda item: -minutes(item))


class LongestFileFirst(LoadScopeScheduling):
    """--dist loadfile, in collection order, one file ahead at most."""

    def schedule(self):
        # xdist's own distribution (one file per worker, then _reschedule), without its reordering.
        self.config.option.loadscopereorder = False
        super().schedule()

    def _reschedule(self, node):
        if node.shutting_down:
            return
        work = self.assigned_work[node]
        while self.workqueue and (pending := self._pending_of(work)) <= 1:
            if pending == 1 and self._starts_a_single_test(work):
                self._assign_follower(node)
            else:
                self._assign_work_unit(node)
        if not self.workqueue:
            node.shutdown()

    @staticmethod
    def _starts_a_single_test(work):
        """The one pending test is a file's only test, not yet run: the worker waits for a next one."""
        return any(len(tests) == 1 and not any(tests.values()) for tests in work.values())

    def _assign_follower(self, node):
        """The last file of the queue with more than one test (or the last file), behind a single test."""
        scopes = list(self.workqueue)
        scope = next((scope for scope in reversed(scopes) if len(self.workqueue[scope]) > 1), scopes[-1])
        self.workqueue.move_to_end(scope, last=False)
        self._assign_work_unit(node)


class FileDurations:
    """At the end of the run, the files that took 10 s or more (setup, call and teardown of their
    tests), to keep the minutes markers honest."""

    def __init__(self):
        self.seconds = {}

    def pytest_runtest_logreport(self, report):
        path = report.nodeid.split("::", 1)[0]
        self.seconds[path] = self.seconds.get(path, 0.0) + report.duration

    def pytest_terminal_summary(self, terminalreporter):
        slow = sorted(((seconds, path) for path, seconds in self.seconds.items() if seconds >= 10), reverse=True)
        if slow:
            terminalreporter.section("slowest files")
            for seconds, path in slow[:15]:
                terminalreporter.write_line("%6.0f s  %s" % (seconds, path))
