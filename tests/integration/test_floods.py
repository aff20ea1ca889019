"""Floods from outside, through the real daemon and PostgreSQL, with a
legitimate client's success rate asserted: the connection table held by
idle sockets (a per-client limit, silent sockets shed first, a 503 with
Retry-After over any limit, never a reset), and wrong passwords from 20
threads (429 with Retry-After to the flooder once over the limits of its
address and of the user it guesses at; users whose password was checked
lately and new users from elsewhere served throughout); and memory given
back after bursts of large requests."""
import os
import resource
import socket
import struct
import subprocess
import sys
import re
import threading
import time
import unittest
import urllib.request

from builders import create_body, search_body, simple_query
from catalog import Catalog
from harness import PATH, Client, Daemon, User, ctl, envelope, make_user, psql, token
from test_http import read_reply

ATTACKER = "127.0.0.2"  # loopback answers on all of 127/8: another client address


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n


def request(user, basic=None):
    # A search that finds nothing: cheap whatever the database holds.
    body = envelope(search_body(simple_query("entitlementId", "none-" + token(8))))
    basic = basic or user.basic()
    return (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\n"
            f"Authorization: {basic}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


class Holder:
    """Opens n idle sockets from addr and keeps them open: each one the
    daemon closes is opened again until stop()."""

    def __init__(self, port, n, addr=ATTACKER):
        self.port, self.n, self.addr = port, n, addr
        self.socks, self.opened, self.refused, self.stopping = [], 0, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.addr, 0))
            s.setblocking(False)
            self.opened += 1
            return s
        except OSError:
            return None

    def run(self):
        self.socks = [self.open_one() for _ in range(self.n)]
        while not self.stopping:
            for i, s in enumerate(self.socks):
                gone = s is None
                if not gone:
                    try:
                        data = s.recv(4096)
                        gone = True
                        if data.startswith(b"HTTP/1.1 503"):
                            self.refused += 1
                    except BlockingIOError:
                        pass
                    except OSError:
                        gone = True
                if gone and not self.stopping:
                    if s is not None:
                        s.close()
                    self.socks[i] = self.open_one()
            time.sleep(0.05)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        self.thread.join()
        for s in self.socks:
            if s is not None:
                s.close()


