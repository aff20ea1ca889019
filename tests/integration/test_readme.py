"""README's first examples, as a newcomer runs them after scripts/run: the
demo catalog scripts/run loads (scripts/lib.sh ent_demo_catalog), then each
curl of "Calling it" in order, its SOAP body taken from README.md as it is
written. Only the identifiers are made unique, so the test can run again on
the same database. Then each body of "Every operation, one example each", in
order, in the same envelope: the examples follow on from each other."""
import os
import re
import subprocess
import unittest

import requests

from harness import CTL, ROOT, DaemonTestCase, token


def readme_examples():
    """(path, body) of each curl of README's "Calling it", in order."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Calling it"):text.index("### Every operation")]
    out = []
    for m in re.finditer(r"```sh\n(.*?)```", section, re.S):
        block = m.group(1)
        url = re.search(r"http://127\.0\.0\.1:8080(/\S+)", block)
        body = re.search(r"<<'XML'\n(.*?)\nXML\n", block, re.S)
        if url and body:
            out.append((url.group(1), body.group(1)))
    return out


def readme_operations():
    """The SOAP bodies of README's "Every operation, one example each", in order."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("### Every operation"):text.index("### Older clients")]
    return [m.group(1) for m in re.finditer(r"```xml\n(.*?)```", section, re.S)]


class ReadmeTest(DaemonTestCase):
    def test_first_examples_work_on_a_fresh_start(self):
        subprocess.run(["bash", "-c", '. "$1/scripts/lib.sh" && ent_demo_catalog "$2"', "-", ROOT, CTL],
                       check=True, capture_output=True)
        examples = readme_examples()
        self.assertGreaterEqual(len(examples), 2)
        t = token(8)
        statuses = []
        for path, body in examples:
            body = body.replace("ENT-1", f"ENT-{t}").replace("ACT-1", f"ACT-{t}")
            r = self.post(path, body)
            statuses.append(re.search(r"<fnp:status>(\w+)</fnp:status>", r.text).group(1))
            self.assertNotIn("failedData", r.text)
        self.assertEqual(statuses, ["SUCCESS"] * len(examples))
        # The entitlement's uniqueId, which README calls HID-9.
        uid = re.search(r"<fnp:parentEntitlementIdentifier><fnp:uniqueId>([^<]+)</fnp:uniqueId>", r.text).group(1)
        operations = readme_operations()
        self.assertGreaterEqual(len(operations), 7)
        envelope = examples[0][1]
        head, tail = envelope[:envelope.index("<soapenv:Body>") + 14], envelope[envelope.index("</soapenv:Body>"):]
        for body in operations:
            body = body.replace("ENT-1", f"ENT-{t}").replace("ACT-1", f"ACT-{t}").replace("HID-9", uid)
            r = self.post(examples[0][0], head + body + tail)
            self.assertRegex(r.text, r"<fnp:status>SUCCESS</fnp:status>", body)

    def post(self, path, body):
        r = requests.post(f"http://127.0.0.1:{self.daemon.port}{path}", data=body.encode(),
                          auth=(self.user.name, self.user.password),
                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}, timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        return r


if __name__ == "__main__":
    unittest.main()
