"""The deployment files of docker/ and what they rely on, without a
container engine: the daemon reading DATABASE_URL from a secret file;
docker/compose.yaml parsed and checked against the settings table (its
services, health checks, start order, secrets and environment);
docker/haproxy.cfg checked, and run with the real HAProxy in front of two
real daemons where haproxy is installed; docker/Dockerfile's stages, user,
port, health check and runtime packages. Where a container engine answers,
the image is built and the compose stack run."""
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import types
import unittest

import yaml

from harness import DAEMON, ROOT, Client, Daemon, User, free_port, make_user, token
from builders import search_body

DOCKER = os.path.join(ROOT, "docker")
COMPOSE = os.path.join(DOCKER, "compose.yaml")
HAPROXY_CFG = os.path.join(DOCKER, "haproxy.cfg")
DOCKERFILE = os.path.join(DOCKER, "Dockerfile")
DEPLOYMENT = os.path.join(ROOT, "docs", "DEPLOYMENT.md")

# The PostgreSQL image's default max_connections.
POSTGRES_MAX_CONNECTIONS = 100
# Connections of a daemon besides its pool and its job workers: the job
# runner's purge and /metrics connections and its LISTEN connection.
DAEMON_EXTRA_CONNECTIONS = 3


def settings():
    """Every variable of the settings table, from the daemon itself."""
    out = subprocess.run([DAEMON, "--config-markdown"], capture_output=True, text=True, check=True).stdout
    names = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", out, re.M))
    assert "DATABASE_URL" in names and "ENTITLEMENTD_PORT" in names, out[:500]
    return names


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def compose():
    return yaml.safe_load(read(COMPOSE))


def dockerfile_stages():
    """[(FROM line, [(INSTRUCTION, arguments)])] of the Dockerfile, continued
    lines joined and comments left out."""
    stages, logical, pending = [], [], ""
    for line in read(DOCKERFILE).splitlines():
        if line.lstrip().startswith("#") and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    for line in logical:
        if not line.strip():
            continue
        instr, _, args = line.strip().partition(" ")
        if instr.upper() == "FROM":
            stages.append((args.strip(), []))
        else:
            stages[-1][1].append((instr.upper(), " ".join(args.split())))
    return stages


def haproxy_sections():
    """{(kind, name): [directive lines]} of haproxy.cfg, comments left out."""
    sections, current = {}, None
    for line in read(HAPROXY_CFG).splitlines():
        line = line.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not line[0].isspace():
            kind, _, name = line.partition(" ")
            current = (kind, name.strip())
            sections[current] = []
        else:
            sections[current].append(" ".join(line.split()))
    return sections


def image_port():
    """ENTITLEMENTD_PORT as the image sets it."""
    final = dockerfile_stages()[-1][1]
    env = " ".join(a for i, a in final if i == "ENV")
    return int(re.search(r"\bENTITLEMENTD_PORT=(\d+)", env).group(1))


def run_daemon(**env):
    full = dict(os.environ, ENTITLEMENTD_PORT="0")
    for k, v in env.items():
        if v is None:
            full.pop(k, None)
        else:
            full[k] = v
    return subprocess.run([DAEMON], env=full, capture_output=True, text=True, timeout=60)


class SecretFiles(unittest.TestCase):
    """DATABASE_URL_FILE, as compose and Kubernetes secrets set it."""

    def test_the_daemon_reads_database_url_from_a_file(self):
        with tempfile.NamedTemporaryFile("w", suffix=".url") as f:
            f.write(os.environ["DATABASE_URL"] + "\n")
            f.flush()
            d = Daemon(DATABASE_URL_FILE=f.name)
            del d.env["DATABASE_URL"]
            d.start()
            try:
                user = make_user()
                c = Client(d, user)
                self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
                c.close()
                conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                conn.request("GET", "/readyz")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
            finally:
                self.assertEqual(d.stop(), 0)
            self.assertNotIn(os.environ["DATABASE_URL"], d.read_log())

    def test_both_set_is_a_bad_setting_naming_both(self):
        with tempfile.NamedTemporaryFile("w") as f:
            f.write("postgresql://127.0.0.1:1/none")
            f.flush()
            r = run_daemon(DATABASE_URL="postgresql://127.0.0.1:1/other", DATABASE_URL_FILE=f.name)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("DATABASE_URL and DATABASE_URL_FILE are both set", r.stderr)

    def test_an_unreadable_file_is_a_bad_setting_naming_it(self):
        missing = os.path.join(tempfile.gettempdir(), "entitlementd-no-such-secret-" + token(8))
        r = run_daemon(DATABASE_URL=None, DATABASE_URL_FILE=missing)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"DATABASE_URL_FILE: cannot read '{missing}'", r.stderr)