class ConnectionFloodTest(unittest.TestCase):
    HELD = 2000

    def setUp(self):
        if not raise_nofile(self.HELD + 500):
            self.skipTest("cannot open enough descriptors")

    def legitimate(self, d, user, n, seconds):
        ok, failed = 0, []
        deadline = time.time() + seconds
        for _ in range(n):
            try:
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.sendall(request(user))
                reply, _ = read_reply(s)
                s.close()
                if reply.status == 200 and reply.status_text == "SUCCESS":
                    ok += 1
                else:
                    failed.append(reply.status)
            except OSError as e:
                failed.append(repr(e))
            time.sleep(max(0.0, (deadline - time.time()) / max(1, n)))
        return ok, failed

    def flood(self, **env):
        d = Daemon(**env).start()
        user = make_user()
        holder = Holder(d.port, self.HELD)
        try:
            holder.start()
            time.sleep(2)  # the sockets are open (or turned away and open again)
            ok, failed = self.legitimate(d, user, 30, 3)
        finally:
            holder.stop()
            self.assertEqual(d.stop(), 0)
        print(f"\n{env}: {holder.opened} attacker connections opened, {holder.refused} answered 503; "
              f"legitimate: {ok} of 30 succeeded, failures {failed}", file=sys.stderr)
        self.assertEqual((ok, failed), (30, []))
        return d.read_log()

    def test_a_client_gets_through_while_another_holds_2000_idle_sockets(self):
        """Per-client limit (default 512): the attacker's address is
        capped, its other sockets get a 503, and the table has room."""
        log = self.flood()
        self.assertIn("too many connections from this client address", log)

    def test_one_address_keeps_300_connections_with_the_defaults(self):
        """A load test from one machine: 300 keep-alive connections of one
        address are all served, twice each, under the default per-client
        limit (it was 128, so half of such a test got 503s)."""
        d = Daemon().start()
        user = make_user()
        socks = []
        try:
            for _ in range(300):
                socks.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
            for round_ in range(2):
                for s in socks:
                    s.sendall(request(user))
                for i, s in enumerate(socks):
                    reply, _ = read_reply(s)
                    self.assertEqual(reply.status, 200, f"round {round_}, connection {i}")
                    self.assertNotEqual(reply.headers.get("connection", "").lower(), "close")
        finally:
            for s in socks:
                s.close()
            self.assertEqual(d.stop(), 0)

    def test_silent_sockets_are_shed_first_when_the_table_is_full(self):
        """No per-client limit (one address for all, as behind a proxy):
        the table fills with silent sockets; each new connection takes the
        place of the oldest silent one, and silent ones get 2 s once the
        table is three quarters full."""
        log = self.flood(ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT=0)
        self.assertIn("connection table full: closed the oldest silent connection", log)

    def test_requests_arriving_slowly_make_room_for_new_connections(self):
        """Slowloris: connections that send part of a request and then
        little or nothing. Once such a request has been arriving for a
        second or two, a new connection that finds no room (the table
        full, or its address at its limit) takes its place, and it gets a
        408; before, they held the table for the whole receive timeout
        (10 s) while everyone else got 503s."""
        d = Daemon(ENTITLEMENTD_MAX_CONNECTIONS=16, ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT=8,
                   ENTITLEMENTD_LOG_REPEAT_SECONDS=0).start()
        user = make_user()
        slow = []
        partial = b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
        try:
            for i in range(16):  # the table full, two of each address
                c = socket.create_connection(("127.0.0.1", d.port), source_address=(f"127.0.1.{i // 2 + 1}", 0))
                c.sendall(partial)
                slow.append(c)
            time.sleep(2.2)
            for k in range(3):
                s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.4", 0), timeout=10)
                s.sendall(request(user))
                self.assertEqual(read_reply(s)[0].status_text, "SUCCESS", k)
                s.close()
            # An address at its limit (8), all of them slow: its next
            # connection takes the place of its oldest.
            mine = []
            for _ in range(8):
                c = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.5", 0))
                c.sendall(partial)
                mine.append(c)
            slow += mine
            time.sleep(2.2)
            s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.5", 0), timeout=10)
            s.sendall(request(user))
            self.assertEqual(read_reply(s)[0].status_text, "SUCCESS")
            s.close()
            # The connections closed for room were told why.
            told = 0
            for c in slow:
                c.setblocking(False)
                try:
                    told += c.recv(4096).startswith(b"HTTP/1.1 408")
                except OSError:
                    pass
            self.assertGreaterEqual(told, 4)
            log = d.read_log()
            self.assertIn("connection table full: closed the slowest arriving connection to make room", log)
            self.assertIn("too many connections from an address: closed the slowest arriving connection of that address",
                          log)
        finally:
            for c in slow:
                c.close()
            self.assertEqual(d.stop(), 0)

    def test_over_a_limit_the_answer_is_a_503_with_retry_after(self):
        d = Daemon(ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT=4, ENTITLEMENTD_MAX_CONNECTIONS=16).start()
        user = make_user()
        held = []
        try:
            # Four of one address: the fifth is turned away.
            for _ in range(4):
                held.append(socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.3", 0)))
            time.sleep(0.2)
            s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.3", 0))
            s.sendall(request(user))
            reply, _ = read_reply(s)
            self.assertEqual(reply.status, 503)
            self.assertEqual(reply.headers.get("retry-after"), "1")
            self.assertEqual(reply.headers.get("connection"), "close")
            self.assertIn("x-request-id", reply.headers)
            s.close()
            # The table full of requests still arriving (nothing to shed):
            # the next connection gets the same answer.
            for c in held:
                c.close()
            time.sleep(0.2)
            for i in range(16):
                c = socket.create_connection(("127.0.0.1", d.port), source_address=(f"127.0.1.{i + 1}", 0))
                c.sendall(b"POST " + PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n")
                held.append(c)
            time.sleep(0.3)
            s = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.4", 0))
            s.sendall(request(user))
            reply, _ = read_reply(s)
            self.assertEqual((reply.status, reply.headers.get("retry-after")), (503, "1"))
            s.close()
            # Once some go, a client is served again.
            for c in held:
                c.close()
            time.sleep(0.3)
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(request(user))
            self.assertEqual(read_reply(s)[0].status_text, "SUCCESS")
            s.close()
        finally:
            for c in held:
                c.close()
            self.assertEqual(d.stop(), 0)


class PasswordFloodTest(unittest.TestCase):
    SECONDS = 6

    def test_wrong_passwords_from_20_threads(self):
        # Trusted 2 s only: the known user's password is checked again
        # (ahead of the flood's checks) three times during it.
        d = Daemon(ENTITLEMENTD_AUTH_CACHE_SECONDS=2).start()
        known, newcomer = make_user(), make_user()
        stats = {"flood": {}, "known": {}, "newcomer": {}}
        retry_after = set()
        lock = threading.Lock()
        stop = time.time() + self.SECONDS

        def count(who, status):
            with lock:
                stats[who][status] = stats[who].get(status, 0) + 1

        def send(who, user, source, basic=None):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30, source_address=(source, 0))
            s.sendall(request(user, basic))
            reply, _ = read_reply(s, timeout=30)
            s.close()
            count(who, reply.status_text if reply.status == 200 else reply.status)
            return reply

        def flooder(i):
            # At the known user's name, and at names that do not exist.
            while time.time() < stop:
                target = known if i % 2 else User("ghost-" + token(6), "x")
                r = send("flood", target, ATTACKER, User(target.name, "wrong-" + token(4)).basic())
                if r.status == 429:
                    with lock:
                        retry_after.add(r.headers.get("retry-after"))

        try:
            self.assertEqual(send("known", known, "127.0.0.1").status, 200)  # checked once before
            threads = [threading.Thread(target=flooder, args=(i,)) for i in range(20)]
            for t in threads:
                t.start()
            time.sleep(1)
            first = True
            while time.time() < stop:
                send("known", known, "127.0.0.1")
                if first or int(time.time() * 4) % 2:
                    send("newcomer", newcomer, "127.0.0.1")  # its first login is in the flood
                    first = False
                time.sleep(0.1)
            for t in threads:
                t.join()
            log = d.read_log()
        finally:
            self.assertEqual(d.stop(), 0)
        print(f"\npassword flood for {self.SECONDS} s: {stats}", file=sys.stderr)
        self.assertEqual(set(stats["known"]), {"SUCCESS"}, stats)
        self.assertEqual(set(stats["newcomer"]), {"SUCCESS"}, stats)
        # (The flooder and the daemon share the machine's cores: requests
        # are slow during the flood, but every one is served.)
        self.assertGreaterEqual(stats["known"]["SUCCESS"], 2)  # one at least re-checked in the flood
        flood = stats["flood"]
        self.assertNotIn(503, flood, stats)
        self.assertGreater(flood.get(429, 0), flood.get(401, 0), stats)
        # At most the address's limit of guesses (100) was checked (some raced in).
        self.assertLessEqual(flood.get(401, 0), 20 + 100, stats)
        self.assertTrue(retry_after and all(v and 0 < int(v) <= 60 for v in retry_after), retry_after)
        self.assertIn("too many failed logins from this address or for this user", log)

    def test_throttled_guesses_are_refused_before_their_body_is_parsed(self):
        d = Daemon(ENTITLEMENTD_LOGIN_FAILURES_PER_ADDRESS=10).start()
        known = make_user()
        broken = b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><unclosed>"

        def send(basic, body=None, source=ATTACKER):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30, source_address=(source, 0))
            if body is None:
                s.sendall(request(known, basic))
            else:
                s.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nSOAPAction: \"\"\r\n"
                           f"Authorization: {basic}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
            reply, _ = read_reply(s, timeout=30)
            s.close()
            return reply

        try:
            self.assertEqual(send(known.basic(), source="127.0.0.1").status, 200)  # remembered from now on
            statuses = [send(User(known.name, "wrong-" + token(4)).basic()).status for _ in range(12)]
            self.assertEqual(statuses[-1], 429, statuses)
            # A guess with a body gSOAP could not parse: refused for the
            # guess, so the body was never parsed.
            r = send(User(known.name, "wrong-" + token(4)).basic(), broken)
            self.assertEqual(r.status, 429, r.body)
            self.assertTrue(0 < int(r.headers.get("retry-after", "0")) <= 60, r.headers)
            self.assertIn(b"too many failed logins", r.body)
            self.assertIn(b"<faultcode>SOAP-ENV:Client</faultcode>", r.body)
            # Each guess refused before its body was parsed is counted.
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=10).read().decode()
            m = re.search(r'entitlementd_password_logins_total\{check="throttled",outcome="refused"\} (\d+)', metrics)
            self.assertEqual(int(m.group(1)) if m else 0, statuses.count(429) + 1, statuses)
            # The remembered credential from the same address: its body is
            # parsed, and the fault is about the body.
            r = send(known.basic(), broken)
            self.assertNotIn(r.status, (401, 429), r.body)
            self.assertEqual(send(known.basic()).status, 200)
        finally:
            self.assertEqual(d.stop(), 0)


    def test_the_same_wrong_password_again_is_not_another_guess(self):
        """A client retrying wrong credentials (a test suite, a misconfigured
        integration) gets 401 each time and is never throttled for it: a
        repeat is refused without hashing and counted once. Once the user
        exists, or has that password, it is checked again at once."""
        d = Daemon().start()
        known = make_user()
        ghost = User("ghost-" + token(8), "p" + token(16))
        wrong = User(known.name, "wrong-" + token(6))

        def send(user, source=ATTACKER):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30, source_address=(source, 0))
            s.sendall(request(user))
            reply, _ = read_reply(s, timeout=30)
            s.close()
            return reply.status

        try:
            statuses = [send(u) for _ in range(40) for u in (wrong, ghost)]
            self.assertEqual(set(statuses), {401}, statuses)
            # The address has two failures to its name, not 80: a user new
            # to it is served, and distinct guesses are still counted.
            newcomer = make_user()
            self.assertEqual(send(newcomer), 200)
            # The ghost is added with the password it was refused: served.
            ctl("user", "add", ghost.name, stdin=ghost.password + "\n")
            self.assertEqual(send(ghost), 200)
            # The known user is given the wrong password (another user's
            # hash of it): served with it at once.
            twin = User("twin-" + token(8), wrong.password)
            ctl("user", "add", twin.name, stdin=twin.password + "\n")
            psql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE name = :'v1') "
                 "WHERE name = :'v2'", twin.name, known.name)
            self.assertEqual(send(wrong), 200)
            log = d.read_log()
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertIn("as in a failed login of the last minute", log)
        self.assertNotIn("too many failed logins", log)

    def test_a_changed_password_is_refused_at_once_whichever_turn_checked_it(self):
        """A user re-checked while two new users' passwords were being
        hashed takes the turn kept for known credentials. After the
        password changes, the old one is refused, and refused again at
        once: the second time it did not wait for a check in that turn (a
        check of other credentials there would have given it their
        verdict)."""
        d = Daemon(ENTITLEMENTD_AUTH_CACHE_SECONDS=1).start()
        seed = make_user()
        other = make_user()

        def send(user, source="127.0.0.1"):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30, source_address=(source, 0))
            s.sendall(request(user))
            reply, _ = read_reply(s, timeout=30)
            s.close()
            return reply.status

        def at_once(users, late):
            """users all at once, then late 20 ms after (while their
            passwords are being hashed)."""
            statuses, go = [], threading.Barrier(len(users) + 1)

            def one(u, delay):
                go.wait()
                time.sleep(delay)
                statuses.append(send(u))
            threads = [threading.Thread(target=one, args=(u, 0)) for u in users]
            threads.append(threading.Thread(target=one, args=(late, 0.02)))
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return statuses

        try:
            for attempt in range(3):
                victim = make_user()
                newcomers = [User(f"new-{token(8)}-{i}", seed.password) for i in range(2)]
                psql("INSERT INTO users (name, password_hash) SELECT n, (SELECT password_hash FROM users "
                     "WHERE name = :'v1') FROM unnest(string_to_array(:'v2', ',')) n",
                     seed.name, ",".join(u.name for u in newcomers))
                self.assertEqual(send(victim), 200)
                time.sleep(1.2)  # trusted no longer, still known
                self.assertEqual(at_once(newcomers, victim), [200] * 3)
                psql("UPDATE users SET password_hash = (SELECT password_hash FROM users WHERE name = :'v1') "
                     "WHERE name = :'v2'", other.name, victim.name)
                time.sleep(1.2)
                self.assertEqual(send(victim), 401)  # checked: wrong now
                started = time.monotonic()
                self.assertEqual(send(victim), 401)  # known to be wrong
                self.assertLess(time.monotonic() - started, 5, attempt)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_the_spellings_of_a_domain_share_one_count_of_failed_logins(self):
        """Domains ignore case, so root##FLEXnet and root##flexnet are one
        user, and their guesses one count: 2^7 spellings of FLEXnet do not
        get 2^7 times the per-user limit."""
        d = Daemon(ENTITLEMENTD_LOGIN_FAILURES_PER_USER=3).start()
        known = make_user()
        try:
            statuses = []
            for i, domain in enumerate(("FLEXnet", "flexnet", "FLEXNET", "fLeXnEt", "Flexnet")):
                # Each from its own address: the per-address limit is not the one reached.
                s = socket.create_connection(("127.0.0.1", d.port), timeout=30, source_address=(f"127.0.0.{10 + i}", 0))
                s.sendall(request(known, User(f"{known.name}##{domain}", "wrong-" + token(6)).basic()))
                reply, _ = read_reply(s, timeout=30)
                s.close()
                statuses.append(reply.status)
            self.assertEqual(statuses, [401, 401, 401, 429, 429])
        finally:
            self.assertEqual(d.stop(), 0)

    def test_a_lookup_that_fails_is_a_503_not_a_wrong_password(self):
        """The right password whose user lookup is cancelled (a statement
        timeout, an operator's pg_cancel_backend) is answered 503: not 401,
        not counted as a failed login, not remembered as wrong."""
        # One connection, whose lookup statement a first login prepares (a
        # cancelled PREPARE is taken for a lost connection, also a 503).
        d = Daemon(ENTITLEMENTD_LOGIN_FAILURES_PER_USER=1, ENTITLEMENTD_DB_POOL_SIZE=1).start()
        user = make_user()

        def login(u):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=60)
            s.sendall(request(u))
            reply, _ = read_reply(s, timeout=60)
            s.close()
            return reply

        try:
            self.assertEqual(login(make_user()).status, 200)
            r = self.cancelled_lookup(lambda: login(user))
            self.assertEqual(r.status, 503, r.body)
            self.assertTrue(r.headers.get("retry-after"), r.headers)
            # Not one failed login (the limit is 1), nor remembered as wrong.
            reply = login(user)
            self.assertEqual(reply.status, 200, reply.body)
        finally:
            self.assertEqual(d.stop(), 0)

    def cancelled_lookup(self, send):
        """Runs send() in a thread while the users table is locked, and
        cancels the user lookup it waits in; returns what send returned."""
        result = {}
        locker = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        try:
            locker.stdin.write("BEGIN; LOCK TABLE users; SELECT pg_sleep(60);\n")
            locker.stdin.flush()
            for _ in range(200):
                if psql("SELECT 1 FROM pg_locks WHERE relation = 'users'::regclass AND granted "
                        "AND mode = 'AccessExclusiveLock'"):
                    break
                time.sleep(0.05)
            t = threading.Thread(target=lambda: result.setdefault("value", send()))
            t.start()
            blocked = []
            for _ in range(200):
                blocked = psql("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE '%FROM users WHERE name%'")
                if blocked:
                    break
                time.sleep(0.05)
            self.assertTrue(blocked, "the lookup never waited for the lock")
            psql("SELECT pg_cancel_backend(:'v1')", blocked[0][0])
            t.join()
        finally:
            # Its backend would hold the lock through pg_sleep after psql died.
            psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE relation = 'users'::regclass "
                 "AND mode = 'AccessExclusiveLock' AND granted")
            locker.stdin.close()
            locker.kill()
            locker.wait()
        return result.get("value")

    def test_thirty_new_users_at_once_are_all_served(self):
        """Thirty users never seen before, each on its own connection, all at
        once: two passwords are hashed at a time and a few requests wait
        for a turn in a worker; the others are put back (no thread held)
        until a turn is free, and every one is served: no 503."""
        d = Daemon(ENTITLEMENTD_WORKERS=8).start()  # the default: 8 workers, 4 taking requests
        first = make_user()
        names = ["burst-" + token(8) + f"-{i}" for i in range(30)]
        psql("INSERT INTO users (name, password_hash) SELECT n, (SELECT password_hash FROM users "
             "WHERE name = :'v1') FROM unnest(string_to_array(:'v2', ',')) n", first.name, ",".join(names))
        statuses, lock = [], threading.Lock()
        go = threading.Barrier(30)

        def one(name):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=60)
            go.wait()
            s.sendall(request(User(name, first.password)))
            reply, _ = read_reply(s, timeout=60)
            s.close()
            with lock:
                statuses.append(reply.status)

        try:
            threads = [threading.Thread(target=one, args=(n,)) for n in names]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=10).read().decode()
        finally:
            self.assertEqual(d.stop(), 0)
        print(f"\n30 new users at once: {sorted(statuses)}", file=sys.stderr)
        self.assertEqual(statuses, [200] * 30)
        # Some were put back, and none is left waiting.
        self.assertRegex(metrics, r'entitlementd_password_logins_total\{check="busy",outcome="deferred"\} [1-9]')
        self.assertIn("entitlementd_http_requests_parked 0\n", metrics)

    def test_a_hundred_users_stay_remembered(self):
        """Verified credentials of 100 users are all remembered: a second
        round of their requests hashes nothing (the cache held 64 before)."""
        d = Daemon().start()
        first = make_user()
        names = ["many-" + token(8) + f"-{i}" for i in range(100)]
        # One yescrypt hash for all of them (entitlementctl would make 100).
        psql("INSERT INTO users (name, password_hash) SELECT n, (SELECT password_hash FROM users "
             "WHERE name = :'v1') FROM unnest(string_to_array(:'v2', ',')) n", first.name, ",".join(names))
        users = [User(n, first.password) for n in names]

        def hashed():
            m = re.search(r'entitlementd_password_logins_total\{check="hashed",outcome="ok"\} (\d+)',
                          urllib.request.urlopen(f"http://127.0.0.1:{d.port}/metrics", timeout=10).read().decode())
            return int(m.group(1)) if m else 0

        def round_(part):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            for u in part:
                s.sendall(request(u))
                reply, _ = read_reply(s, timeout=30)
                self.assertEqual(reply.status, 200, u.name)
            s.close()

        try:
            for _ in range(2):
                threads = [threading.Thread(target=round_, args=(users[i::2],)) for i in range(2)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                if _ == 0:
                    after_first = hashed()
            self.assertEqual(after_first, 100)
            self.assertEqual(hashed(), 100)
        finally:
            self.assertEqual(d.stop(), 0)


@unittest.skipIf(os.environ.get("ENTITLEMENTD_SANITIZED") == "1", "ASan changes the memory figures")
class MemoryBurstTest(unittest.TestCase):
    """After a burst of large requests the idle daemon is back within
    32 MiB of its RSS at the start, within a few seconds."""

    def rss_mib(self, d):
        with open(f"/proc/{d.proc.pid}/status") as f:
            return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS"))

    def settle(self, d, start, what, margin=32, tries=10):
        after = []
        for _ in range(tries):
            time.sleep(0.5)
            after.append(self.rss_mib(d))
            if after[-1] <= start + margin:
                break
        print(f"\n{what}: RSS {start} MiB at the start, then {after} MiB", file=sys.stderr)
        self.assertLessEqual(after[-1], start + margin, after)

    def page(self, client, n, chars):
        """Creates n entitlements of one line item, each with descriptions
        of chars characters; returns a search of them all in one page."""
        cat, tag, text = Catalog(), "PG" + token(6), "d" * chars
        for k in range(n // 1000):
            body = create_body([{"eid": f"{tag}-{k}-{i}", "description": text,
                                 "items": [(f"{tag}-{k}-{i}-1", cat.base, 1, {"description": text})]}
                                for i in range(1000)])
            self.assertEqual(client.call(body, validate=False).status_text, "SUCCESS")
        return search_body(simple_query("entitlementId", tag, "STARTS_WITH"), batch=2000)

    def test_large_fields_and_stalled_large_bodies(self):
        d = Daemon().start()
        try:
            cat, user = Catalog(), make_user()
            c = Client(d, user)  # warm: the pool's connections, the schema
            self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
            c.close()
            time.sleep(0.5)
            start = self.rss_mib(d)
            big = "x" * 7_000_000

            def one():
                cl = Client(d, user)
                r = cl.call(create_body([{"eid": "M-" + token(8), "description": big,
                                          "items": [("M-" + token(8), cat.base, 1)]}]), validate=False)
                cl.close()
                assert r.status == 200, r.status  # the unit fails (description too long); all was parsed

            for _ in range(2):
                threads = [threading.Thread(target=one) for _ in range(10)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
            self.settle(d, start, "20 requests with a 7 MB field, 10 at once")
            # Bodies of 8 MB announced, 6 MB sent, then nothing: held in
            # the connections' buffers until the clients go.
            head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                    f"Content-Length: {8_000_000}\r\n\r\n").encode()
            held = []
            for i in range(30):
                s = socket.create_connection(("127.0.0.1", d.port), source_address=(f"127.0.2.{i + 1}", 0))
                s.sendall(head + b"<" + b" " * 6_000_000)
                held.append(s)
            time.sleep(1)
            for s in held:
                s.close()
            self.settle(d, start, "30 connections holding 6 MB of 8 MB bodies, then gone")
        finally:
            self.assertEqual(d.stop(), 0)

    def test_large_answers_whose_clients_left(self):
        # Clients that send a search of a 5 MB page and reset the
        # connection at once: every answer is made and cannot be sent. The
        # workers kept those buffers and nothing asked the heaps back (215
        # MB of an idle daemon for good, against 16 at the start, in a run
        # of 240 such searches).
        d = Daemon().start()
        try:
            user = make_user()
            c = Client(d, user)
            query = self.page(c, 2000, 1200)
            r = c.call(query, validate=False)
            self.assertEqual(r.status_text, "SUCCESS", r.body[:300])
            self.assertGreater(len(r.body), 4_000_000)
            c.close()
            time.sleep(1.5)
            start = self.rss_mib(d)
            env = envelope(query)
            head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
                    f"Authorization: {user.basic()}\r\nContent-Length: {len(env)}\r\n\r\n").encode()

            def one():
                for _ in range(10):
                    s = socket.create_connection(("127.0.0.1", d.port))
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    s.sendall(head + env)
                    time.sleep(0.01)
                    s.close()

            threads = [threading.Thread(target=one) for _ in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.settle(d, start, "60 searches of 5 MB pages whose clients reset", tries=60)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_query_pages_refused_as_too_large(self):
        # A page read up to ENTITLEMENTD_MAX_PAGE_MB and refused
        # (RESPONSE_TOO_LARGE) answers in a few bytes: its rows, freed with
        # the request, were kept by the heaps (8 such queries at once held
        # 130 MB of an idle daemon with 32 MiB pages; with 8 MiB pages here,
        # 28 MiB for good, against none a second later now).
        d = Daemon(ENTITLEMENTD_MAX_PAGE_MB=8).start()
        try:
            user = make_user()
            c = Client(d, user)
            query = self.page(c, 4000, 2000)
            self.assertTrue(c.call(query, validate=False).reason_text.startswith("RESPONSE_TOO_LARGE"))
            c.close()
            time.sleep(1.5)
            start = self.rss_mib(d)

            def one():
                cl = Client(d, user)
                for _ in range(2):
                    r = cl.call(query, validate=False)
                    assert r.reason_text.startswith("RESPONSE_TOO_LARGE"), r.body[:300]
                cl.close()

            threads = [threading.Thread(target=one) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.settle(d, start, "16 query pages of 8 MiB refused, 8 at once", margin=10)
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
