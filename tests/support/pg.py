"""A stand-in for a _pg runner in unit tests (no server): canned reads, recorded writes."""

from __future__ import annotations


class FakeRunner:
    """Answers reads from a table of SQL prefixes; records writes. Only for the pure planning in ensure_*."""

    def __init__(self, answers):
        self.answers = answers
        self.executed = []

    def query(self, sql, database=None):
        for prefix, rows in self.answers:
            if sql.startswith(prefix):
                return rows
        raise AssertionError("unexpected query: %s" % sql)

    def execute(self, sql, database=None):
        self.executed.append((sql, database))