class ComposeFile(unittest.TestCase):
    """docker/compose.yaml against the settings table and the other files."""

    @classmethod
    def setUpClass(cls):
        cls.doc = compose()
        cls.services = cls.doc["services"]

    def test_services(self):
        self.assertEqual(set(self.services), {"db", "migrate", "admin", "entitlementd", "haproxy"})
        self.assertTrue(self.services["db"]["image"].startswith("postgres:15"))
        self.assertTrue(self.services["haproxy"]["image"].startswith("haproxy:"))
        for name in ("migrate", "admin", "entitlementd"):
            svc = self.services[name]
            self.assertEqual(svc["image"], "entitlementd:local", name)
            build = svc["build"]
            self.assertTrue(os.path.isfile(os.path.join(DOCKER, build["context"], build["dockerfile"])), name)
            self.assertTrue(os.path.samefile(os.path.join(DOCKER, build["context"]), ROOT), name)

    def test_postgres_has_a_named_volume_and_a_health_check(self):
        db = self.services["db"]
        volume = db["volumes"][0].split(":")[0]
        self.assertIn(volume, self.doc["volumes"])
        self.assertIn("pg_isready", db["healthcheck"]["test"])
        self.assertEqual(db["environment"]["POSTGRES_PASSWORD_FILE"], "/run/secrets/postgres_password")

    def test_start_order(self):
        def needs(name):
            return {k: v["condition"] for k, v in self.services[name]["depends_on"].items()}

        self.assertEqual(needs("migrate"), {"db": "service_healthy"})
        self.assertEqual(needs("admin"), {"migrate": "service_completed_successfully"})
        self.assertEqual(needs("entitlementd"), {"db": "service_healthy", "migrate": "service_completed_successfully"})
        self.assertEqual(needs("haproxy"), {"entitlementd": "service_started"})

    def test_one_shots(self):
        migrate, admin = self.services["migrate"], self.services["admin"]
        self.assertEqual(migrate["entrypoint"], ["/usr/local/bin/entitlementctl", "migrate"])
        self.assertEqual(admin["entrypoint"][:2], ["/usr/local/bin/entitlementctl", "user"])
        self.assertIn("--if-missing", admin["entrypoint"])  # a second `up` must not fail
        for svc in (migrate, admin):
            self.assertEqual(svc["restart"], "no")  # a string: YAML's bare no is false
            self.assertEqual(svc["healthcheck"], {"disable": True})
        pw = admin["entrypoint"][admin["entrypoint"].index("--password-file") + 1]
        self.assertEqual(pw, "/run/secrets/admin_password")
        self.assertIn("admin_password", admin["secrets"])

    def test_two_replicas_without_published_ports(self):
        d = self.services["entitlementd"]
        self.assertEqual(d["deploy"]["replicas"], 2)
        published = [name for name, svc in self.services.items() if svc.get("ports")]
        self.assertEqual(published, ["haproxy"])
        self.assertEqual(len(self.services["haproxy"]["ports"]), 1)  # the one public port
        self.assertEqual(d["stop_signal"], "SIGTERM")
        self.assertRegex(d["stop_grace_period"], r"^\d+s$")
        self.assertIs(d["read_only"], True)  # the daemon writes no file
        self.assertEqual(d["cap_drop"], ["ALL"])
        # Every client comes from HAProxy's address.
        self.assertEqual(d["environment"]["ENTITLEMENTD_MAX_CONNECTIONS_PER_CLIENT"], "0")

    def test_secrets_are_files_mounted_where_the_file_variables_point(self):
        declared = self.doc["secrets"]
        for name, svc in self.services.items():
            env = svc.get("environment") or {}
            self.assertNotIn("DATABASE_URL", env, f"{name}: the URL holds a password: DATABASE_URL_FILE")
            for key, value in env.items():
                if not key.endswith("_FILE"):
                    continue
                m = re.fullmatch(r"/run/secrets/(\w+)", value)
                self.assertIsNotNone(m, f"{name}: {key}={value}")
                self.assertIn(m.group(1), svc["secrets"], name)
        for name, spec in declared.items():
            self.assertEqual(os.path.basename(spec["file"]), name)

    def test_every_variable_named_is_a_setting(self):
        known = settings()
        for path in (COMPOSE, DOCKERFILE, HAPROXY_CFG, DEPLOYMENT):
            named = set(re.findall(r"\b(ENTITLEMENTD_[A-Z0-9_]+|DATABASE_URL\w*)", read(path)))
            self.assertEqual(named - known, set(), os.path.relpath(path, ROOT))
        env = self.services["entitlementd"]["environment"]
        self.assertTrue(set(env) <= known, set(env) - known)

    def test_connections_fit_postgres(self):
        """Replicas x (pool + job and webhook workers + 3), and the two one-shots, within
        PostgreSQL's max_connections (docs/DEPLOYMENT.md, "Connections")."""
        d = self.services["entitlementd"]
        per = int(d["environment"]["ENTITLEMENTD_DB_POOL_SIZE"]) + \
            int(d["environment"]["ENTITLEMENTD_JOB_WORKERS"]) + \
            int(d["environment"]["ENTITLEMENTD_WEBHOOK_WORKERS"]) + DAEMON_EXTRA_CONNECTIONS
        self.assertLessEqual(d["deploy"]["replicas"] * per + 2, POSTGRES_MAX_CONNECTIONS)


