"""make test's order (tests/support/schedule.py): the longest files first, one per worker."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.schedule import LongestFileFirst, sort_by_minutes


class Worker:
    """A stand-in for xdist's WorkerController: what it was sent, in order."""

    def __init__(self, name):
        self.name = name
        self.gateway = SimpleNamespace(id=name)
        self.sent = []
        self.shutting_down = False

    def send_runtest_some(self, indexes):
        self.sent.extend(indexes)

    def shutdown(self):
        self.shutting_down = True

    def __repr__(self):
        return self.name


# Collection order (sort_by_minutes): two long files of one test each, a long file of three tests,
# then short files.
COLLECTION = [
    "e2e/test_demo.py::test_a", "e2e/test_demo.py::test_b", "e2e/test_demo.py::test_c",
    "molecule/test_app.py::test_app",
    "molecule/test_nginx.py::test_nginx",
    "unit/test_one.py::test_1",
    "unit/test_many.py::test_1", "unit/test_many.py::test_2",
    "unit/test_more.py::test_1", "unit/test_more.py::test_2",
]


def files(worker):
    seen = []
    for index in worker.sent:
        path = COLLECTION[index].split("::")[0]
        if path not in seen:
            seen.append(path)
    return seen


def fake_config(count):
    return SimpleNamespace(getvalue=lambda name: {"tx": ["%d*popen" % count]}[name],
                           option=SimpleNamespace(loadscopereorder=True))


def start(count):
    config = fake_config(count)
    scheduler = LongestFileFirst(config)
    workers = [Worker("gw%d" % number) for number in range(count)]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, COLLECTION)
    scheduler.schedule()
    return scheduler, workers


def complete(scheduler, worker, nodeid):
    scheduler.mark_test_complete(worker, COLLECTION.index(nodeid))


def test_each_long_file_starts_on_a_worker_of_its_own_a_single_test_with_a_short_follower():
    scheduler, (first, second, third) = start(3)
    assert files(first) == ["e2e/test_demo.py"]
    # A file of one test runs only once its worker knows the next test: it gets the last file of
    # more than one test, not the next long one.
    assert files(second) == ["molecule/test_app.py", "unit/test_more.py"]
    assert files(third) == ["molecule/test_nginx.py", "unit/test_many.py"]
    assert list(scheduler.workqueue) == ["unit/test_one.py"]


def test_a_worker_gets_its_next_file_when_its_own_is_down_to_its_last_test():
    scheduler, (first, second) = start(2)
    assert files(first) == ["e2e/test_demo.py"]
    assert files(second) == ["molecule/test_app.py", "unit/test_more.py"]
    complete(scheduler, first, "e2e/test_demo.py::test_a")
    assert files(first) == ["e2e/test_demo.py"], "two tests of its file are left: nothing more yet"
    complete(scheduler, first, "e2e/test_demo.py::test_b")
    # Down to its last test: the next long file.
    assert files(first) == ["e2e/test_demo.py", "molecule/test_nginx.py"]
    complete(scheduler, first, "e2e/test_demo.py::test_c")
    # The worker waits with test_nginx, its file's only test, until it knows a next one: a follower.
    assert files(first) == ["e2e/test_demo.py", "molecule/test_nginx.py", "unit/test_many.py"]
    assert list(scheduler.workqueue) == ["unit/test_one.py"]
    for nodeid in ("molecule/test_app.py::test_app", "unit/test_more.py::test_1"):
        complete(scheduler, second, nodeid)
    assert files(second)[-1] == "unit/test_one.py" and not scheduler.workqueue
    assert second.shutting_down and not first.shutting_down
    complete(scheduler, first, "molecule/test_nginx.py::test_nginx")
    assert first.shutting_down


def test_fewer_files_than_workers_shuts_the_idle_ones_down():
    scheduler = LongestFileFirst(fake_config(2))
    workers = [Worker("gw0"), Worker("gw1")]
    for worker in workers:
        scheduler.add_node(worker)
        scheduler.add_node_collection(worker, ["unit/test_one.py::test_1"])
    scheduler.schedule()
    assert workers[0].sent == [0] and all(worker.shutting_down for worker in workers)


@pytest.mark.parametrize("marks, expected", [
    ({"a": 0, "b": 5, "c": 21, "d": 0}, ["c", "b", "a", "d"]),
    ({"a": 3, "b": 3, "c": 0}, ["a", "b", "c"]),
])
def test_the_collection_puts_longer_files_first_and_keeps_the_rest_in_order(marks, expected):
    def item(name, minutes):
        marker = SimpleNamespace(args=(minutes,)) if minutes else None
        return SimpleNamespace(name=name, get_closest_marker=lambda _name, marker=marker: marker)

    items = [item(name, minutes) for name, minutes in marks.items()]
    sort_by_minutes(items)
    assert [item.name for item in items] == expected
