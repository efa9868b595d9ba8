"""Tests of the benchmark harness's arithmetic: the lower bounds its headline ratio divides by,
the minimum requests and writes it compares the calls made with, and the per-step request
counts it takes from the simulators' stats. A wrong bound would make every reported ratio
wrong while looking plausible, so each is checked against figures worked out by hand.

Run: python3 -m unittest discover -s scripts
"""

import os
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench  # noqa: E402

# The shape of `rate_limits` in the simulators' stats: a default window every request counts
# against, and windows of their own for some routes.
LIMITS = {
    "default": {"limit": 1000, "window_seconds": 60},
    "endpoints": {"POST /tracking-plans/{id}/rules": {"limit": 60, "window_seconds": 60}},
}


class ApiBound(unittest.TestCase):
    def test_the_default_window_bounds_calls_spread_over_routes(self):
        calls = {"routes": {"GET /sources": 1500, "POST /sources": 500}}
        # 2,000 requests at 1,000 a minute: two minutes, shrunk sixty-fold.
        self.assertAlmostEqual(bench.api_bound(calls, LIMITS, 60.0), 2.0)

    def test_a_route_with_a_tighter_window_of_its_own_sets_the_bound(self):
        calls = {"routes": {"GET /sources": 100, "POST /tracking-plans/{id}/rules": 120}}
        # 220 requests under the default window: 13.2 s; 120 under 60 a minute: 120 s.
        self.assertAlmostEqual(bench.api_bound(calls, LIMITS, 1.0), 120.0)

    def test_no_calls_need_no_time(self):
        self.assertEqual(bench.api_bound({"routes": {}}, LIMITS, 60.0), 0.0)

    def test_the_default_bound_counts_requests_alone(self):
        self.assertAlmostEqual(bench.default_bound(3000, LIMITS, 60.0), 3.0)


class Delta(unittest.TestCase):
    @staticmethod
    def stats(get, post, total, limited, writes):
        api = {
            "requests": {"GET /a": {"200": get}, "POST /a": {"200": post - 1, "429": 1}},
            "requests_total": total,
            "rate_limited": limited,
            "writes": {"POST /a": writes},
        }
        return {"config": api, "public": api}

    def test_only_what_happened_between_the_snapshots_counts(self):
        before = self.stats(get=10, post=5, total=15, limited=1, writes=4)
        after = self.stats(get=30, post=5, total=35, limited=3, writes=9)
        got = bench.delta(after, before)["public"]
        # A route no request reached in between is left out.
        self.assertEqual(got["routes"], {"GET /a": 20})
        self.assertEqual(got["calls"], 20)
        self.assertEqual(got["rate_limited"], 2)
        self.assertEqual(got["writes"], 5)


class ExportMinimum(unittest.TestCase):
    def test_one_request_per_page_of_every_list(self):
        state = {
            "sources": {"workspaces/w/sources/a": {}, "workspaces/w/sources/b": {}},
            # 250 destinations of `a`: three pages; none of `b`: still one request.
            "destinations": {f"workspaces/w/sources/a/destinations/d{i}": {} for i in range(250)},
            # One destination with 101 filters: two pages; the other 249 one each.
            "destination_filters": {
                f"workspaces/w/sources/a/destinations/d0/filters/f{i}": {} for i in range(101)
            },
            "tracking_plans": {"workspaces/w/tracking-plans/p": {}},
            "tracking_plan_connections": {},
            "functions": {"f1": {"type": "SOURCE"}, "f2": {"type": "SOURCE"}},
            "users": {f"u{i}": {} for i in range(100)},
        }
        expected = (
            1  # the workspace
            # One page of each top-level list: both catalogs, access tokens, sources, tracking
            # plans, roles, policies, invites and users (100 of them still fit one).
            + 9
            + 1 + 1  # source functions; destination functions (an empty list is one page)
            + (1 + 3) + (1 + 1)  # each source's schema config and destination pages
            + 2 + 249  # the filter pages of each destination of `a`
            + 1  # the connections of the one tracking plan
        )
        self.assertEqual(bench.export_minimum(state), expected)

    def test_an_empty_workspace_still_reads_each_list_once(self):
        self.assertEqual(bench.export_minimum({}), 1 + 9 + 2)


class PlannedWrites(unittest.TestCase):
    def test_one_write_per_payload_of_the_latest_plan_and_invitations_fifty_at_once(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "ledger")
            with sqlite3.connect(path) as db:
                db.execute("CREATE TABLE plans (id INTEGER PRIMARY KEY)")
                db.execute("CREATE TABLE plan_payloads (plan INTEGER, step TEXT)")
                db.executemany("INSERT INTO plans VALUES (?)", [(1,), (2,)])
                rows = [(1, "create_source")] * 7  # an older plan: not counted
                rows += [(2, "create_source")] * 3 + [(2, "create_destination")] * 2
                rows += [(2, "invite_user")] * 101
                db.executemany("INSERT INTO plan_payloads VALUES (?, ?)", rows)
            # 5 payloads, then 101 invitations in three requests.
            self.assertEqual(bench.planned_writes(path), 5 + 3)


if __name__ == "__main__":
    unittest.main()
