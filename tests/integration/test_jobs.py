"""The job queue with real daemons sharing one PostgreSQL: two daemons work
off 1,000 status logs, each exactly once; a job whose daemon was killed
(kill -9) in the middle of it is taken again when its lease runs out, and
done once."""
import os
import re
import signal
import subprocess
import threading
import time
import unittest

from harness import Daemon, psql, token
from rest import STATUSLOG, Publisher, RestClient, admin_user, poll_until_done, status_body


def jobs_done(daemon):
    c = RestClient(daemon)
    text = c.get("/metrics").body.decode()
    c.close()
    done = re.search(r'entitlementd_jobs_total\{kind="statusLog",outcome="done"\} (\d+)', text)
    retry = re.search(r'entitlementd_jobs_total\{kind="statusLog",outcome="(retry|failed)"\} (\d+)', text)
    return int(done.group(1)) if done else 0, int(retry.group(2)) if retry else 0


class TwoDaemonsTest(unittest.TestCase):
    def test_two_daemons_share_the_queue_and_do_each_job_once(self):
        # Status logs are posted to a daemon that runs no jobs; two others,
        # woken by its NOTIFYs, share the work.
        front = Daemon(ENTITLEMENTD_JOB_WORKERS="0").start()
        a = Daemon(ENTITLEMENTD_JOB_WORKERS="2").start()
        b = Daemon(ENTITLEMENTD_JOB_WORKERS="2").start()
        try:
            pub = Publisher(front, admin_user())
            ids = []
            lock = threading.Lock()

            def post(n):
                c = RestClient(front)
                for _ in range(n):
                    r = c.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth()}, auth=False,
                               check=False)
                    assert r.status == 202, r
                    with lock:
                        ids.append(r.json["url"].rsplit("/", 1)[1])
                c.close()

            threads = [threading.Thread(target=post, args=(250,)) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(len(ids), 1000)
            deadline = time.time() + 60
            while time.time() < deadline:
                left = psql("SELECT count(*) FROM status_logs WHERE publisher = :'v1' AND NOT done", pub.name)
                if left == [["0"]]:
                    break
                time.sleep(0.2)
            self.assertEqual(left, [["0"]])
            done_a, retry_a = jobs_done(a)
            done_b, retry_b = jobs_done(b)
            done_f, _ = jobs_done(front)
            self.assertEqual(done_a + done_b, 1000, (done_a, done_b))
            self.assertEqual(done_f, 0)
            self.assertGreater(done_a, 0)
            self.assertGreater(done_b, 0)
            self.assertEqual(retry_a + retry_b, 0)
            # Each status log recorded once, its job gone.
            self.assertEqual(psql("SELECT count(*), count(DISTINCT h.status_log) FROM update_history h "
                                  "JOIN status_logs s ON s.id = h.status_log WHERE s.publisher = :'v1'", pub.name),
                             [["1000", "1000"]])
            self.assertEqual(psql("SELECT count(*) FROM jobs j JOIN status_logs s "
                                  "ON s.id = j.ref AND j.kind = 'statusLog' "
                                  "WHERE s.publisher = :'v1'", pub.name), [["0"]])
            c = RestClient(front)
            for i in ids[:20]:
                r = c.get(f"{STATUSLOG}/{i}", headers={"Authorization": pub.auth()}, auth=False)
                self.assertEqual(r.status, 200, r)
            c.close()
        finally:
            self.assertEqual(a.stop(), 0)
            self.assertEqual(b.stop(), 0)
            self.assertEqual(front.stop(), 0)


class LeaseTest(unittest.TestCase):
    def test_a_job_of_a_killed_daemon_is_taken_again_after_its_lease(self):
        front = Daemon(ENTITLEMENTD_JOB_WORKERS="0").start()
        holder = None
        victim = None
        try:
            pub = Publisher(front, admin_user())
            c = RestClient(front)
            r = c.post(STATUSLOG, status_body(pub.name), headers={"Authorization": pub.auth()}, auth=False)
            pid = r.json["url"].rsplit("/", 1)[1]
            # Hold the status log's row: the job's work will wait on it.
            holder = subprocess.Popen(["psql", os.environ["DATABASE_URL"], "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            holder.stdin.write(f"BEGIN;\nSELECT 1 FROM status_logs WHERE polling_id = '{pid}' FOR UPDATE;\n"
                               "\\echo locked\n")
            holder.stdin.flush()
            while "locked" not in holder.stdout.readline():
                pass
            victim = Daemon(ENTITLEMENTD_JOB_WORKERS="1", ENTITLEMENTD_JOB_LEASE="2").start()
            # Wait until its worker holds the job and waits for the row.
            deadline = time.time() + 20
            while time.time() < deadline:
                claimed = psql("SELECT j.state, j.locked_by IS NOT NULL FROM jobs j JOIN status_logs s "
                               "ON s.id = j.ref AND j.kind = 'statusLog' WHERE s.polling_id = :'v1'", pid)
                waiting = psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE '%status_logs%FOR UPDATE%'")
                if claimed == [["running", "t"]] and waiting != [["0"]]:
                    break
                time.sleep(0.1)
            self.assertEqual(claimed, [["running", "t"]])
            victim.proc.send_signal(signal.SIGKILL)
            victim.proc.wait()
            victim.proc = None
            holder.stdin.write("ROLLBACK;\n")
            holder.stdin.close()
            holder.wait()
            holder = None
            # Another daemon takes the job once the lease has run out.
            heir = Daemon(ENTITLEMENTD_JOB_WORKERS="1", ENTITLEMENTD_JOB_LEASE="2",
                          ENTITLEMENTD_JOB_POLL_MS="200").start()
            try:
                done = poll_until_done(c, f"{STATUSLOG}/{pid}", pub.auth(), timeout=30)
                self.assertEqual(done.status, 200, done)
                self.assertEqual(done.json["key"], "statusLog.recorded")
            finally:
                self.assertEqual(heir.stop(), 0)
            self.assertEqual(psql("SELECT count(*) FROM update_history h JOIN status_logs s ON s.id = h.status_log "
                                  "WHERE s.polling_id = :'v1'", pid), [["1"]])
            self.assertEqual(psql("SELECT count(*) FROM jobs j JOIN status_logs s "
                                  "ON s.id = j.ref AND j.kind = 'statusLog' "
                                  "WHERE s.polling_id = :'v1'", pid), [["0"]])
            c.close()
        finally:
            if holder is not None:
                holder.kill()
            if victim is not None and victim.proc is not None:  # the test failed before it was killed
                victim.proc.kill()
                victim.proc.wait()
            self.assertEqual(front.stop(), 0)


if __name__ == "__main__":
    unittest.main()
