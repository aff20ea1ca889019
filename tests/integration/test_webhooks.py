"""Subscription runs and their webhooks through the real daemon, PostgreSQL
and a webhook receiver started here: a trigger delivers a message signed
as Standard Webhooks says, holding the SOAP change made before it; a
receiver answering 500 and then 200 shows Failure and then Success in the
status, with the vendor's spellings, the same webhook-id on both attempts
and both in the ledger; a refused connection is reported as such, and so
is an address ENTITLEMENTD_WEBHOOK_ADDRESSES does not allow; the next
run carries only what changed since; a second trigger while a run waits is
that run; and the status, trigger and ledger rules for who may see what."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import socket
import threading
import time
import unittest

from builders import create_body
from catalog import Catalog
from harness import DaemonTestCase, ctl, psql, token
from rest import STATUSLOG, Publisher, RestClient, admin_user, api_token, bearer, poll_until_done, status_body

SECRET = os.urandom(32)
WHSEC = "whsec_" + base64.b64encode(SECRET).decode()
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


class Receiver:
    """A webhook endpoint: records each POST, answers with the next of
    statuses (the last one repeats), after delay seconds."""

    def __init__(self, statuses=(200,), delay=0):
        self.statuses = list(statuses)
        self.posts = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append((dict(self.headers), body))
                time.sleep(delay)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, n, timeout=20):
        deadline = time.time() + timeout
        while len(self.posts) < n and time.time() < deadline:
            time.sleep(0.05)
        assert len(self.posts) >= n, f"{len(self.posts)} posts, expected {n}"
        return self.posts[n - 1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def verify(headers, body):
    """Checks the Standard Webhooks signature; returns the message."""
    h = {k.lower(): v for k, v in headers.items()}
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    want = "v1," + base64.b64encode(hmac.new(SECRET, signed, hashlib.sha256).digest()).decode()
    assert want in h["webhook-signature"].split(" "), (h["webhook-signature"], want)
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 60
    assert h["content-type"] == "application/json"
    return json.loads(body)


class WebhookCase(DaemonTestCase):
    """A daemon, a catalog, an integration's token and the requests the
    tests make; the tests are in the classes below."""
    daemon_env = {"ENTITLEMENTD_JOB_POLL_MS": "100"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = "hooks-" + token(6)
        cls.tok = api_token(user=cls.owner)[1]

    def setUp(self):
        super().setUp()
        # Products of this test's own: a subscription's first run carries
        # every change of its products so far.
        self.cat = Catalog()
        self.rest = RestClient(self.daemon, bearer(self.tok))

    def tearDown(self):
        self.rest.close()
        super().tearDown()

    def subscribe(self, url, product=None, platform="cloud", **over):
        product = product or self.cat.base
        body = {"name": "hook " + token(4), "products": [{"name": product[0], "version": product[1]}],
                "webhook": {"url": url, "secret": WHSEC}}
        body.update(over)
        r = self.rest.post(f"/subscriptions/{platform}", body)
        self.assertEqual(r.status, 201, r)
        return r.json["subscriptionRef"]

    def entitlement(self, product=None):
        eid = "W-" + token(10)
        self.ok(create_body([{"eid": eid, "items": [(eid + "-1", product or self.cat.base, 3)]}]))
        return eid

    def trigger(self, ref, platform="cloud"):
        r = self.rest.post(f"/subscriptions/{platform}/{ref}/trigger")
        self.assertEqual(r.status, 202, r)
        return r.json["runId"]

    def status(self, ref, path=None):
        r = self.rest.get(path or f"/subscriptions/cloud/{ref}/status")
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_status(self, ref, pattern, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.status(ref)
            if re.fullmatch(pattern, s["webHookStatus"]):
                return s
            time.sleep(0.05)
        self.fail(f"webHookStatus {s['webHookStatus']!r} never matched {pattern!r}")


class WebhooksTest(WebhookCase):
    def test_a_trigger_delivers_the_changes_signed(self):
        rx = Receiver()
        try:
            ref = self.subscribe(rx.url)
            self.assertEqual(self.status(ref), {"lastTriggered": "Never triggered.", "webHookStatus": "Never posted."})
            eid = self.entitlement()
            self.entitlement(product=self.cat.unrelated)  # another product: not in the message
            run = self.trigger(ref)
            headers, body = rx.wait(1)
            msg = verify(headers, body)
            self.assertEqual((msg["subscriptionRef"], msg["runId"], msg["trigger"]), (ref, run, "On-Demand"))
            self.assertEqual([(c["operation"], c["entitlementId"], c["activationIds"], c["productName"],
                               c["productVersion"]) for c in msg["changes"]],
                             [("createSimpleEntitlement", eid, [eid + "-1"], *self.cat.base)])
            s = self.wait_status(ref, "Success. " + WHEN)
            self.assertRegex(s["lastTriggered"], "^On-Demand Success. " + WHEN + "$")
            # Without a platform type: the same as cloud.
            self.assertEqual(self.status(ref, f"/subscriptions/{ref}/status"), s)
            # The next run carries only what changed since.
            eid2 = self.entitlement()
            self.trigger(ref)
            msg = verify(*rx.wait(2))
            self.assertEqual([c["entitlementId"] for c in msg["changes"]], [eid2])
            # A subscription made after those changes: its first run has
            # them all (there is no run before it to start from).
            ref2 = self.subscribe(rx.url)
            self.trigger(ref2)
            msg = verify(*rx.wait(3))
            self.assertEqual(msg["subscriptionRef"], ref2)
            self.assertEqual([c["entitlementId"] for c in msg["changes"]], [eid, eid2])
        finally:
            rx.close()

    def test_no_transaction_is_open_while_a_receiver_takes_its_time(self):
        rx = Receiver(delay=3)
        try:
            ref = self.subscribe(rx.url)
            self.entitlement()
            self.trigger(ref)
            rx.wait(1)  # the daemon's post is in the receiver now, for 3 s
            for _ in range(10):
                time.sleep(0.2)
                open_ = psql("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%' "
                             "AND now() - xact_start > interval '0.5 s'")
                self.assertEqual(open_, [["0"]], "a transaction stayed open during the post")
            self.wait_status(ref, "Success.*", timeout=20)
            # The attempt's time is when its post began (the signature's
            # timestamp), not when the results were written after it.
            headers, _ = rx.posts[0]
            at = psql("SELECT extract(epoch FROM a.at), a.duration_ms FROM webhook_attempts a JOIN subscription_runs "
                      "r ON r.id = a.run_id JOIN subscriptions s ON s.id = r.subscription_id WHERE s.ref = :'v1'", ref)
            self.assertEqual(len(at), 1, at)
            self.assertGreaterEqual(int(at[0][1]), 3000, at)
            self.assertLess(abs(float(at[0][0]) - int(headers["webhook-timestamp"])), 1.5, (at, headers))
        finally:
            rx.close()

    def test_a_subscription_deleted_during_its_post(self):
        # The post holds no lock on the run: the delete goes through at
        # once, and the attempt that ends after it records nothing and
        # posts nothing again.
        rx = Receiver(delay=2)
        try:
            before = len(self.daemon.read_log())
            ref = self.subscribe(rx.url)
            self.entitlement()
            run = self.trigger(ref)
            rx.wait(1)
            start = time.time()
            r = self.rest.request("DELETE", f"/subscriptions/cloud/{ref}")
            self.assertEqual(r.status, 204, r)
            self.assertLess(time.time() - start, 1.5)  # did not wait for the post
            time.sleep(4)
            self.assertEqual(len(rx.posts), 1)
            log = self.daemon.read_log()[before:]
            self.assertNotIn("foreign key", log)
            self.assertNotIn(f"subscription run {run}: webhook post failed", log)  # posted once, not again
        finally:
            rx.close()

    def test_a_delete_racing_the_build_of_a_run_is_never_told_to_retry(self):
        # The run's builder and a DELETE of its subscription take the two
        # rows in one order (the subscription first): neither deadlocks,
        # so the DELETE is a 204, never a 503, however they meet.
        rx = Receiver()
        try:
            for i in range(8):
                self.entitlement()
            answers = []
            for i in range(30):
                ref = self.subscribe(rx.url)
                self.trigger(ref)
                time.sleep((i % 6) * 0.004)
                r = self.rest.request("DELETE", f"/subscriptions/cloud/{ref}")
                answers.append(r.status)
            self.assertEqual(answers, [204] * 30)
            self.assertNotIn("deadlock", self.daemon.read_log())
        finally:
            rx.close()

    def test_a_failed_post_is_retried_with_the_same_message(self):
        rx = Receiver([500, 200])
        try:
            ref = self.subscribe(rx.url)
            eid = self.entitlement()
            self.trigger(ref)
            rx.wait(1)
            self.wait_status(ref, "(Failure. HTTP 500. |Success. )" + WHEN)
            h2, b2 = rx.wait(2)
            self.wait_status(ref, "Success. " + WHEN)
            (h1, b1) = rx.posts[0]
            self.assertEqual(b1, b2)
            self.assertEqual(h1["webhook-id"], h2["webhook-id"])
            self.assertEqual(verify(h2, b2)["changes"][0]["entitlementId"], eid)
            out = ctl("subscription", "deliveries", ref).stdout.splitlines()[1:]
            self.assertEqual([l.split()[3] for l in out], ["500", "200"])
            self.assertIn("HTTP 500 / delivered", out[0])
            self.assertTrue(out[1].endswith("delivered"))
        finally:
            rx.close()

    def test_a_refused_connection_is_reported(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nothing listens there now
        ref = self.subscribe(f"http://127.0.0.1:{port}/hook")
        self.trigger(ref)
        st = self.wait_status(ref, "Failure. connection refused. " + WHEN)
        self.assertRegex(st["lastTriggered"], "^On-Demand Success. " + WHEN + "$")
        out = ctl("subscription", "deliveries", ref).stdout
        self.assertIn("connection refused", out)

    def test_link_local_and_other_never_addresses_are_refused(self):
        # Instance metadata (169.254.169.254) and the rest that is never a
        # webhook: a failed attempt that names the address, nothing sent.
        for url in ("http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:9/hook", "http://0.0.0.0:9/hook",
                    "http://[::ffff:169.254.169.254]/hook"):
            with self.subTest(url=url):
                ref = self.subscribe(url)
                self.trigger(ref)
                self.wait_status(ref, r"Failure\. address \S+ not allowed \(ENTITLEMENTD_WEBHOOK_ADDRESSES\)\. " + WHEN)
                out = ctl("subscription", "deliveries", ref).stdout
                self.assertIn("not allowed", out)

    def test_a_due_schedule_runs(self):
        rx = Receiver([500, 200])
        try:
            ref = self.subscribe(rx.url, scheduleMinutes=60)
            due = psql("SELECT next_run_at > now() + interval '59 minutes' FROM subscriptions WHERE ref = :'v1'", ref)
            self.assertEqual(due, [["t"]])
            eid = self.entitlement()
            # Due now: the daemon's scheduler (every 15 s) queues a Scheduled run.
            psql("UPDATE subscriptions SET next_run_at = now() WHERE ref = :'v1'", ref)
            msg = verify(*rx.wait(1, timeout=40))
            self.assertEqual(msg["trigger"], "Scheduled")
            self.assertEqual([c["entitlementId"] for c in msg["changes"]], [eid])
            # A scheduled run's trigger is as its post went: the first
            # answered 500, the retry 200.
            s = self.wait_status(ref, "(Failure. HTTP 500. |Success. )" + WHEN)
            if s["webHookStatus"].startswith("Failure"):
                self.assertRegex(s["lastTriggered"], "^Scheduled-Failure. " + WHEN + "$")
            rx.wait(2)
            s = self.wait_status(ref, "Success. " + WHEN)
            self.assertRegex(s["lastTriggered"], "^Scheduled Success. " + WHEN + "$")
            later = psql("SELECT next_run_at > now() + interval '59 minutes' FROM subscriptions WHERE ref = :'v1'", ref)
            self.assertEqual(later, [["t"]])
        finally:
            rx.close()

    def test_triggers_and_who_may(self):
        rx = Receiver([500])
        try:
            ref = self.subscribe(rx.url)
            run = self.trigger(ref)
            # While the run waits (its post fails), a trigger is that run.
            self.assertEqual(self.trigger(ref), run)
            self.assertEqual(int(psql("SELECT count(*) FROM subscription_runs r JOIN subscriptions s "
                                      "ON s.id = r.subscription_id WHERE s.ref = :'v1'", ref)[0][0]), 1)
        finally:
            rx.close()
        r = self.rest.post("/subscriptions/cloud", {"name": "no hook", "products": [
            {"name": self.cat.base[0], "version": self.cat.base[1]}]})
        nohook = r.json["subscriptionRef"]
        # Without a webhook (it is optional) a trigger runs too: the run
        # collects the changes and is done with nothing to post.
        self.entitlement()
        r = self.rest.post(f"/subscriptions/cloud/{nohook}/trigger")
        self.assertEqual(r.status, 202, r)
        run = r.json["runId"]
        deadline = time.time() + 20
        while psql("SELECT state FROM subscription_runs WHERE id = :'v1'", str(run)) != [["delivered"]]:
            self.assertLess(time.time(), deadline, "the run without a webhook never ended")
            time.sleep(0.05)
        s = self.status(nohook)
        self.assertRegex(s["lastTriggered"], "^On-Demand Success. " + WHEN + "$")
        self.assertEqual(s["webHookStatus"], "Never posted.")
        self.assertEqual(psql("SELECT count(*) FROM webhook_attempts WHERE run_id = :'v1'", str(run)), [["0"]])
        body = json.loads(psql("SELECT body FROM subscription_runs WHERE id = :'v1'", str(run))[0][0])
        self.assertGreater(len(body["changes"]), 0, body)
        # The next run starts after it.
        self.assertNotEqual(self.trigger(nohook), run)
        other = RestClient(self.daemon, bearer(api_token(user="other-" + token(6))[1]))
        self.assertEqual(other.post(f"/subscriptions/cloud/{ref}/trigger").status, 404)
        self.assertEqual(other.get(f"/subscriptions/cloud/{ref}/status").status, 404)
        self.assertEqual(other.get(f"/subscriptions/{ref}/status").status, 404)
        other.close()
        self.assertEqual(self.rest.get(f"/subscriptions/containers/{ref}/status").status, 404)
        self.assertEqual(self.rest.get(f"/subscriptions/onprem/{ref}/status").status, 400)
        self.assertEqual(RestClient(self.daemon).get(f"/subscriptions/{ref}/status").status, 401)
        # The secret is in no log line.
        self.assertNotIn(WHSEC[6:], self.daemon.read_log())



class PublicOnlyWebhooksTest(WebhookCase):
    """ENTITLEMENTD_WEBHOOK_ADDRESSES=public: a host name that resolves to
    loopback is refused after resolution; nothing reaches the receiver."""
    daemon_env = {"ENTITLEMENTD_JOB_POLL_MS": "100", "ENTITLEMENTD_WEBHOOK_ADDRESSES": "public"}

    def test_loopback_is_refused_by_name_and_by_number(self):
        rx = Receiver()
        try:
            port = rx.server.server_address[1]
            for url in (f"http://localhost:{port}/hook", rx.url):
                with self.subTest(url=url):
                    self.entitlement()
                    ref = self.subscribe(url)
                    self.trigger(ref)
                    self.wait_status(ref, r"Failure\. address (127\.0\.0\.1|::1) not allowed "
                                          r"\(ENTITLEMENTD_WEBHOOK_ADDRESSES\)\. " + WHEN)
            self.assertEqual(rx.posts, [])
        finally:
            rx.close()


class HeldUpRunsTest(WebhookCase):
    """Runs waiting behind one whose receiver takes its whole time are
    posted after it, each at its first attempt. One webhook worker, so
    that the order is known."""
    daemon_env = {"ENTITLEMENTD_JOB_POLL_MS": "100", "ENTITLEMENTD_WEBHOOK_WORKERS": "1"}

    def test_a_slow_receiver_costs_the_runs_behind_it_no_attempt(self):
        busy, slow, fast = Receiver(delay=2), Receiver(delay=12), Receiver()
        refs = []
        try:
            refs += [self.subscribe(rx.url) for rx in (busy, slow, fast)]
            self.entitlement()
            before = len(self.daemon.read_log())
            self.trigger(refs[0])
            busy.wait(1)  # the only webhook worker posts for 2 s: the next two wait
            self.trigger(refs[1])
            self.trigger(refs[2])
            fast.wait(1, timeout=40)  # after slow's post gave up at 10 s
            self.wait_status(refs[2], "Success. " + WHEN)
            log = self.daemon.read_log()[before:]
            # slow's run failed once; fast's was not tried with it, and is
            # delivered at its first attempt.
            self.assertEqual(log.count("(subscription.run) failed (attempt 1 of"), 1, log)
            self.assertEqual(len(fast.posts), 1)
        finally:
            for ref in refs:  # slow's run would go on being retried
                self.rest.request("DELETE", f"/subscriptions/cloud/{ref}")
            for rx in (busy, slow, fast):
                rx.close()


class SlowReceiversTest(WebhookCase):
    """Receivers that take longer than a post may hold up the webhook
    workers, never a status log (the job workers are apart), nor the
    attempt of another run that was answered meanwhile (each webhook
    worker posts one run at a time)."""
    daemon_env = {"ENTITLEMENTD_JOB_POLL_MS": "100", "ENTITLEMENTD_JOB_WORKERS": "2",
                  "ENTITLEMENTD_WEBHOOK_WORKERS": "3"}

    def test_slow_receivers_hold_up_no_status_log_and_no_other_run(self):
        slow, fast = Receiver(delay=12), Receiver()
        refs = []
        pub = Publisher(self.daemon, admin_user())
        try:
            refs = [self.subscribe(slow.url) for _ in range(2)] + [self.subscribe(fast.url)]
            self.entitlement()
            for ref in refs[:2]:
                self.trigger(ref)
            slow.wait(2)  # two webhook workers wait for 10 s (the post's timeout)
            started = time.time()
            self.trigger(refs[2])
            self.wait_status(refs[2], "Success. " + WHEN, timeout=5)
            self.assertLess(time.time() - started, 5)
            self.assertEqual(self.status(refs[0])["webHookStatus"], "Never posted.")  # still in flight
            c = RestClient(self.daemon)
            started = time.time()
            r = c.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth()}, auth=False)
            self.assertEqual(r.status, 202, r)
            done = poll_until_done(c, r.json["url"], pub.auth(), timeout=5)
            self.assertEqual(done.status, 200, done)
            self.assertLess(time.time() - started, 3)
            c.close()
        finally:
            for ref in refs:  # the slow runs would go on being retried
                self.rest.request("DELETE", f"/subscriptions/cloud/{ref}")
            for rx in (slow, fast):
                rx.close()


class ShortLeaseTest(WebhookCase):
    """A job lease shorter than a receiver's answer: each post ends within
    half a lease (the post timeout is cut to it) and the lease is extended
    before it, so no other worker claims the run and posts it again
    meanwhile, and every post is recorded as an attempt."""
    daemon_env = {"ENTITLEMENTD_JOB_POLL_MS": "100", "ENTITLEMENTD_JOB_LEASE": "3", "ENTITLEMENTD_WEBHOOK_WORKERS": "2"}

    def test_a_receiver_slower_than_the_lease_gets_one_post_per_attempt(self):
        rx = Receiver(delay=5)
        try:
            ref = self.subscribe(rx.url)
            self.entitlement()
            before = len(self.daemon.read_log())
            run = self.trigger(ref)
            rx.wait(2, timeout=20)
            self.rest.request("DELETE", f"/subscriptions/cloud/{ref}")
            time.sleep(1.5)  # a post in flight ends (1 s) and is recorded
            log = self.daemon.read_log()[before:]
            attempts = log.count(f"subscription run {run}: webhook post failed: timed out")
            self.assertNotIn("claimed by another worker meanwhile", log)
            self.assertEqual(len(rx.posts), attempts, log)
        finally:
            rx.close()


if __name__ == "__main__":
    unittest.main()
