"""Faults under load, through the real daemon and the real PostgreSQL: the
daemon killed with SIGKILL in the middle of a stream of 50-unit upgrades,
PostgreSQL crashed (pg_ctl -m immediate) and restarted, PostgreSQL
stopped for 10 s, and PostgreSQL answering nothing for 16 s with its
connections open (behind a proxy that holds every byte). Afterwards every unit is checked in SQL: all of it (new
line item, parent's count, audit row, change feed rows) or none of it, all
of it when a client was told SUCCESS, none of it when it was told 503.

The restart tests stop and start the shared test cluster the way
scripts/pg does (as the user postgres when run as root) and always leave
it running. The figures each test sees go to stderr."""
import http.client
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest

from builders import change_item_xml, create_body, lifecycle_body, search_body, simple_query
from catalog import Catalog
from harness import NS, ROOT, Client, Daemon, make_user, psql, token
from pgproxy import PgProxy
from rest import Publisher, RestClient, admin_user, status_body

# Each parent line item starts with this many copies; each unit upgrades
# one copy of its own parent (allowActivationsOnParent), leaving one less.
COPIES = 10
# Parent line items per createSimpleEntitlement request (40 entitlements
# of 50 line items).
CREATE_ENTS, CREATE_ITEMS = 40, 50
# A request answered later than this is a hang: the daemon's database
# timeouts below are 1 s each.
REQUEST_TIMEOUT = 15
# Recovery after PostgreSQL is back: "within a few seconds".
RECOVERY_LIMIT = 5
DB_TIMEOUTS = {"ENTITLEMENTD_DB_CONNECT_TIMEOUT": "1", "ENTITLEMENTD_DB_WAIT_TIMEOUT_MS": "1000"}
TEST_HOME = os.environ.get("ENTITLEMENTD_TEST_HOME")


def report(test, **figures):
    print(f"\n{test}: " + ", ".join(f"{k}={v}" for k, v in figures.items()), file=sys.stderr, flush=True)


def pg(cmd):
    """Stops or starts the test cluster as scripts/pg does; "crash" is
    pg_ctl stop -m immediate (the server processes quit without a
    checkpoint; the next start runs crash recovery)."""
    if cmd == "crash":
        script = ('. "$1/scripts/lib.sh" && ent_pg_as_owner "$(ent_pg_bin)/pg_ctl" -D "$2/pg/data" '
                  '-m immediate -w stop')
        args = ["bash", "-c", script, "pg-crash", ROOT, TEST_HOME]
    else:
        args = [os.path.join(ROOT, "scripts", "pg"), cmd, TEST_HOME]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


