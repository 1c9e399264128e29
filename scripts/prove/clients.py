"""The HTTP clients of a run: the API (with a real client's retries), the PhonePe simulator,
and the dev server's token minting."""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request


class Api:
    """HTTP with the retries a real client would make while servers are being restarted.

    `bases` are the API instances (one load balancer's worth); a client sticks to its `home`
    instance and moves to the next one when the one it talks to is gone."""

    def __init__(self, bases, stats, patience, home=0):
        self.bases = bases
        self.stats = stats
        self.patience = patience
        self.home = home % len(bases)

    def call(self, method, path, token=None, body=None, headers=None, retry=True, via=None):
        data = json.dumps(body).encode() if body is not None else None
        deadline = time.time() + self.patience
        idx = self.home if via is None else via % len(self.bases)
        while True:
            req = urllib.request.Request(self.bases[idx] + path, method=method, data=data)
            req.add_header("content-type", "application/json")
            if token:
                req.add_header("authorization", "Bearer " + token)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
            self.stats.add(f"requests_via_{idx}")
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    raw = r.read()
                    return r.status, (json.loads(raw) if raw else None), dict(r.headers)
            except urllib.error.HTTPError as e:
                raw = e.read()
                try:
                    doc = json.loads(raw) if raw else None
                except ValueError:
                    doc = {"raw": raw[:200].decode(errors="replace")}
                code = (doc or {}).get("code") if isinstance(doc, dict) else None
                if e.code >= 500:
                    self.stats.add(f"5xx_{e.code}_{code}")
                if e.code == 503 and code == "TRY_AGAIN":
                    # A record still locked by a transaction a killed server left open, or the
                    # database restarting: the answer says nothing changed and to send the
                    # request again.
                    self.stats.add("try_again_503")
                    if retry and time.time() < deadline:
                        time.sleep(min(float(e.headers.get("Retry-After") or 1), 5))
                        continue
                elif e.code == 502 and code == "PAYMENT_PROVIDER_ERROR" and path == "/payments/phonepe/initiate":
                    # The contract's answer when PhonePe does not answer in time: the order
                    # stays payable, and reconciliation learns what PhonePe did.
                    self.stats.add("provider_timeout_502")
                elif e.code >= 500:
                    self.stats.error(f"{method} {path} via instance {idx} -> {e.code} {doc}")
                return e.code, doc, dict(e.headers)
            except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
                # The server is down (killed) or died mid-request: whether the request took
                # effect is unknown, exactly as for a real client on a flaky network. The
                # retry goes to the next instance, as a load balancer would send it.
                self.stats.add("connection_errors")
                if not retry or time.time() > deadline:
                    return None, {"error": str(e)}, {}
                idx = (idx + 1) % len(self.bases)
                time.sleep(0.3)


class Sim:
    def __init__(self, base):
        self.base = base
        self.token = None

    def post(self, path, body=None):
        req = urllib.request.Request(self.base + path, method="POST",
                                     data=json.dumps(body or {}).encode(),
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, e.read()[:200]

    def get(self, path):
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, None

    def refund_status(self, merchant_refund_id):
        """PhonePe's refund-status API, as the app calls it (OAuth token and all): (state or
        None when PhonePe has no refund by this id, the whole answer)."""
        if self.token is None:
            form = urllib.parse.urlencode({
                "client_id": os.environ.get("SIM_CLIENT_ID") or os.environ.get("PHONEPE_CLIENT_ID", ""),
                "client_secret": os.environ.get("SIM_CLIENT_SECRET")
                or os.environ.get("PHONEPE_CLIENT_SECRET", ""),
                "client_version": os.environ.get("SIM_CLIENT_VERSION", "1"),
                "grant_type": "client_credentials"}).encode()
            req = urllib.request.Request(self.base + "/v1/oauth/token", data=form, method="POST",
                                         headers={"content-type": "application/x-www-form-urlencoded"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self.token = json.load(r)["access_token"]
        req = urllib.request.Request(self.base + f"/payments/v2/refund/{merchant_refund_id}/status",
                                     headers={"authorization": "O-Bearer " + self.token})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                doc = json.load(r)
                return doc.get("state"), doc
        except urllib.error.HTTPError as e:
            doc = json.loads(e.read() or b"{}")
            if doc.get("code") == "MERCHANT_REFUND_MAPPING_NOT_FOUND":
                return None, doc
            raise SystemExit(f"refund status of {merchant_refund_id}: {e.code} {doc}")



def mint(token_cmd, user, admin=False):
    args = token_cmd + ["--user", user, "--email", f"{user}@example.com"]
    if admin:
        args.append("--admin")
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()