class HaproxyConfig(unittest.TestCase):
    """docker/haproxy.cfg: health-checked backends on /readyz, the one port."""

    def test_backends_check_readyz(self):
        sections = haproxy_sections()
        backends = {k: v for k, v in sections.items() if k[0] == "backend"}
        self.assertTrue(backends)
        for key, lines in backends.items():
            self.assertIn("option httpchk GET /readyz", lines, key)
            self.assertIn("http-check expect status 200", lines, key)
            servers = [l for l in lines if l.startswith(("server ", "server-template "))]
            self.assertTrue(servers, key)
            for s in servers:
                self.assertIn(" check", s, s)
                # The daemon's port in the image, under its compose service name.
                self.assertIn(f" entitlementd:{image_port()} ", s, s)

    def test_the_one_port_is_the_published_one(self):
        binds = [l for k, v in haproxy_sections().items() if k[0] == "frontend" for l in v if l.startswith("bind ")]
        self.assertEqual(len(binds), 1, binds)
        published = compose()["services"]["haproxy"]["ports"][0]
        self.assertEqual(binds[0].split(":")[-1], published.split(":")[-1])

    @unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/lib.sh installs it)")
    def test_haproxy_accepts_it(self):
        r = subprocess.run(["haproxy", "-c", "-f", HAPROXY_CFG], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("[WARNING]", r.stdout + r.stderr)


def _healthz_count(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r'entitlementd_http_requests_total\{route="/healthz",method="GET",status="200"\} (\d+)', text)
    return int(m.group(1)) if m else 0


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed (scripts/lib.sh installs it)")
class HaproxyInFront(unittest.TestCase):
    """haproxy.cfg run by HAProxy in front of two daemons on one database,
    its server-template (Docker's DNS) replaced by the two addresses."""

    def test_requests_spread_and_survive_a_daemon_stopping(self):
        daemons = [Daemon().start(), Daemon().start()]
        port = free_port()
        text = read(HAPROXY_CFG)
        text = re.sub(r"(?m)^(\s*)server-template .*$",
                      lambda m: "\n".join(f"{m.group(1)}server d{i} 127.0.0.1:{d.port} check"
                                          for i, d in enumerate(daemons)), text)
        text = re.sub(r"(?m)^(\s*)bind :\d+$", lambda m: f"{m.group(1)}bind 127.0.0.1:{port}", text)
        self.assertIn(f"127.0.0.1:{daemons[1].port} check", text)
        proxy = None
        with tempfile.NamedTemporaryFile("w", suffix=".cfg") as cfg, tempfile.TemporaryFile("w+") as log:
            cfg.write(text)
            cfg.flush()
            try:
                proxy = subprocess.Popen(["haproxy", "-db", "-f", cfg.name], stdout=log, stderr=subprocess.STDOUT)
                self._wait_ready(port, proxy, log)
                before = [_healthz_count(d.port) for d in daemons]
                self.assertEqual(self._get_many(port, 20), [200] * 20)
                after = [_healthz_count(d.port) for d in daemons]
                served = [a - b for a, b in zip(after, before)]
                self.assertEqual(sum(served), 20)
                self.assertTrue(all(n > 0 for n in served), served)  # both replicas took requests
                # One daemon stops; HAProxy's check has not noticed yet, but a
                # connection refused is tried again on the other.
                self.assertEqual(daemons[0].stop(), 0)
                self.assertEqual(self._get_many(port, 20), [200] * 20)
                user = make_user()
                c = Client(types.SimpleNamespace(port=port), user)
                self.assertEqual(c.call(search_body()).status_text, "SUCCESS")
                c.close()
            finally:
                if proxy is not None:
                    proxy.send_signal(signal.SIGTERM)
                    proxy.wait(timeout=30)
                for d in daemons:
                    d.stop()

    def _wait_ready(self, port, proxy, log):
        deadline = time.time() + 30
        while time.time() < deadline:
            if proxy.poll() is not None:
                log.seek(0)
                self.fail("haproxy exited: " + log.read())
            try:
                if self._get_many(port, 1, "/readyz") == [200]:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.fail("haproxy did not answer 200 on /readyz within 30 s")

    @staticmethod
    def _get_many(port, n, path="/healthz"):
        """n GETs, each on a connection of its own (as separate clients)."""
        out = []
        for _ in range(n):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            out.append(r.status)
            c.close()
        return out


class Image(unittest.TestCase):
    """docker/Dockerfile: two stages on bookworm-slim, the runtime one
    hardened: non-root, one port, a health check without a shell."""

    @classmethod
    def setUpClass(cls):
        cls.stages = dockerfile_stages()
        cls.final = cls.stages[-1][1]

    def instr(self, name):
        return [a for i, a in self.final if i == name]

    def test_two_stages_on_bookworm_slim(self):
        self.assertEqual(len(self.stages), 2)
        self.assertEqual(self.stages[0][0], "debian:bookworm-slim AS build")
        self.assertEqual(self.stages[1][0], "debian:bookworm-slim")
        copies = self.instr("COPY")
        self.assertEqual(copies, ["--from=build /build/bin/entitlementd /build/bin/entitlementctl /usr/local/bin/"])

    def test_user_port_health_check_entry_point(self):
        user = self.instr("USER")
        self.assertEqual(len(user), 1)
        uid = user[0].split(":")[0]
        self.assertTrue(uid.isdigit() and int(uid) > 0, user)  # numeric: runAsNonRoot can check it
        self.assertEqual(self.instr("EXPOSE"), [str(image_port())])
        self.assertIn("ENTITLEMENTD_BIND=0.0.0.0", " ".join(self.instr("ENV")))
        health = self.instr("HEALTHCHECK")
        self.assertEqual(len(health), 1)
        self.assertTrue(health[0].endswith('CMD ["/usr/local/bin/entitlementctl", "health"]'), health)  # no shell
        self.assertEqual(self.instr("ENTRYPOINT"), ['["/usr/local/bin/entitlementd"]'])
        self.assertEqual(self.instr("CMD"), [])

    def runtime_packages(self):
        run = " ".join(self.instr("RUN"))
        m = re.search(r"apt-get install -y --no-install-recommends (.*?) &&", run)
        return set(m.group(1).split())

    def test_runtime_has_no_dev_packages_and_every_library_linked(self):
        packages = self.runtime_packages()
        self.assertEqual({p for p in packages if p.endswith("-dev")}, set())
        if not (shutil.which("readelf") and shutil.which("dpkg")):
            self.skipTest("readelf or dpkg missing: not a Debian build machine")
        ctl = os.environ.get("ENTITLEMENTCTL_BIN", os.path.join(os.path.dirname(DAEMON), "entitlementctl"))
        needed = set()
        for binary in (DAEMON, ctl):
            out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
            needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
        # A sanitised build (ENT_SANITIZE=1) links the sanitizers' runtimes;
        # the image is built without them.
        needed = {lib for lib in needed if not re.match(r"lib(a|ub|l|t)san\.", lib)}
        for lib in sorted(needed):
            r = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
            owners = {line.split(":")[0] for line in r.stdout.splitlines()}
            if not owners:
                self.skipTest(f"{lib} belongs to no Debian package here")
            # libc6 is in every Debian image.
            self.assertTrue(owners & (packages | {"libc6"}), f"{lib} ({owners}) missing from the runtime stage")


def engine_missing():
    """Why the image and the stack cannot be run here, or None."""
    docker = shutil.which("docker")
    if docker is None:
        return "no container engine: docker is not on PATH"
    if subprocess.run([docker, "info"], capture_output=True, timeout=60).returncode != 0:
        return "no container engine: docker is on PATH but no engine answers (docker info failed)"
    if subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode != 0:
        return "docker compose (v2) is not installed"
    return None


class Stack(unittest.TestCase):
    """docker compose up: the image built, two daemons behind HAProxy."""

    def setUp(self):
        why = engine_missing()
        if why is not None:
            self.skipTest(why)

    def test_the_stack_serves_through_haproxy(self):
        project = "entitlementd-test-" + token(6)
        port = free_port()
        admin_password = "a" + token(16)
        base = ["docker", "compose", "-p", project, "-f", COMPOSE]
        with tempfile.TemporaryDirectory() as secrets:
            pg_password = token(16)
            files = {"postgres_password": pg_password,
                     "database_url": f"postgresql://entitlementd:{pg_password}@db/entitlementd",
                     "admin_password": admin_password}
            for name, value in files.items():
                path = os.path.join(secrets, name)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(value + "\n")
                os.chmod(path, 0o644)  # the image's user, uid 10001, reads them
            os.chmod(secrets, 0o755)
            env = dict(os.environ, SECRETS_DIR=secrets, HTTP_PORT=str(port))
            try:
                r = subprocess.run(base + ["up", "-d", "--build"], env=env, capture_output=True, text=True,
                                   timeout=3600)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                user = User("admin", admin_password)
                deadline, last = time.time() + 300, None
                while time.time() < deadline:
                    try:
                        c = Client(types.SimpleNamespace(port=port), user)
                        last = c.call(search_body())
                        c.close()
                        if last.status_text == "SUCCESS":
                            break
                    except (OSError, http.client.HTTPException) as e:
                        last = e
                    time.sleep(2)
                self.assertEqual(getattr(last, "status_text", last), "SUCCESS")
                ids = subprocess.run(base + ["ps", "-q", "entitlementd"], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
                self.assertEqual(len(ids), 2)
            finally:
                subprocess.run(base + ["down", "-v", "--remove-orphans"], env=env, capture_output=True, timeout=600)


if __name__ == "__main__":
    unittest.main()