class Units:
    """n units, each the upgrade of one copy of a parent line item of its
    own: parent <tag>-P<i> (made here with createSimpleEntitlement) to
    <tag>-N<i>."""

    def __init__(self, client, cat, n):
        self.tag = "F" + token(8)
        self.cat = cat
        per = CREATE_ENTS * CREATE_ITEMS
        self.n = (n + per - 1) // per * per
        for b in range(self.n // per):
            ents = [{"eid": f"{self.tag}-E{b}-{e}",
                     "items": [(self.parent((b * CREATE_ENTS + e) * CREATE_ITEMS + i), cat.base, COPIES)
                               for i in range(CREATE_ITEMS)]} for e in range(CREATE_ENTS)]
            r = client.call(create_body(ents), validate=False)
            if r.status_text != "SUCCESS":
                raise AssertionError(f"creating the parents failed: {r.status} {r.body[:2000]!r}")

    def parent(self, i):
        return f"{self.tag}-P{i}"

    def new(self, i):
        return f"{self.tag}-N{i}"

    def index(self, aid):
        return int(aid.rsplit("-", 1)[1][1:])

    def body(self, indexes):
        return lifecycle_body("upgradeLicense", [
            {"items": [change_item_xml(self.parent(i), self.new(i), self.cat.upgrade, count=1, allow=True)]}
            for i in indexes])

    def check(self, test, told):
        """Checks every unit in SQL. told: {index: "ok" | "refused" |
        "unknown"}, what the clients were told last (absent: never sent).
        Returns the figures: units checked, applied, absent, and of the
        units told "unknown" how many were applied."""
        parents = {aid: (pid, int(copies)) for aid, pid, copies in psql(
            "SELECT activation_id, id, number_of_copies FROM line_items WHERE activation_id LIKE :'v1'",
            self.tag + "-P%")}
        news = {aid: (parent, kind, int(copies)) for aid, parent, kind, copies in psql(
            "SELECT activation_id, parent_id, line_item_type, number_of_copies FROM line_items "
            "WHERE activation_id LIKE :'v1'", self.tag + "-N%")}
        audits = {}
        for aid, parent, audit_id in psql(
                "SELECT new_activation_id, parent_activation_id, id FROM audit_log "
                "WHERE operation = 'upgradeLicense' AND new_activation_id LIKE :'v1'", self.tag + "-N%"):
            audits.setdefault(aid, []).append((parent, audit_id))
        feed = {}
        for aid, audit_id in psql(
                "SELECT activation_id, audit_id FROM entitlement_changes "
                "WHERE operation = 'upgradeLicense' AND activation_id LIKE :'v1'", self.tag + "-%"):
            feed.setdefault(aid, []).append(audit_id)
        test.assertEqual(len(parents), self.n)
        applied = absent = unknown_applied = 0
        half, wrong = [], []
        for i in range(self.n):
            pid, copies = parents[self.parent(i)]
            new = news.get(self.new(i))
            aud = audits.get(self.new(i), [])
            new_feed = feed.get(self.new(i), [])
            parent_feed = feed.get(self.parent(i), [])
            whole = (new == (pid, "UPGRADE", 1) and copies == COPIES - 1 and len(aud) == 1
                     and aud[0][0] == self.parent(i) and new_feed == [aud[0][1]] and parent_feed == [aud[0][1]])
            none = new is None and copies == COPIES and not aud and not new_feed and not parent_feed
            seen = dict(unit=i, told=told.get(i, "not sent"), new_item=new, parent_copies=copies, audit=aud,
                        feed_new=new_feed, feed_parent=parent_feed)
            if not whole and not none:
                half.append(seen)
            elif whole and told.get(i) not in ("ok", "unknown"):
                wrong.append(seen)
            elif none and told.get(i) == "ok":
                wrong.append(seen)
            applied += whole
            absent += none
            unknown_applied += whole and told.get(i) == "unknown"
        if half:
            test.fail(f"{len(half)} units half written; the first: {half[:5]}")
        if wrong:
            test.fail(f"{len(wrong)} units contradict their answer; the first: {wrong[:5]}")
        return {"units_checked": self.n, "applied": applied, "absent": absent,
                "unknown_applied": unknown_applied}


class Load:
    """Client threads sending upgradeLicense requests of per_request
    units each, every unit a fresh one of units, until stopped or out of
    units. A request answered 503 is sent again as it was after
    retry_pause (the 503 promises nothing was done)."""

    def __init__(self, daemon, user, units, per_request, threads=4, pause=0.0, retry_pause=0.1):
        self.daemon, self.user, self.units = daemon, user, units
        self.per_request, self.pause, self.retry_pause = per_request, pause, retry_pause
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.killed = False  # set before the daemon is killed on purpose
        self.next = 0
        self.told = {}
        self.requests = self.served = self.unavailable = self.commit_unknown = self.cut_off = 0
        self.in_flight = 0
        self.max_latency = 0.0
        self.latencies_503 = []  # seconds each 503 took
        self.unexpected = []
        self.successes = []  # monotonic send times of SUCCESS answers
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        """Stops the threads; returns how many are still running."""
        self.halt.set()
        for t in self.threads:
            t.join(REQUEST_TIMEOUT + 5)
        return sum(t.is_alive() for t in self.threads)

    def _take(self):
        with self.lock:
            if self.next + self.per_request > self.units.n:
                return None
            first = self.next
            self.next += self.per_request
        return list(range(first, first + self.per_request))

    def _tell(self, indexes, what):
        with self.lock:
            for i in indexes:
                self.told[i] = what

    def _answer(self, indexes, r, sent):
        """Records the answer r; returns whether to send the request again."""
        if r.status == 503:
            with self.lock:
                self.unavailable += 1
            fault = r.faultstring or ""
            if not (r.faultcode == "SOAP-ENV:Server" and fault.startswith("DATABASE_UNAVAILABLE: ")):
                self.unexpected.append(("503 without a DATABASE_UNAVAILABLE Server fault", r.body[-400:]))
            if r.headers.get("Retry-After") != "1":
                self.unexpected.append(("503 without Retry-After: 1", dict(r.headers)))
            self._tell(indexes, "refused")
            return True
        if r.status != 200 or r.is_fault or r.payload is None:
            self.unexpected.append((r.status, r.body[:400]))
            self._tell(indexes, "unknown")
            return False
        done = [d.findtext(f"{{{NS}}}newLineItem/{{{NS}}}activationId")
                for d in r.findall("f:responseData/f:entitlementData/f:createdLineItemData")]
        self._tell([self.units.index(a) for a in done], "ok")
        unknown = 0
        for f in r.findall("f:failedData/f:failedEntitlement"):
            reason = f.findtext(f"{{{NS}}}reason") or ""
            parent = f.findtext(f"{{{NS}}}entitlementData/{{{NS}}}lineItemData/{{{NS}}}parentLineItemIdentifier/"
                                f"{{{NS}}}primaryKeys/{{{NS}}}activationId")
            if reason.startswith("COMMIT_UNKNOWN: "):
                unknown += 1
                self._tell([self.units.index(parent)], "unknown")
            else:
                self.unexpected.append(("unit failed", reason))
                self._tell([self.units.index(parent)], "refused")
        with self.lock:
            self.served += r.status_text == "SUCCESS"
            self.commit_unknown += unknown > 0
            if r.status_text == "SUCCESS":
                self.successes.append(sent)
        return False

    def _run(self):
        c = Client(self.daemon, self.user)
        c.conn.timeout = REQUEST_TIMEOUT
        indexes = None
        while not self.halt.is_set():
            if indexes is None:
                indexes = self._take()
                if indexes is None:
                    break
                body = self.units.body(indexes)
            sent = time.monotonic()
            with self.lock:
                self.requests += 1
                self.in_flight += 1
            try:
                r = c.call(body)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.in_flight -= 1
                    self.cut_off += 1
                self._tell(indexes, "unknown")
                if self.killed:
                    break
                self.unexpected.append(("connection", repr(e)))
                c.close()
                indexes = None
                continue
            latency = time.monotonic() - sent
            with self.lock:
                self.in_flight -= 1
                self.max_latency = max(self.max_latency, latency)
                if r.status == 503:
                    self.latencies_503.append(latency)
            if self._answer(indexes, r, sent):
                time.sleep(self.retry_pause)
                continue
            indexes = None
            if self.pause:
                time.sleep(self.pause)
        c.close()

    def success_since(self, t):
        with self.lock:
            return any(s >= t for s in self.successes)


def start_load(test, d, n_units):
    """n_units for d, and a Load of 10-unit requests from 4 threads over
    them, started and serving (20 requests done)."""
    user = make_user()
    setup = Client(d, user)
    units = Units(setup, Catalog(), n_units)
    setup.close()
    load = Load(d, user, units, per_request=10, threads=4, pause=0.05)
    test.addCleanup(load.stop)
    load.start()
    deadline = time.monotonic() + 30
    while load.served < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    test.assertGreaterEqual(load.served, 20, "the load did not get going")
    return units, load


class DaemonKilledTest(unittest.TestCase):
    def test_kill_9_during_a_stream_of_50_unit_upgrades(self):
        started = time.monotonic()
        d = Daemon().start()
        self.addCleanup(d.stop)
        user = make_user()
        cat = Catalog()
        setup = Client(d, user)
        units = Units(setup, cat, 4000)
        setup.close()
        load = Load(d, user, units, per_request=50, threads=4)
        self.addCleanup(load.stop)
        load.start()
        stream_start = time.monotonic()
        deadline = stream_start + 30
        while load.served < 40 and time.monotonic() < deadline:
            time.sleep(0.005)
        stream = time.monotonic() - stream_start
        load.killed = True
        in_flight = load.in_flight
        d.proc.send_signal(signal.SIGKILL)
        self.assertEqual(d.proc.wait(timeout=30), -signal.SIGKILL)
        d.proc = None
        self.assertEqual(load.stop(), 0, "client threads still waiting after the kill")
        self.assertGreaterEqual(load.served, 40, "the stream did not get going")
        self.assertLess(load.next, units.n, "the stream ended before the kill")
        self.assertEqual(load.unexpected, [])

        # A new daemon on the same database serves at once, and upgrades
        # units nobody sent yet.
        again = Daemon().start()
        self.addCleanup(again.stop)
        c = Client(again, user)
        spare = list(range(units.n - 50, units.n))
        self.assertNotIn(spare[0], load.told)
        r = c.call(units.body(spare))
        self.assertEqual(r.status_text, "SUCCESS", r.body[:2000])
        c.close()
        told = dict(load.told)
        told.update({i: "ok" for i in spare})
        figures = units.check(self, told)
        self.assertEqual(again.stop(), 0, again.read_log()[-4000:])
        report("kill -9 during 50-unit upgrades", requests=load.requests, succeeded=load.served,
               killed_after_s=round(stream, 2), in_flight_at_kill=in_flight, cut_off=load.cut_off,
               units_sent=len(load.told), units_cut_off=sum(w == "unknown" for w in load.told.values()), **figures,
               seconds=round(time.monotonic() - started, 1))


@unittest.skipUnless(TEST_HOME, "needs ENTITLEMENTD_TEST_HOME, the home of the cluster scripts/test started: "
                                "this test stops and starts PostgreSQL, which it cannot do to an external "
                                "DATABASE_URL")
class DatabaseOutageTest(unittest.TestCase):
    def setUp(self):
        # Whatever happens, the shared cluster is left running.
        self.addCleanup(pg, "start")

    def outage(self, name, down, gap):
        """Runs a load, takes PostgreSQL down with down() for gap seconds,
        starts it again, and checks the answers, the recovery of the same
        daemon, its exit status and every unit."""
        started = time.monotonic()
        d = Daemon(**DB_TIMEOUTS).start()
        self.addCleanup(d.stop)
        pid = d.proc.pid
        units, load = start_load(self, d, 4000)
        before = load.served
        t_down = time.monotonic()
        down()
        time.sleep(gap)
        pg("start")
        t_back = time.monotonic()
        # The same daemon answers SUCCESS again, to requests sent after
        # PostgreSQL came back.
        deadline = t_back + 3 * RECOVERY_LIMIT
        while not load.success_since(t_back) and time.monotonic() < deadline:
            time.sleep(0.01)
        recovered = time.monotonic() - t_back
        served_at_recovery = load.served
        time.sleep(0.5)
        self.assertEqual(load.stop(), 0, "client threads still waiting for an answer")
        self.assertTrue(load.success_since(t_back), f"no SUCCESS within {3 * RECOVERY_LIMIT} s after the restart:\n"
                        + d.read_log()[-4000:])
        self.assertLess(recovered, RECOVERY_LIMIT)
        self.assertIsNone(d.proc.poll(), "the daemon exited:\n" + d.read_log()[-4000:])
        self.assertEqual(d.proc.pid, pid)
        self.assertEqual(load.unexpected, [])
        self.assertGreater(load.unavailable, 0, "no request saw the outage")
        self.assertLess(load.max_latency, REQUEST_TIMEOUT)
        self.assertLess(load.next, units.n, "the load ran out of units")
        figures = units.check(self, load.told)
        rc = d.stop()
        self.assertEqual(rc, 0, d.read_log()[-4000:])
        report(name, daemon_pid=pid, requests=load.requests, succeeded=load.served, before_outage=before,
               http_503=load.unavailable, commit_unknown=load.commit_unknown,
               outage_seconds=round(t_back - t_down, 1), recovered_after_s=round(recovered, 2),
               after_recovery=load.served - served_at_recovery, max_latency_s=round(load.max_latency, 2),
               **figures, exit_status=rc, seconds=round(time.monotonic() - started, 1))

    def test_postgresql_crash_and_restart_under_load(self):
        self.outage("pg_ctl -m immediate, restart", lambda: pg("crash"), 1)

    def test_postgresql_stopped_for_10_s_under_load(self):
        self.outage("pg_ctl -m fast, 10 s down", lambda: pg("stop"), 10)


class DatabaseStopsAnsweringTest(unittest.TestCase):
    """The daemon reaches PostgreSQL through PgProxy, which is frozen: the
    connections stay open and nothing comes back, as from a stopped server
    or a network that holds its packets. With a statement timeout of 1 s,
    the daemon closes a connection whose answer is 3 s late, so a request
    fails (503, or COMMIT_UNKNOWN) instead of waiting for as long as the
    server does; /healthz and SIGTERM are served meanwhile."""

    STATEMENT_TIMEOUT_MS = 1000
    FREEZE_S = 16
    # The statement timeout, the watch's 2 s and its 0.25 s period, a new
    # connection's 2 s (libpq's least connect_timeout) and a COMMIT's 2 s of
    # asking what became of it (7 s in runs on an idle machine); with room
    # for a request queued behind a group that is cut first. Less than the
    # freeze, which the build before waited out.
    LATENCY_LIMIT = 12

    def daemon(self, **env):
        proxy = PgProxy()
        self.addCleanup(proxy.close)
        d = Daemon(DATABASE_URL=proxy.conninfo(), ENTITLEMENTD_DB_STATEMENT_TIMEOUT_MS=self.STATEMENT_TIMEOUT_MS,
                   **DB_TIMEOUTS, **env).start()
        self.addCleanup(d.stop)
        return proxy, d

    def healthz(self, d):
        """Seconds /healthz took, and its status."""
        t = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=REQUEST_TIMEOUT)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
        return time.monotonic() - t, status

    def test_a_frozen_database_under_load(self):
        started = time.monotonic()
        proxy, d = self.daemon()
        pub = Publisher(d, admin_user())
        units, load = start_load(self, d, 2000)
        before = load.served
        proxy.freeze()
        t_frozen = time.monotonic()
        time.sleep(self.STATEMENT_TIMEOUT_MS / 1000 + 3)
        health_s, health = self.healthz(d)
        # A REST write meanwhile: a 503 too, in as long as a SOAP one.
        rc = RestClient(d)
        rc.conn.timeout = REQUEST_TIMEOUT
        t = time.monotonic()
        posted = rc.post("/uai/2.0/updates/statusLog", status_body(pub.name), headers={"Authorization": pub.auth()},
                         auth=False)
        post_s = time.monotonic() - t
        rc.close()
        time.sleep(max(0.0, t_frozen + self.FREEZE_S - time.monotonic()))
        unavailable = load.unavailable
        served_frozen = load.served - before
        proxy.thaw()
        t_back = time.monotonic()
        deadline = t_back + 3 * RECOVERY_LIMIT
        while not load.success_since(t_back) and time.monotonic() < deadline:
            time.sleep(0.01)
        recovered = time.monotonic() - t_back
        time.sleep(0.5)
        self.assertEqual(load.stop(), 0, "client threads still waiting for an answer")
        self.assertEqual(health, 200)
        self.assertLess(health_s, 2)
        self.assertEqual(posted.status, 503, posted)
        self.assertLess(post_s, self.LATENCY_LIMIT)
        self.assertTrue(load.success_since(t_back), d.read_log()[-4000:])
        self.assertLess(recovered, RECOVERY_LIMIT)
        self.assertEqual(load.unexpected, [])
        # Answered while frozen: 503s (the requests were sent again), and
        # none waited for the server.
        self.assertGreater(unavailable, 0, "no request was answered while the server answered nothing")
        self.assertLess(load.max_latency, self.LATENCY_LIMIT)
        self.assertIn("no answer in", d.read_log())
        # Once a connection attempt failed, the others fail at once while
        # one tries again each second: most 503s take no connect timeout.
        fast = sum(t < 0.5 for t in load.latencies_503)
        self.assertGreater(fast, len(load.latencies_503) / 2, sorted(load.latencies_503))
        figures = units.check(self, load.told)
        rc = d.stop()
        self.assertEqual(rc, 0, d.read_log()[-4000:])
        report("database answering nothing for 16 s", requests=load.requests, succeeded=load.served,
               http_503=load.unavailable, commit_unknown=load.commit_unknown, served_while_frozen=served_frozen,
               healthz_s=round(health_s, 2), rest_post_s=round(post_s, 2),
               fast_503=sum(t < 0.5 for t in load.latencies_503), recovered_after_s=round(recovered, 2),
               max_latency_s=round(load.max_latency, 2), **figures, seconds=round(time.monotonic() - started, 1))

    def test_sigterm_while_the_database_answers_nothing(self):
        proxy, d = self.daemon()
        user = make_user()
        c = Client(d, user)
        cat = Catalog()
        units = Units(c, cat, 1)
        proxy.freeze()
        answers = []

        def call():
            try:
                answers.append(c.call(units.body([0])).status)
            except (OSError, http.client.HTTPException) as e:
                answers.append(repr(e))

        t = threading.Thread(target=call, daemon=True)
        t.start()
        time.sleep(0.5)
        sent = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=self.LATENCY_LIMIT + 3)
        except subprocess.TimeoutExpired:
            proxy.thaw()
            self.fail("the daemon did not exit while the database answered nothing")
        took = time.monotonic() - sent
        d.proc = None
        t.join(5)
        proxy.thaw()
        self.assertEqual(rc, 0, d.read_log()[-4000:])
        self.assertEqual(answers, [503])
        units.check(self, {0: "refused"})
        report("SIGTERM while the database answers nothing", exit_after_s=round(took, 2))

    def test_a_page_over_the_cap_waits_for_no_cancel(self):
        # A page refused as its rows arrive (ENTITLEMENTD_MAX_PAGE_MB) ends
        # its statement by closing its connection: with cancel requests
        # held by the proxy (as a server that answers nothing holds one),
        # the refusal still comes at once. (PQcancel, used before, waits
        # for the server's answer with no time limit.)
        proxy, d = self.daemon(ENTITLEMENTD_MAX_PAGE_MB="2")
        c = Client(d, make_user())
        self.addCleanup(c.close)
        cat = Catalog()
        tag = "PC" + token(8)
        for k in range(4):
            items = [(f"{tag}-{k}-{i}", cat.base, 1, {"description": "d" * 2000}) for i in range(200)]
            r = c.call(create_body([{"eid": f"{tag}-{k}", "items": items}]))
            self.assertEqual(r.status_text, "SUCCESS", r.body[:2000])
        proxy.hold_on(struct.pack("!II", 16, 80877102))  # a CancelRequest's first bytes
        c.conn.timeout = 20
        started = time.monotonic()
        r = c.call(search_body(simple_query("entitlementId", tag, "STARTS_WITH"), batch=10))
        self.assertLess(time.monotonic() - started, 10)
        self.assertTrue(r.reason_text.startswith("RESPONSE_TOO_LARGE: "), r.body[:2000])
        r = c.call(search_body(simple_query("entitlementId", f"{tag}-1"), batch=10))
        self.assertEqual(len(r.findall("f:entitlement")), 1)

    def test_a_notify_without_an_answer_is_given_up(self):
        # The job listener's connection is not the pool's: its NOTIFY (sent
        # once a status log's job is queued) is awaited for the connect
        # timeout at most, then the listener connects again; the job is
        # done meanwhile (the workers poll), and a SIGTERM is not held.
        proxy = PgProxy()
        self.addCleanup(proxy.close)
        proxy.hold_on(b"NOTIFY entitlementd_jobs")
        d = Daemon(DATABASE_URL=proxy.conninfo(), ENTITLEMENTD_DB_CONNECT_TIMEOUT="2",
                   ENTITLEMENTD_JOB_POLL_MS="100").start()
        self.addCleanup(d.stop)
        pub = Publisher(d, admin_user())
        c = RestClient(d)
        r = c.post("/uai/2.0/updates/statusLog", status_body(pub.name), headers={"Authorization": pub.auth()},
                   auth=False)
        self.assertEqual(r.status, 202, r)
        self.assertTrue(proxy.held.wait(10), "no NOTIFY was sent")
        deadline = time.monotonic() + 10
        while "NOTIFY failed: no answer in time" not in d.read_log() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertIn("NOTIFY failed: no answer in time", d.read_log())
        path = "/uai/2.0/updates/statusLog/" + r.json["url"].rsplit("/", 1)[1]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            r = c.get(path, headers={"Authorization": pub.auth()}, auth=False)
            if r.status != 202:
                break
            time.sleep(0.05)
        self.assertEqual(r.status, 200, r)
        c.close()
        # Held again, after the NOTIFY's CommandComplete (its ReadyForQuery
        # held): the SIGTERM comes while the listener waits for the end of
        # that answer.
        proxy.hold_on(b"NOTIFY entitlementd_jobs", after=b"NOTIFY")
        c = RestClient(d)
        r = c.post("/uai/2.0/updates/statusLog", status_body(pub.name), headers={"Authorization": pub.auth()},
                   auth=False)
        c.close()
        self.assertEqual(r.status, 202, r)
        self.assertTrue(proxy.held.wait(10), "no NOTIFY was sent")
        sent = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        try:
            rc = d.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proxy.thaw()
            self.fail("the daemon did not exit while its NOTIFY waited for an answer")
        d.proc = None
        self.assertEqual(rc, 0)
        self.assertEqual(d.read_log().count("NOTIFY failed: no answer in time"), 2)
        report("NOTIFY without an answer", exit_after_s=round(time.monotonic() - sent, 2))


if __name__ == "__main__":
    unittest.main()
