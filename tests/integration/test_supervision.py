"""What a supervisor relies on, with the real daemon and the files in
docker/: the exit statuses it reads (0 after SIGTERM, 1 when the database
cannot be reached within ENTITLEMENTD_START_TIMEOUT, 2 for a bad setting, a
signal on a crash), that
a daemon started again right after a crash binds its port at once, that
systemd accepts docker/entitlementd.service and restarts on exactly those
failures, and that docker/compose.yaml restarts its long-running services
(test_deploy.py checks the rest of docker/)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import yaml

from harness import DAEMON, ROOT, Client, Daemon, make_user
from builders import search_body

UNIT = os.path.join(ROOT, "docker", "entitlementd.service")
COMPOSE = os.path.join(ROOT, "docker", "compose.yaml")


def unit_settings():
    """{(section, key): value} of the unit file, comments left out."""
    out, section = {}, None
    with open(UNIT, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out[(section, key)] = value
    return out


class ExitStatuses(unittest.TestCase):
    def run_daemon(self, **env):
        full = dict(os.environ, ENTITLEMENTD_PORT="0", **env)
        return subprocess.run([DAEMON], env=full, capture_output=True, text=True, timeout=60)

    def test_a_bad_setting_exits_2(self):
        r = self.run_daemon(ENTITLEMENTD_WORKERS="many")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("ENTITLEMENTD_WORKERS", r.stderr)

    def test_an_unreachable_database_at_start_exits_1_after_the_start_timeout(self):
        r = self.run_daemon(DATABASE_URL="postgresql://127.0.0.1:1/none", ENTITLEMENTD_DB_CONNECT_TIMEOUT="1",
                            ENTITLEMENTD_START_TIMEOUT="3")
        self.assertEqual(r.returncode, 1, r.stderr)
        # Attempts at 0, 0.5 and 1.5 s, and the last at the timeout (the
        # backoff's next pause cut to end there), not given up at 1.5 s.
        self.assertIn("trying again in 1.5 s", r.stderr)
        self.assertIn("after 3 s", r.stderr)
        self.assertIn("the database cannot be reached (attempt 1)", r.stderr)
        self.assertIn("giving up", r.stderr)

    def test_sigterm_exits_0_and_a_crash_is_a_signal_then_the_port_binds_again(self):
        d = Daemon().start()
        user = make_user()
        c = Client(d, user)
        self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
        # A crash with a client connected: what Restart=on-failure and
        # restart: unless-stopped restart. (ASan turns a SIGSEGV into a
        # report and exit 1: a sanitised daemon is killed instead.)
        sig = signal.SIGKILL if os.environ.get("ENTITLEMENTD_SANITIZED") == "1" else signal.SIGSEGV
        d.proc.send_signal(sig)
        self.assertEqual(d.proc.wait(timeout=30), -sig)
        d.proc = None
        c.close()
        # Started again on the same port straight away (SO_REUSEADDR: the
        # crashed daemon's connections in TIME_WAIT do not hold the port).
        again = Daemon()
        again.port = d.port
        again.env["ENTITLEMENTD_PORT"] = str(d.port)
        again.start()
        c = Client(again, user)
        self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
        c.close()
        self.assertEqual(again.stop(), 0, again.read_log()[-2000:])


class SystemdUnit(unittest.TestCase):
    def test_restarts_on_failure_but_not_for_a_bad_setting(self):
        s = unit_settings()
        self.assertEqual(s[("Service", "Restart")], "on-failure")
        self.assertEqual(s[("Service", "RestartPreventExitStatus")], "2")  # see ExitStatuses
        self.assertEqual(s[("Service", "KillSignal")], "SIGTERM")
        self.assertEqual(s[("Service", "ExecStart")], "/usr/local/bin/entitlementd")
        self.assertEqual(s[("Install", "WantedBy")], "multi-user.target")

    def test_systemd_accepts_the_unit(self):
        analyze = shutil.which("systemd-analyze")
        self.assertIsNotNone(analyze, "systemd-analyze (package systemd) is missing")
        with tempfile.TemporaryDirectory() as tmp:
            # The built binary in place of the installed one; the
            # environment file made optional (it is the operator's).
            with open(UNIT, encoding="utf-8") as f:
                text = f.read()
            text = text.replace("ExecStart=/usr/local/bin/entitlementd", "ExecStart=" + os.path.abspath(DAEMON))
            text = text.replace("EnvironmentFile=/", "EnvironmentFile=-/")
            path = os.path.join(tmp, "entitlementd.service")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            r = subprocess.run([analyze, "verify", path], capture_output=True, text=True, timeout=60)
        # verify exits 0 on settings it ignores; they are named on stderr.
        complaints = [l for l in (r.stdout + r.stderr).splitlines() if "entitlementd.service" in l]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(complaints, [], r.stdout + r.stderr)


def thread_policies(pid):
    """{tid: scheduling policy} of a process's threads (field 41 of
    /proc/PID/task/TID/stat; 0 SCHED_OTHER, 3 SCHED_BATCH)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        out[int(tid)] = int(fields[41 - 3])
    return out


class Scheduling(unittest.TestCase):
    """ENTITLEMENTD_SCHED_BATCH: the HTTP, job and webhook workers run as
    SCHED_BATCH by default, under the default policy with 0."""

    def policies(self, **env):
        d = Daemon(ENTITLEMENTD_WORKERS=3, ENTITLEMENTD_JOB_WORKERS=2, ENTITLEMENTD_WEBHOOK_WORKERS=1, **env).start()
        try:
            # Each worker sets its policy as it starts: wait until the
            # workers' count of threads is there and a moment after.
            deadline = time.time() + 10
            while len(thread_policies(d.proc.pid)) < 7 and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
            return sorted(thread_policies(d.proc.pid).values())
        finally:
            self.assertEqual(d.stop(), 0)

    def test_workers_are_batch_by_default(self):
        p = self.policies()
        # 3 HTTP workers, 2 job workers and a webhook worker (and, while
        # it posts a run the database holds from other tests, libcurl's
        # resolver thread, which inherits its policy); the main thread and
        # the others (listener, pools) keep SCHED_OTHER.
        self.assertIn(p.count(3), (6, 7), p)
        self.assertIn(0, p)

    def test_zero_keeps_the_default_policy(self):
        self.assertEqual(set(self.policies(ENTITLEMENTD_SCHED_BATCH=0)), {0})


class Compose(unittest.TestCase):
    def test_long_running_services_restart_and_one_shots_do_not(self):
        with open(COMPOSE, encoding="utf-8") as f:
            doc = yaml.safe_load(f)
        services = doc["services"]
        for name in ("db", "entitlementd", "haproxy"):
            self.assertEqual(services[name]["restart"], "unless-stopped", name)
        # The migration and the first administrator run once; a failure is
        # shown, not retried for ever (test_deploy.py checks the rest).
        for name in ("migrate", "admin"):
            self.assertEqual(services[name]["restart"], "no", name)
        self.assertEqual(services["entitlementd"]["stop_signal"], "SIGTERM")

if __name__ == "__main__":
    unittest.main()
