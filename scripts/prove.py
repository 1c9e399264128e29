#!/usr/bin/env python3
"""`make prove`: the invariant suite.

Many concurrent customers, spread over several API instances (each a dev server with its own
jobs loop, all on one database), drive the local stack over HTTP (carts, coupons, orders,
PhonePe initiations, payments through the simulator with duplicated, delayed and dropped
webhooks, two payment pages paid at once, payment after an owner's cancel, abandoned orders
left to expire) while the owner packs, ships, delivers, cancels (some orders right after
refunding part of their units with restocking) and refunds random parts of
shipped and delivered orders (by amount, by lines, in full, with and without restocking,
Idempotency-Keys replayed, concurrently too) and, now and then, of paid or packed orders
before they ship (whose credit notes are then issued with the invoice, in the ship). For the middle of the run the simulator is
slow on pay, status and refunds (some refunds slower than a jobs interval, some slower than
the PhonePe client's 8 s timeout), sometimes fails refunds or settles orders on pay.
Optionally API instances are SIGKILLed at random moments and restarted, and the database
itself (on disk, synced on commit) is SIGKILLed and restarted on the same port and data.
A watcher snapshots every order's refunds and status history throughout. When the traffic
stops and the stack has settled, the invariants are checked from the database, the PhonePe
simulator and the SES emulator:

  stock     initial stock = current stock + units in non-cancelled orders − units restocked
            by their refunds, never negative; stock = the sum of its stock_movements ledger
  restocks  per order and product, the units put back (ledger entries with the order's id that
            add stock: restocking refunds, cancellation, expiry) never exceed the units taken
            (its entries that remove stock), however refunds and a cancellation interleave
  coupons   usedCount = non-cancelled orders using the coupon, and never above usageLimit;
            per customer, coupon_uses count = their non-cancelled orders using it, never above
            perCustomerLimit
  states    no order paid twice, none both paid and expired, every order settled; no order's
            statusHistory ever shrank (a lost write)
  money     per order, what PhonePe collected minus what PhonePe refunded is what the order
            keeps: its total minus payment.refundedAmount if paid, nothing if cancelled, never
            negative; refundedAmount = the sum of its completed refunds = what PhonePe says it
            refunded on the order's payment; every other completed attempt refunded in full;
            one transactionId per paid order
  refunds   every refund ever seen keeps its merchantRefundId, order, amount and `replaces`
            for ever; settles (completed or failed) once and never changes after; none left
            pending; each matches PhonePe's record (state and amount), and PhonePe holds no
            refund the order does not; a failed one is replaced once (unless flagged)
  refund keys  one refund per owner Idempotency-Key; every refund the owner got 201/200 for exists
  mail      every paid order has one payment-confirmed mail; no mail sent twice; no mail lost
  orders    every order a client was told about exists (after database restarts too); one
            order per Idempotency-Key
  invoices  every order that reached shipped or delivered (statusHistory) has exactly one GST
            invoice and no other order has one; the invoice names its order, its financial
            year is that of its issue in India time, and its totals agree with the order
            (total = the order's total; taxable value, CGST, SGST, IGST = the order's locked-in
            tax; taxable + tax = total, row by row and in all; IGST only if inter-state)
  invoice numbers  per prefix and financial year the numbers are exactly 1..n: no gap (a
            number burnt by an aborted transaction or a killed process), no duplicate; the
            series counter (`counters` `invoice/PIT/2627`) is n
  credit notes  exactly one per completed refund (not an extra charge's) of an invoiced order,
            whether it completed before or after the ship; none for other refunds or orders;
            each names the order's invoice, adds up to its refund's amount (taxable + tax =
            total, row by row) and credits no more units than the invoice has; per prefix
            and financial year numbered 1..m, its counter m
  5xx       every 5xx a client saw was a 503 TRY_AGAIN, or the contract's 502
            PAYMENT_PROVIDER_ERROR from initiate (PhonePe slower than the client's timeout;
            the money invariant then checks that the attempt was reconciled, not written off)

Exit status 0 only when every invariant holds and no request got a 5xx.
Started by scripts/prove.sh, which brings the stack up on free ports.
"""

import argparse
import atexit
import calendar
import email
import email.header
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict

import pymongo
import pymongo.errors

ADDRESSES = [
    {"name": "Asha Iyer", "phone": "9876543210", "line1": "12 Temple Street", "city": "Chennai",
     "state": "Tamil Nadu", "pincode": "600004"},
    {"name": "Rohan Mehta", "phone": "9820012345", "line1": "4 Marine Drive", "line2": "Flat 9",
     "city": "Mumbai", "state": "Maharashtra", "pincode": "400020"},
    {"name": "Kavya Rao", "phone": "9845012345", "line1": "88 MG Road", "city": "Bengaluru",
     "state": "Karnataka", "pincode": "560001"},
]
COUPONS = [None, None, None, "WELCOME10", "DIWALI20", "FIRST1"]
PAID_STATES = {"paid", "packed", "shipped", "delivered"}
OPEN_STATES = {"created", "payment_pending"}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.server_errors = []

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, what):
        with self.lock:
            self.server_errors.append(what)


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


class ApiProcess:
    """One dev server (every route plus its own jobs loop), started, SIGKILLed and restarted."""

    def __init__(self, cmd, port, log, env, name):
        self.cmd, self.port, self.log, self.env, self.name = cmd, port, log, env, name
        self.proc = None
        self.lock = threading.Lock()
        self.kills = 0
        self.failed_starts = 0

    def start(self, limit=120):
        # An instance started while the database is down may exit at once: start it again,
        # as a supervisor would.
        end = time.time() + limit
        while time.time() < end:
            with self.lock:
                self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log, env=self.env)
            while time.time() < end and self.proc.poll() is None:
                with socket.socket() as s:
                    s.settimeout(0.5)
                    if s.connect_ex(("127.0.0.1", self.port)) == 0:
                        return
                time.sleep(0.1)
            self.failed_starts += 1
            time.sleep(1)
        raise SystemExit(f"{self.name} did not come up on port {self.port} in {limit}s")

    def kill(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
                self.kills += 1

    def stop(self):
        with self.lock:
            if self.proc and self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()


class DbProcess:
    """The database (SecantusDB on disk, synced on every commit), SIGKILLed and restarted on
    the same port and data directory. The first process was started by scripts/stack.sh
    (`pid`); the restarts are ours and stopped by `stop`."""

    def __init__(self, cmd, port, pid, log):
        self.cmd, self.port, self.pid, self.log = cmd, port, pid, log
        self.proc = None
        self.kills = 0
        self.downtime = 0.0

    def kill(self):
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        else:
            os.kill(self.pid, signal.SIGKILL)
            end = time.time() + 10
            while time.time() < end:
                with socket.socket() as s:
                    s.settimeout(0.2)
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        break
                time.sleep(0.05)
        self.kills += 1
        self.killed_at = time.time()

    def start(self):
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log)
        wait_port(self.port, 120)
        self.downtime += time.time() - self.killed_at

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_port(port, limit):
    end = time.time() + limit
    while time.time() < end:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing answered on port {port} after {limit}s")


def mail_event(subject):
    """The outbox event a subject line belongs to (see `subject` in common/shop/src/mail/render.rs)."""
    for needle, event in [("We have received", "order_placed"), ("is confirmed", "payment_success"),
                          ("did not go through", "payment_failed"),
                          ("has shipped", "order_shipped"), ("has been delivered", "order_delivered"),
                          ("has been cancelled", "order_cancelled"), ("Your refund", "refund_issued")]:
        if needle in subject:
            return event
    return "unknown"


def mint(token_cmd, user, admin=False):
    args = token_cmd + ["--user", user, "--email", f"{user}@example.com"]
    if admin:
        args.append("--admin")
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


class Run:
    def __init__(self, args, bases):
        self.args = args
        self.bases = bases
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.owner_api = Api(bases, self.stats, patience=90)
        self.sim = Sim(args.sim)
        # Patient enough to wait out a database restart.
        self.client = pymongo.MongoClient(args.mongo, serverSelectionTimeoutMS=120_000)
        self.db = self.client[args.db]
        self.stop = threading.Event()
        self.told = {}  # idempotency key -> set of order ids clients were given
        self.told_lock = threading.Lock()
        self.admin_token = mint(args.token_cmd, "user_prove_owner", admin=True)
        self.cancel_requests = []  # orders the owner should cancel before they are paid
        self.cancel_lock = threading.Lock()
        # The owner's refunds: Idempotency-Key -> {order, answers: [(status, code)], merchantRefundIds}
        self.refund_keys = {}
        self.refund_lock = threading.Lock()
        # What the watcher saw: merchantRefundId -> {order, amount, replaces, states}; order ->
        # longest statusHistory; and what it found wrong while watching.
        self.seen_refunds = {}
        self.seen_history = {}
        self.watch_failures = []
        self.watch_passes = 0
        self.weather_log = Counter()
        self.slow_window = None

    # --- the shoppers -------------------------------------------------------------------

    def customer(self, n):
        rng = random.Random(self.args.seed * 1000 + n)
        user = f"user_prove_{n:04d}"
        token = mint(self.args.token_cmd, user)
        # Shoppers are spread over the instances.
        api = Api(self.bases, self.stats, patience=60, home=n)
        products = self.products
        end = time.time() + self.args.duration
        for _ in range(self.args.orders):
            if self.stop.is_set() or time.time() > end:
                return
            for _ in range(rng.randint(1, 3)):
                p = rng.choice(products)
                st, body, _ = api.call("POST", "/cart/add", token,
                                       {"productId": p, "quantity": rng.randint(1, 3)})
                self.stats.add(f"cart_add_{st}")
            coupon = rng.choice(COUPONS)
            if coupon:
                st, _, _ = api.call("POST", "/checkout/apply-coupon", token, {"code": coupon})
                self.stats.add(f"apply_coupon_{st}")
            order = self.place(api, token, rng, coupon)
            if order is None:
                api.call("POST", "/cart/clear", token)
                continue
            self.pay(api, token, rng, order)
            # Shoppers browse between orders, which spreads the traffic over the run.
            time.sleep(rng.uniform(0, 2 * self.args.duration / self.args.orders))

    def place(self, api, token, rng, coupon):
        key = uuid.uuid4().hex
        body = {"shippingAddress": rng.choice(ADDRESSES)}
        if coupon:
            body["couponCode"] = coupon
        for _ in range(6):
            st, doc, hdrs = api.call("POST", "/orders/create", token, body,
                                     headers={"Idempotency-Key": key})
            self.stats.add(f"create_{st}")
            if st in (200, 201):
                with self.told_lock:
                    self.told.setdefault(key, set()).add(doc["id"])
                # A client that lost the answer would retry with the same key: so do some.
                if rng.random() < 0.1:
                    st2, doc2, _ = api.call("POST", "/orders/create", token, body,
                                            headers={"Idempotency-Key": key})
                    self.stats.add(f"create_replay_{st2}")
                    if st2 in (200, 201):
                        with self.told_lock:
                            self.told[key].add(doc2["id"])
                return doc["id"]
            code = (doc or {}).get("code")
            if st == 429 or code == "IDEMPOTENCY_KEY_IN_USE":
                time.sleep(min(float(hdrs.get("Retry-After", hdrs.get("retry-after", "1"))), 20))
                continue
            if st is None:
                continue
            self.stats.add(f"create_refused_{code}")
            return None
        return None

    def initiate(self, api, token, order):
        for _ in range(4):
            st, doc, hdrs = api.call("POST", "/payments/phonepe/initiate", token,
                                     {"orderId": order})
            self.stats.add(f"initiate_{st}")
            if st == 200:
                return doc["merchantOrderId"]
            if st == 429:
                time.sleep(min(float(hdrs.get("Retry-After", hdrs.get("retry-after", "1"))), 20))
                continue
            return None
        return None

    def pay(self, api, token, rng, order):
        style = rng.choices(
            ["pay", "pay_twice", "fail_then_pay", "abandon_link", "abandon", "owner_cancels",
             "pay_after_owner_cancel"],
            weights=[45, 8, 8, 10, 12, 8, 9])[0]
        self.stats.add(f"style_{style}")
        if style == "abandon":
            return  # never opens PhonePe: the order expires
        if style == "owner_cancels":
            with self.cancel_lock:
                self.cancel_requests.append(order)
            return
        mid = self.initiate(api, token, order)
        if not mid:
            return
        if style == "pay":
            self.complete(mid)
        elif style == "pay_twice":
            # Two payment pages open in two tabs, both paid, close together.
            mid2 = self.initiate(api, token, order)
            threads = [threading.Thread(target=self.complete, args=(m,)) for m in (mid, mid2) if m]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elif style == "fail_then_pay":
            self.sim.post(f"/simulator/orders/{mid}/fail")
            mid2 = self.initiate(api, token, order)
            if mid2:
                self.complete(mid2)
        elif style == "abandon_link":
            # The shopper closes the page; PhonePe's link lapses later. The simulator's expire
            # stands in for the minutes PhonePe would take.
            time.sleep(rng.uniform(0, 5))
            self.sim.post(f"/simulator/orders/{mid}/expire")
        elif style == "pay_after_owner_cancel":
            st, _, _ = self.owner_api.call("POST", f"/admin/orders/{order}/cancel", self.admin_token,
                                           {"reason": "prove: cancelled while the shopper pays"},
                                           via=rng.randrange(len(self.bases)))
            self.stats.add(f"admin_cancel_{st}")
            self.complete(mid)

    def complete(self, mid):
        st, _ = self.sim.post(f"/simulator/orders/{mid}/complete")
        self.stats.add(f"sim_complete_{st}")

    # --- the owner ------------------------------------------------------------------------

    def owner(self):
        rng = random.Random(self.args.seed + 7)
        api = self.owner_api
        n = len(self.bases)
        while not self.stop.is_set():
            with self.cancel_lock:
                pending, self.cancel_requests = self.cancel_requests, []
            for order in pending:
                st, _, _ = api.call("POST", f"/admin/orders/{order}/cancel", self.admin_token,
                                    {"reason": "prove: out of stock at the warehouse"},
                                    via=rng.randrange(n))
                self.stats.add(f"admin_cancel_{st}")
            try:
                docs = list(self.db.orders.find({"status": {"$in": ["paid", "packed", "shipped"]}},
                                                {"status": 1, "refunds.state": 1, "items": 1})
                            .limit(50))
            except pymongo.errors.PyMongoError:
                time.sleep(0.5)
                continue
            rng.shuffle(docs)
            for d in docs[:10]:
                oid, status = str(d["_id"]), d["status"]
                if status in ("paid", "packed") and rng.random() < 0.9 and \
                        any(r.get("state") == "pending" for r in d.get("refunds") or []):
                    # Mostly let a refund given before shipping settle first, so that the ship
                    # issues its credit note together with the invoice.
                    continue
                roll = rng.random()
                if roll < 0.05 and status in ("paid", "packed") and \
                        self.refund_then_cancel(rng, d, uuid.uuid4().hex, rng.randrange(n)):
                    continue
                if roll < 0.1 and status in ("paid", "packed"):
                    path, body = f"/admin/orders/{oid}/cancel", {"reason": "prove: customer asked"}
                elif status == "paid" and roll < 0.5:
                    path, body = f"/admin/orders/{oid}/pack", {}
                elif status in ("paid", "packed"):
                    path, body = f"/admin/orders/{oid}/ship", {
                        "carrier": rng.choice(["Delhivery", "Blue Dart", "India Post", "Local van"]),
                        "trackingNumber": f"PRV{rng.randint(10**9, 10**10)}"}
                elif rng.random() < 0.5:
                    # Shipped orders stay shipped for a while, so some refunds land on them.
                    path, body = f"/admin/orders/{oid}/deliver", {}
                else:
                    continue
                st, doc, _ = api.call("POST", path, self.admin_token, body, via=rng.randrange(n))
                self.stats.add(f"admin_{path.rsplit('/', 1)[1]}_{st}")
            time.sleep(0.5)

    def refund_body(self, rng, order):
        """A random refund of part (or all) of `order`: by amount, by lines, or what is left."""
        kind = rng.choices(["amount", "lines", "rest"], weights=[45, 40, 15])[0]
        reason = rng.choice(["prove: damaged in transit", "prove: returned", "prove: goodwill",
                             "prove: parcel lost"])
        if kind == "amount":
            top = max(100, order["total"] // rng.choice([2, 3, 5]))
            return kind, {"amount": rng.randint(100, top), "restock": False, "reason": reason}
        if kind == "lines":
            items = rng.sample(order["items"], rng.randint(1, len(order["items"])))
            lines = [{"productId": str(i["productId"]), "quantity": rng.randint(1, i["quantity"])}
                     for i in items]
            return kind, {"lines": lines, "restock": rng.random() < 0.5, "reason": reason}
        return kind, {"restock": False, "reason": reason}

    def send_refund(self, oid, key, body, via, what):
        st, doc, _ = self.owner_api.call("POST", f"/admin/orders/{oid}/refund", self.admin_token,
                                         body, headers={"Idempotency-Key": key}, via=via)
        code = (doc or {}).get("code") if isinstance(doc, dict) else None
        self.stats.add(f"refund_{what}_{st}" + (f"_{code}" if code else ""))
        with self.refund_lock:
            rec = self.refund_keys.setdefault(key, {"order": oid, "answers": [], "ids": set()})
            rec["answers"].append((what, st, code))
            if st in (200, 201) and what != "other_body":
                rec["ids"].update(r["merchantRefundId"] for r in (doc or {}).get("refunds") or [])
        return st

    def owner_refunds(self):
        """The owner gives money back on shipped and delivered orders, racing the jobs loops,
        the webhooks and each other."""
        rng = random.Random(self.args.seed + 17)
        n = len(self.bases)
        while not self.stop.wait(rng.uniform(0.3, 1.2)):
            # Mostly after the goods left; now and then before, so that a ship issues the
            # credit notes of refunds that completed before it, in its own transaction.
            before_ship = rng.random() < 0.2
            try:
                docs = list(self.db.orders.find(
                    {"status": {"$in": ["paid", "packed"] if before_ship else ["shipped", "delivered"]},
                     "payment.status": {"$in": ["paid", "partially_refunded", "refund_pending"]}},
                    {"items": 1, "total": 1}).limit(200))
            except pymongo.errors.PyMongoError:
                continue
            if before_ship and docs:
                self.stats.add("refund_before_ship_rounds")
            for order in rng.sample(docs, min(len(docs), 2)):
                if rng.random() < 0.4:
                    continue
                oid = str(order["_id"])
                kind, body = self.refund_body(rng, order)
                self.stats.add(f"refund_kind_{kind}")
                key = uuid.uuid4().hex
                style = rng.choices(["once", "replay", "concurrent_replay", "race", "other_body"],
                                    weights=[50, 15, 15, 12, 8])[0]
                self.stats.add(f"refund_style_{style}")
                via = rng.randrange(n)
                if style in ("concurrent_replay", "race"):
                    # The same request twice at once on two instances, or two different
                    # refunds of the same order at once.
                    key2, body2 = (key, body) if style == "concurrent_replay" else \
                        (uuid.uuid4().hex, self.refund_body(rng, order)[1])
                    ts = [threading.Thread(target=self.send_refund, args=a) for a in
                          ((oid, key, body, via, "first"), (oid, key2, body2, via + 1, "second"))]
                    for t in ts:
                        t.start()
                    for t in ts:
                        t.join()
                    continue
                st = self.send_refund(oid, key, body, via, "first")
                if st not in (200, 201):
                    continue
                if style == "replay":
                    # The owner's browser lost the answer and sends it again.
                    self.send_refund(oid, key, body, via + 1, "replay")
                elif style == "other_body":
                    other = dict(body, reason=body["reason"] + " (edited)")
                    self.send_refund(oid, key, other, via + 2, "other_body")

    def refund_then_cancel(self, rng, order, key, via):
        """Part of the order's units refunded with restocking, then the order cancelled: the
        cancellation must give back only the units still out (the restocks invariant). False,
        with nothing cancelled, when the refund was refused (nothing paid, already refunded)."""
        oid = str(order["_id"])
        lines = [{"productId": str(i["productId"]), "quantity": rng.randint(1, i["quantity"])}
                 for i in rng.sample(order["items"], rng.randint(1, len(order["items"])))]
        body = {"lines": lines, "restock": True, "reason": "prove: returned before shipping"}
        if self.send_refund(oid, key, body, via, "first") != 201:
            return False
        st, _, _ = self.owner_api.call("POST", f"/admin/orders/{oid}/cancel", self.admin_token,
                                       {"reason": "prove: refunded in part, then cancelled"},
                                       via=via + 1)
        self.stats.add(f"refund_restock_then_cancel_{st}")
        return True

    # --- the weather ----------------------------------------------------------------------

    def chaos(self, servers):
        rng = random.Random(self.args.seed + 11)
        started = time.time()
        lo, hi = self.args.slow_window
        slow_from, slow_to = started + lo * self.args.duration, started + hi * self.args.duration
        slow_keys = {"slowRefundMs": 0, "slowStatusMs": 0, "slowPayMs": 0, "failRefunds": False,
                     "settleOnPay": None}
        while not self.stop.is_set():
            cfg = {"duplicateWebhooks": rng.choice([0, 0, 1, 3]),
                   "webhookDelayMs": rng.choice([0, 0, 300, 2000]),
                   "dropWebhooks": rng.random() < 0.2,
                   # PhonePe's webhooks reach whichever instance the load balancer picks.
                   "webhookUrl": rng.choice(servers).url + "/payments/phonepe/webhook"}
            now = time.time()
            if self.args.slow and slow_from <= now < slow_to:
                if self.slow_window is None:
                    self.slow_window = [now - started, now - started]
                self.slow_window[1] = now - started
                # Refunds slower than a jobs interval, and some slower than the PhonePe
                # client's 8 s timeout: sent, timed out, and registered at PhonePe afterwards.
                cfg.update({"slowRefundMs": rng.choice(self.args.slow_refund_ms),
                            "slowStatusMs": rng.choice(self.args.slow_status_ms),
                            "slowPayMs": rng.choice(self.args.slow_pay_ms),
                            "failRefunds": rng.random() < 0.1,
                            "settleOnPay": "COMPLETED" if rng.random() < 0.1 else None})
                for k in ("slowRefundMs", "slowStatusMs", "slowPayMs"):
                    if cfg[k]:
                        self.weather_log[f"{k}={cfg[k]}"] += 1
                for k in ("failRefunds", "settleOnPay"):
                    if cfg[k]:
                        self.weather_log[k] += 1
            else:
                cfg.update(slow_keys)
            self.sim.post("/simulator/config", cfg)
            self.stats.add("chaos_switches")
            self.stop.wait(rng.uniform(1, 3))

    def killer(self, servers):
        rng = random.Random(self.args.seed + 13)
        while not self.stop.wait(rng.uniform(*self.args.kill_every)):
            server = rng.choice(servers)
            server.kill()
            time.sleep(rng.uniform(0.1, 1.5))
            server.start()

    def db_killer(self, db):
        rng = random.Random(self.args.seed + 19)
        while not self.stop.wait(rng.uniform(*self.args.db_kill_every)):
            db.kill()
            print(f"  database SIGKILLed ({db.kills})", flush=True)
            time.sleep(rng.uniform(0.2, 2.0))
            db.start()

    def watch_once(self):
        """Snapshots every order's refunds and status history; what changed since the last
        snapshot must only be what may change."""
        t = time.time()
        for o in self.db.orders.find({}, {"refunds": 1, "statusHistory.status": 1}):
            oid = str(o["_id"])
            hist = len(o.get("statusHistory") or [])
            if hist < self.seen_history.get(oid, 0):
                self.watch_failures.append(
                    ("states", f"order {oid}: statusHistory shrank from "
                               f"{self.seen_history[oid]} to {hist} entries (a lost write)"))
            self.seen_history[oid] = max(hist, self.seen_history.get(oid, 0))
            for r in o.get("refunds") or []:
                mrid = r["merchantRefundId"]
                rec = self.seen_refunds.get(mrid)
                if rec is None:
                    self.seen_refunds[mrid] = {"order": oid, "amount": r["amount"],
                                               "replaces": r.get("replaces"), "id": r.get("id"),
                                               "states": [r["state"]], "first_seen": t}
                    continue
                for field, now_ in (("order", oid), ("amount", r["amount"]),
                                    ("replaces", r.get("replaces")), ("id", r.get("id"))):
                    if rec[field] != now_:
                        self.watch_failures.append(
                            ("refunds", f"refund {mrid}: {field} changed from {rec[field]!r} "
                                        f"to {now_!r}"))
                        rec[field] = now_
                if r["state"] != rec["states"][-1]:
                    rec["states"].append(r["state"])
        self.watch_passes += 1

    def watcher(self):
        while not self.stop.wait(1.0):
            try:
                self.watch_once()
            except pymongo.errors.PyMongoError:
                pass

    # --- settling and checking ------------------------------------------------------------

    def settle(self):
        """Waits until the jobs have expired, reconciled, refunded and mailed everything."""
        self.sim.post("/simulator/config", {"duplicateWebhooks": 0, "webhookDelayMs": 0,
                                            "dropWebhooks": False, "slowRefundMs": 0,
                                            "slowStatusMs": 0, "slowPayMs": 0,
                                            "failRefunds": False, "settleOnPay": None})
        deadline = time.time() + self.args.settle_timeout
        lapsed = False
        while time.time() < deadline:
            open_orders = self.db.orders.count_documents({"status": {"$in": list(OPEN_STATES)}})
            refunds = self.db.orders.count_documents({"payment.status": "refund_pending"})
            extra = self.db.payment_attempts.count_documents({"state": "refund_pending"})
            mail = self.db.mail_outbox.count_documents({"status": {"$in": ["pending", "sending"]}})
            pending = self.db.orders.count_documents({"refunds.state": "pending"})
            self.watch_once()
            if not lapsed and time.time() > deadline - self.args.settle_timeout + 5:
                # Links nobody paid would stay open at PhonePe for up to an hour; let them lapse
                # now (as PhonePe would) so the orders behind them can expire.
                for a in self.db.payment_attempts.find({"state": {"$in": ["creating", "pending"]}}):
                    self.sim.post(f"/simulator/orders/{a['merchantOrderId']}/expire")
                lapsed = True
            # A payment PhonePe completed whose webhook was dropped is settled only by the
            # jobs' status checks (30 s, 60 s, 120 s apart); the money invariant must not be
            # judged before they have had their turn.
            unseen = 0
            for a in self.db.payment_attempts.find({"state": {"$in": ["creating", "pending"]}}):
                st, s = self.sim.get(f"/simulator/orders/{a['merchantOrderId']}")
                if st == 200 and s and s.get("state") == "COMPLETED":
                    unseen += 1
            if open_orders == refunds == extra == mail == unseen == pending == 0 and lapsed:
                return True
            print(f"  settling: {open_orders} open orders, {refunds + extra} refunds "
                  f"({pending} orders with a pending refund), "
                  f"{mail} mails in flight, {unseen} completed payments not yet seen", flush=True)
            time.sleep(3)
        return False

    def check(self, initial_stock, moto_url):
        """Every invariant, from the database, the simulator and moto: [(invariant, what broke)]."""
        failures = list(self.watch_failures)
        fail = lambda inv, msg: failures.append((inv, msg))  # noqa: E731
        orders = list(self.db.orders.find({}))
        by_id = {str(o["_id"]): o for o in orders}

        # stock, and its ledger
        held = defaultdict(int)
        for o in orders:
            mine = defaultdict(int)
            for it in o["items"]:
                mine[str(it["productId"])] += it["quantity"]
            # Units a refund put back on the shelf (decided once; a replacement of a failed
            # refund carries the lines again but restocks nothing), never more than it took.
            for r in o.get("refunds") or []:
                if r.get("restock") and not r.get("replaces"):
                    for line in r.get("lines") or []:
                        pid = str(line["productId"])
                        back = min(line["quantity"], mine[pid])
                        mine[pid] -= back
                        self.stats.add("units_restocked", back)
            # A cancelled order holds nothing: its cancellation gave back whatever its refunds
            # had not already put back on the shelf.
            if o["status"] != "cancelled":
                for pid, units in mine.items():
                    held[pid] += units
        ledger = defaultdict(int)
        entries = 0
        for m in self.db.stock_movements.find({}, {"productId": 1, "delta": 1}):
            ledger[str(m["productId"])] += m["delta"]
            entries += 1
        self.stats.add("ledger_entries", entries)
        for p in self.db.products.find({}):
            pid = str(p["_id"])
            if initial_stock[pid] != p["stock"] + held[pid]:
                fail("stock", f"{p['slug']} started at {initial_stock[pid]}, now {p['stock']} "
                              f"with {held[pid]} in live orders (net of restocked units)")
            if p["stock"] < 0:
                fail("stock", f"{p['slug']} is negative ({p['stock']})")
            if entries and ledger[pid] != p["stock"]:
                fail("ledger", f"{p['slug']}: stock {p['stock']} but its stock_movements sum to "
                               f"{ledger[pid]}")

        # coupons
        live_uses = Counter(o.get("couponCode") for o in orders
                            if o.get("couponCode") and o["status"] != "cancelled")
        for c in self.db.coupons.find({}):
            if c.get("usedCount", 0) != live_uses[c["code"]]:
                fail("coupons", f"{c['code']}: usedCount {c.get('usedCount')} but "
                                f"{live_uses[c['code']]} live orders use it")
            if c.get("usageLimit") is not None and c.get("usedCount", 0) > c["usageLimit"]:
                fail("coupons", f"{c['code']}: used {c['usedCount']} > limit {c['usageLimit']}")
        per_customer = Counter((o["userId"], o.get("couponCode")) for o in orders
                               if o.get("couponCode") and o["status"] != "cancelled")
        limits = {c["code"]: c.get("perCustomerLimit") for c in self.db.coupons.find({})}
        counted = {(u["userId"], u["code"]): u.get("count", 0) for u in self.db.coupon_uses.find({})}
        for key in set(per_customer) | set(counted):
            user, code = key
            if counted.get(key, 0) != per_customer[key]:
                fail("coupons", f"{code} by {user}: coupon_uses says {counted.get(key, 0)}, "
                                f"{per_customer[key]} live orders use it")
            if limits.get(code) is not None and per_customer[key] > limits[code]:
                fail("coupons", f"{code} by {user}: {per_customer[key]} live orders > "
                                f"perCustomerLimit {limits[code]}")

        # refunds as recorded, against what the watcher saw during the run
        final_refunds = {}
        for oid, o in by_id.items():
            for r in o.get("refunds") or []:
                if r["merchantRefundId"] in final_refunds:
                    fail("refunds", f"merchantRefundId {r['merchantRefundId']} is on the order "
                                    f"{oid} twice or on two orders")
                final_refunds[r["merchantRefundId"]] = (oid, r)
        for mrid, rec in self.seen_refunds.items():
            if mrid not in final_refunds:
                fail("refunds", f"refund {mrid} (order {rec['order']}, {rec['amount']} paise, seen "
                                f"{'/'.join(rec['states'])}) disappeared")
                continue
            oid, r = final_refunds[mrid]
            if oid != rec["order"] or r["amount"] != rec["amount"] or \
                    r.get("replaces") != rec["replaces"]:
                fail("refunds", f"refund {mrid} changed: was order {rec['order']} "
                                f"{rec['amount']} paise replacing {rec['replaces']}, now order {oid} "
                                f"{r['amount']} paise replacing {r.get('replaces')}")
            states = rec["states"] + ([r["state"]] if r["state"] != rec["states"][-1] else [])
            settled = [x for x in states if x != "pending"]
            if len(settled) > 1 or (settled and states[-1] == "pending") or \
                    ("pending" in states and states.index("pending") != 0):
                fail("refunds", f"refund {mrid} of order {oid} went {' -> '.join(states)}")
        for key, rec in self.refund_keys.items():
            for mrid in rec["ids"]:
                if mrid not in final_refunds:
                    fail("refund keys", f"refund {mrid}, in an answer to the owner, is lost")
        keyed = Counter(r.get("idempotencyKey") for _, r in final_refunds.values()
                        if r.get("idempotencyKey"))
        for key, rec in self.refund_keys.items():
            ok = [a for a in rec["answers"] if a[1] in (200, 201) and a[0] != "other_body"]
            if keyed[key] > 1:
                fail("refund keys", f"Idempotency-Key {key} made {keyed[key]} refunds on order "
                                    f"{rec['order']} (answers {rec['answers']})")
            if ok and keyed[key] == 0:
                fail("refund keys", f"Idempotency-Key {key}: owner told {ok} but order "
                                    f"{rec['order']} has no refund for it")
            created = sum(1 for a in rec["answers"] if a[1] == 201)
            if created > 1:
                fail("refund keys", f"Idempotency-Key {key} answered 201 {created} times")
            for a in rec["answers"]:
                if a[0] == "other_body" and a[1] in (200, 201):
                    fail("refund keys", f"Idempotency-Key {key} reused with another body was "
                                        f"accepted ({a[1]})")
                if a[0] == "other_body":
                    self.stats.add(f"refund_key_reuse_{a[2]}")

        # states and money
        attempts = defaultdict(list)
        for a in self.db.payment_attempts.find({}):
            attempts[str(a["orderId"])].append(a)
        txns = Counter()
        for oid, o in by_id.items():
            history = [h["status"] for h in o["statusHistory"]]
            paid_times = history.count("paid")
            pay = o["payment"]
            if paid_times > 1:
                fail("states", f"order {oid}: paid {paid_times} times")
            if o["status"] in OPEN_STATES:
                fail("states", f"order {oid}: still {o['status']} after settling")
            expired = any(h["status"] == "cancelled" and "expired" in (h.get("note") or "")
                          for h in o["statusHistory"])
            if expired and paid_times:
                fail("states", f"order {oid}: both paid and expired")
            if o["status"] in PAID_STATES and not pay.get("transactionId"):
                fail("states", f"order {oid}: {o['status']} without a transactionId")
            if pay.get("transactionId"):
                txns[pay["transactionId"]] += 1
            flagged = (pay.get("flag") or "").startswith("refund_failed")
            if flagged:
                self.stats.add("orders_flagged_refund_failed")

            # What PhonePe took and gave back, attempt by attempt, and the refunds PhonePe
            # holds for this order: those on record, and any under the ids the order would
            # have used (PITR-<order>-<n>) that the order does not carry.
            mids = {a["merchantOrderId"] for a in attempts[oid]}
            if pay.get("merchantOrderId"):
                mids.add(pay["merchantOrderId"])
            charged = {}
            for a in attempts[oid]:
                st, s = self.sim.get(f"/simulator/orders/{a['merchantOrderId']}")
                if st == 200 and s and s.get("state") == "COMPLETED":
                    charged[a["merchantOrderId"]] = s["amount"]
                    if a["state"] not in ("completed", "refunded") and \
                            a["merchantOrderId"] != pay.get("merchantOrderId"):
                        fail("money", f"order {oid}: PhonePe took money on "
                                      f"{a['merchantOrderId']} but the attempt is {a['state']}")
            refunds = o.get("refunds") or []
            known = {r["merchantRefundId"] for r in refunds}
            probe = known | {f"PITR-{oid}-{k}" for k in range(1, len(refunds) + 3)}
            at_phonepe = {}
            for mrid in sorted(probe):
                state, doc = self.sim.refund_status(mrid)
                if state is not None:
                    at_phonepe[mrid] = doc
                    if doc.get("originalMerchantOrderId") not in mids:
                        fail("money", f"refund {mrid} at PhonePe is on "
                                      f"{doc.get('originalMerchantOrderId')}, not on an attempt of "
                                      f"order {oid}")
            for mrid, doc in at_phonepe.items():
                if mrid not in known:
                    fail("refunds", f"order {oid}: PhonePe holds refund {mrid} ({doc['state']}, "
                                    f"{doc['amount']} paise) the order does not know")
                if doc["state"] not in ("COMPLETED", "FAILED"):
                    fail("refunds", f"refund {mrid} of order {oid} is still {doc['state']} at PhonePe")
            for r in refunds:
                mrid = r["merchantRefundId"]
                self.stats.add(f"refunds_{r.get('kind')}_{r['state']}")
                if r.get("replaces"):
                    self.stats.add("refunds_replacing_a_failed_one")
                if r["state"] == "pending":
                    fail("refunds", f"refund {mrid} of order {oid} still pending after settling "
                                    f"({r.get('checks')} checks, last error {r.get('lastError')})")
                doc = at_phonepe.get(mrid)
                want = {"completed": "COMPLETED", "failed": "FAILED"}.get(r["state"])
                if doc is None:
                    if r["state"] != "pending":
                        fail("refunds", f"refund {mrid} of order {oid} is {r['state']} but PhonePe "
                                        f"never registered it")
                    continue
                if want and doc["state"] != want:
                    fail("refunds", f"refund {mrid} of order {oid} is {r['state']}, PhonePe says "
                                    f"{doc['state']}")
                if doc["amount"] != r["amount"]:
                    fail("refunds", f"refund {mrid} of order {oid}: {r['amount']} paise on the "
                                    f"order, {doc['amount']} at PhonePe")
                if doc.get("originalMerchantOrderId") != r.get("originalMerchantOrderId"):
                    fail("refunds", f"refund {mrid} of order {oid} gives back "
                                    f"{r.get('originalMerchantOrderId')} on the order, "
                                    f"{doc.get('originalMerchantOrderId')} at PhonePe")
                if r["state"] == "failed":
                    replacements = [x for x in refunds if x.get("replaces") == mrid]
                    if len(replacements) > 1 or (not replacements and not flagged):
                        fail("refunds", f"failed refund {mrid} of order {oid} has "
                                        f"{len(replacements)} replacements")
            refunded_pp = Counter()
            for doc in at_phonepe.values():
                if doc["state"] == "COMPLETED":
                    refunded_pp[doc["originalMerchantOrderId"]] += doc["amount"]
            for mid, amount in refunded_pp.items():
                if amount > charged.get(mid, 0):
                    fail("money", f"order {oid}: PhonePe refunded {amount} paise on {mid}, which "
                                  f"collected {charged.get(mid, 0)}")
            own_completed = sum(r["amount"] for r in refunds
                                if r["state"] == "completed" and r.get("kind") != "extra_charge")
            all_completed = sum(r["amount"] for r in refunds if r["state"] == "completed")
            refunded_amount = pay.get("refundedAmount") or 0
            if refunded_amount != own_completed:
                fail("money", f"order {oid}: payment.refundedAmount {refunded_amount} but its "
                              f"completed refunds add up to {own_completed}")
            if all_completed != sum(refunded_pp.values()):
                fail("money", f"order {oid}: completed refunds on the order add up to "
                              f"{all_completed}, PhonePe refunded {sum(refunded_pp.values())}")
            if pay.get("merchantOrderId") and \
                    refunded_pp.get(pay["merchantOrderId"], 0) != refunded_amount and \
                    all(r.get("kind") != "extra_charge" or
                        r.get("originalMerchantOrderId") != pay["merchantOrderId"] for r in refunds):
                fail("money", f"order {oid}: refundedAmount {refunded_amount}, PhonePe refunded "
                              f"{refunded_pp.get(pay['merchantOrderId'], 0)} on its payment "
                              f"{pay['merchantOrderId']}")
            kept = sum(charged.values()) - sum(refunded_pp.values())
            if o["status"] in PAID_STATES:
                want = o["total"] - refunded_amount
            else:
                want = 0
            if kept < 0 or want < 0:
                fail("money", f"order {oid}: keeps a negative amount (PhonePe {kept}, order {want})")
            if kept != want and not flagged:
                fail("money", f"order {oid} ({o['status']}, payment {pay.get('status')}): PhonePe "
                              f"collected {sum(charged.values())} and refunded "
                              f"{sum(refunded_pp.values())} — keeps {kept}, should keep {want}")
            self.stats.add("paise_refunded", sum(refunded_pp.values()))
            self.stats.add(f"final_{o['status']}")
            self.stats.add(f"final_payment_{pay.get('status')}")
            if len(charged) > 1:
                self.stats.add("orders_charged_twice_and_refunded")
        for t, n in txns.items():
            if n > 1:
                fail("states", f"transaction {t} is on {n} orders")

        # mail
        outbox = list(self.db.mail_outbox.find({}))
        per_key = Counter((str(m["orderId"]), m["event"], m.get("refundId")) for m in outbox)
        for k, n in per_key.items():
            if n > 1:
                fail("mail", f"mail {k} queued {n} times")
        status = {(str(m["orderId"]), m["event"]): m["status"] for m in outbox
                  if m["event"] != "refund_issued"}
        for m in outbox:
            if m["status"] not in ("sent", "skipped", "unconfirmed"):
                fail("mail", f"mail {m['event']} for {m['orderId']}: {m['status']} "
                             f"({m.get('lastError')})")
        with urllib.request.urlopen(moto_url + "/moto-api/data.json", timeout=60) as r:
            ses = json.load(r)["ses"]
        # Mails with attachments (the invoice, a credit note) go out raw: their subject is in
        # the MIME headers.
        messages = list(ses.get("Message") or []) + [
            {"subject": str(email.header.make_header(email.header.decode_header(
                email.message_from_string(m["raw_data"]).get("Subject", ""))))}
            for m in ses.get("RawMessage") or []]
        delivered = Counter()
        refund_mails = Counter()
        # Subjects name the order by its number (`Order::display_number`: the id for orders
        # placed before numbers existed).
        by_number = {(o.get("number") or oid): oid for oid, o in by_id.items()}
        for m in messages:
            subject = m["subject"]
            oid = next((by_number[w.strip("#,.")] for w in subject.split()
                        if w.strip("#,.") in by_number), None)
            if oid is not None:
                event = mail_event(subject)
                if event == "refund_issued":
                    refund_mails[oid] += 1  # one per completed refund, told apart by the body
                else:
                    delivered[(oid, event)] += 1
        for key, n in delivered.items():
            if n > 1:
                fail("mail", f"mail {key[1]} for {key[0]} sent {n} times")
            if status.get(key) not in ("sent", "unconfirmed"):
                fail("mail", f"mail {key[1]} for {key[0]} went out but is {status.get(key)}")
        for key, st in status.items():
            if st == "sent" and delivered[key] != 1:
                fail("mail", f"mail {key[1]} for {key[0]} recorded as sent, SES has {delivered[key]}")
        refund_sent = Counter(str(m["orderId"]) for m in outbox
                              if m["event"] == "refund_issued" and m["status"] == "sent")
        refund_unconfirmed = Counter(str(m["orderId"]) for m in outbox
                                     if m["event"] == "refund_issued" and m["status"] == "unconfirmed")
        for oid in set(refund_mails) | set(refund_sent):
            if not refund_sent[oid] <= refund_mails[oid] <= refund_sent[oid] + refund_unconfirmed[oid]:
                fail("mail", f"order {oid}: {refund_sent[oid]} refund mails recorded as sent "
                             f"({refund_unconfirmed[oid]} unconfirmed), SES has {refund_mails[oid]}")
        for m in outbox:
            if m["status"] == "unconfirmed":
                # The sender died mid-send or SES never answered; on-call is alarmed and decides.
                self.stats.add("mails_unconfirmed")
        for key, st in status.items():
            if st == "unconfirmed":
                self.stats.add("mails_unconfirmed_that_went_out", delivered[key])
        for oid, o in by_id.items():
            if "paid" in [h["status"] for h in o["statusHistory"]] and \
                    status.get((oid, "payment_success")) not in ("sent", "unconfirmed"):
                fail("mail", f"order {oid}: paid but no payment-confirmed mail")
        self.stats.add("mails_sent", sum(1 for m in outbox if m["status"] == "sent"))

        # orders the clients were told about
        for key, ids in self.told.items():
            if len(ids) > 1:
                fail("orders", f"Idempotency-Key {key} made {len(ids)} orders")
            for i in ids:
                if i not in by_id:
                    fail("orders", f"order {i} was confirmed to a client but is lost")
        self.stats.add("orders", len(orders))
        self.stats.add("refund_count", len(final_refunds))

        self.check_invoices(by_id, fail)
        self.check_restocks(fail)
        return failures

    def check_restocks(self, fail):
        """Per order and product, the units its ledger entries put back never exceed the units
        they took. The ledger still sums to the stock when an order's units come back twice (a
        restocking refund, then the cancellation returning every unit again), so only this sees
        it."""
        taken, back = defaultdict(int), defaultdict(int)
        for m in self.db.stock_movements.find({"orderId": {"$ne": None}},
                                              {"orderId": 1, "productId": 1, "delta": 1}):
            key = (str(m["orderId"]), str(m["productId"]))
            if m["delta"] < 0:
                taken[key] -= m["delta"]
            else:
                back[key] += m["delta"]
        for key in sorted(back):
            if back[key] > taken[key]:
                order, product = key
                fail("restocks", f"order {order} took {taken[key]} of product {product} but its "
                                 f"ledger put {back[key]} back")
        self.stats.add("order_products_restocked", len(back))

    def check_invoices(self, by_id, fail):
        """The GST invoices and credit notes (common/shop/src/invoices.rs, docs/gst.md)."""
        invoices = list(self.db.invoices.find({}))
        notes = list(self.db.credit_notes.find({}))
        counters = {c["_id"]: c.get("seq") for c in self.db.counters.find(
            {"_id": {"$regex": "^(invoice|creditNote)/"}})}
        self.invoice_summary = {}

        def fy_of(at):
            # India time is UTC+05:30; the year turns on 1 April.
            # pymongo gives naive UTC datetimes.
            t = time.gmtime(calendar.timegm(at.utctimetuple()) + 5.5 * 3600)
            start = t.tm_year if t.tm_mon >= 4 else t.tm_year - 1
            return f"{start % 100:02d}{(start + 1) % 100:02d}"

        def adds_up(inv, what, doc, rows):
            """Row by row and in all: taxable + CGST + SGST + IGST = total; totals = the rows."""
            ok = True
            for r in rows:
                if r["taxableValue"] + r["cgst"] + r["sgst"] + r["igst"] != r["total"]:
                    fail(inv, f"{what}: row {r.get('description')!r} taxable {r['taxableValue']} + "
                              f"tax {r['cgst']}+{r['sgst']}+{r['igst']} != total {r['total']}")
                    ok = False
                if doc.get("interState") and (r["cgst"] or r["sgst"]):
                    fail(inv, f"{what}: inter-state but row {r.get('description')!r} has CGST/SGST")
                if not doc.get("interState") and r["igst"]:
                    fail(inv, f"{what}: intra-state but row {r.get('description')!r} has IGST")
            t = doc["totals"]
            for k in ("taxableValue", "cgst", "sgst", "igst", "total"):
                if sum(r[k] for r in rows) != t[k]:
                    fail(inv, f"{what}: totals.{k} {t[k]} but its rows add up to "
                              f"{sum(r[k] for r in rows)}")
                    ok = False
            if t["cgst"] + t["sgst"] + t["igst"] != t["totalTax"] or \
                    t["taxableValue"] + t["totalTax"] != t["total"]:
                fail(inv, f"{what}: totals do not add up: {t}")
                ok = False
            return ok

        def series(inv, kind, docs):
            """Numbers `{prefix}/{FY}/{seq:06}` gapless 1..n per prefix and year; counter = n."""
            per = defaultdict(list)
            for d in docs:
                parts = d["number"].split("/")
                if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) != 6:
                    fail(inv, f"{kind} {d['number']!r} is not PREFIX/FY/000001")
                    continue
                prefix, fy, seq = parts
                if fy != d.get("financialYear"):
                    fail(inv, f"{kind} {d['number']}: financialYear {d.get('financialYear')}")
                per[(prefix, fy)].append(int(seq))
            summary = []
            for (prefix, fy), seqs in sorted(per.items()):
                n = len(seqs)
                dup = sorted(k for k, c in Counter(seqs).items() if c > 1)
                gaps = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
                if dup:
                    fail(inv, f"{kind} series {prefix}/{fy}: numbers used twice: {dup[:20]}")
                if gaps:
                    fail(inv, f"{kind} series {prefix}/{fy}: {len(gaps)} numbers missing (burnt): "
                              f"{gaps[:20]} of 1..{max(seqs)}")
                if min(seqs) < 1:
                    fail(inv, f"{kind} series {prefix}/{fy}: number {min(seqs)} below 1")
                key = f"{'invoice' if kind == 'invoice' else 'creditNote'}/{prefix}/{fy}"
                if key not in counters:
                    fail(inv, f"{kind} series {prefix}/{fy}: no counter {key}")
                elif counters[key] != n:
                    fail(inv, f"{kind} series {prefix}/{fy}: counter {key} is {counters[key]}, "
                              f"{n} documents issued")
                summary.append(f"{prefix}/{fy} {n}: " + (f"1..{max(seqs)}" if not gaps and not dup
                                                         else f"{min(seqs)}..{max(seqs)} with "
                                                              f"{len(gaps)} gaps, {len(dup)} dups"))
            for key, seq in counters.items():
                k, prefix, fy = key.split("/", 2)
                if k == ('invoice' if kind == 'invoice' else 'creditNote') and \
                        (prefix, fy) not in per and seq:
                    fail(inv, f"counter {key} is {seq} but no {kind} is in its series")
            return summary

        # 1. one invoice per shipped order, none for the others, agreeing with the order
        inv_by_order = defaultdict(list)
        for i in invoices:
            inv_by_order[str(i["orderId"])].append(i)
        shipped = {oid for oid, o in by_id.items()
                   if {"shipped", "delivered"} & {h["status"] for h in o["statusHistory"]}}
        for oid in shipped:
            o, found = by_id[oid], inv_by_order.get(oid, [])
            if len(found) != 1:
                fail("invoices", f"order {oid} ({o['status']}, shipped) has {len(found)} invoices"
                                 + ("" if o.get("tax") else " (and no tax)"))
        for oid, found in inv_by_order.items():
            if oid not in by_id:
                fail("invoices", f"invoice {found[0]['number']} is of order {oid}, which does not exist")
                continue
            o = by_id[oid]
            if oid not in shipped:
                fail("invoices", f"order {oid} ({o['status']}, never shipped) has invoice "
                                 f"{found[0]['number']}")
            for i in found:
                what = f"invoice {i['number']} of order {oid}"
                if i["order"]["id"] != oid or i["order"]["number"] != (o.get("number") or oid):
                    fail("invoices", f"{what} names order {i['order']}")
                if i.get("financialYear") != fy_of(i["at"]):
                    fail("invoices", f"{what}: financial year {i.get('financialYear')}, issued in "
                                     f"{fy_of(i['at'])} (India time)")
                adds_up("invoices", what, i, list(i["lines"]) + [i["shipping"]])
                t, tax = i["totals"], o.get("tax") or {}
                if t["total"] != o["total"]:
                    fail("invoices", f"{what}: total {t['total']}, the order's total {o['total']}")
                for k in ("taxableValue", "cgst", "sgst", "igst", "totalTax"):
                    if k in tax and t[k] != tax[k]:
                        fail("invoices", f"{what}: {k} {t[k]}, the order's tax says {tax[k]}")
                if bool(i.get("interState")) != bool(tax.get("interState")):
                    fail("invoices", f"{what}: interState {i.get('interState')}, the order's tax "
                                     f"{tax.get('interState')}")
                products = Counter()
                for it in o["items"]:
                    products[str(it["productId"])] += it["quantity"]
                billed = Counter()
                for ln in i["lines"]:
                    billed[ln.get("productId")] += ln.get("quantity") or 0
                if billed != products:
                    fail("invoices", f"{what}: bills {dict(billed)}, the order has {dict(products)}")

        # 2. invoice numbers
        self.invoice_summary["invoices"] = series("invoice numbers", "invoice", invoices)
        self.stats.add("invoices", len(invoices))
        self.stats.add("orders_shipped", len(shipped))

        # 3. credit notes: one per completed refund (not an extra charge's) of an invoiced order
        refunds = {}
        for oid, o in by_id.items():
            for r in o.get("refunds") or []:
                refunds[r["merchantRefundId"]] = (oid, r)
        notes_by_refund = defaultdict(list)
        for n in notes:
            notes_by_refund[n.get("refundId")].append(n)
        due = {}
        for mrid, (oid, r) in refunds.items():
            if oid in inv_by_order and r["state"] == "completed" and r.get("kind") != "extra_charge":
                due[mrid] = (oid, r)
        credited_units = defaultdict(Counter)
        credited_total = Counter()
        for mrid, (oid, r) in due.items():
            found = notes_by_refund.get(mrid, [])
            if len(found) != 1:
                fail("credit notes", f"completed {r.get('kind')} refund {mrid} ({r['amount']} paise) "
                                     f"of invoiced order {oid} has {len(found)} credit notes")
        for n in notes:
            mrid = n.get("refundId")
            what = f"credit note {n['number']} (refund {mrid})"
            if mrid not in refunds:
                fail("credit notes", f"{what}: no order has this refund")
                continue
            oid, r = refunds[mrid]
            if mrid not in due:
                why = ("an extra charge's" if r.get("kind") == "extra_charge" else
                       f"{r['state']}" if r["state"] != "completed" else "of an uninvoiced order")
                fail("credit notes", f"{what} of order {oid}: the refund is {why}")
            if str(n["orderId"]) != oid or n["order"]["id"] != oid:
                fail("credit notes", f"{what}: on order {n['orderId']}/{n['order']}, the refund is "
                                     f"on {oid}")
            inv = (inv_by_order.get(oid) or [None])[0]
            if inv is not None and n["invoice"]["number"] != inv["number"]:
                fail("credit notes", f"{what}: names invoice {n['invoice']['number']}, order {oid} "
                                     f"has {inv['number']}")
            if n.get("financialYear") != fy_of(n["at"]):
                fail("credit notes", f"{what}: financial year {n.get('financialYear')}, issued in "
                                     f"{fy_of(n['at'])}")
            if n["totals"]["total"] != r["amount"]:
                fail("credit notes", f"{what}: total {n['totals']['total']}, the refund "
                                     f"{r['amount']} paise")
            adds_up("credit notes", what, n, n["lines"])
            for ln in n["lines"]:
                if ln.get("productId") and ln.get("quantity"):
                    credited_units[oid][ln["productId"]] += ln["quantity"]
            credited_total[oid] += n["totals"]["total"]
            before = inv is not None and r.get("settledAt") is not None and r["settledAt"] < inv["at"]
            self.stats.add(f"credit_notes_{'before' if before else 'after'}_ship")
        for oid, units in credited_units.items():
            inv = (inv_by_order.get(oid) or [None])[0]
            if inv is None:
                continue
            billed = Counter()
            for ln in inv["lines"]:
                billed[ln.get("productId")] += ln.get("quantity") or 0
            for pid, q in units.items():
                if q > billed[pid]:
                    fail("credit notes", f"order {oid}: credit notes credit {q} units of {pid}, "
                                         f"invoice {inv['number']} has {billed[pid]}")
            if credited_total[oid] > inv["totals"]["total"]:
                fail("credit notes", f"order {oid}: credit notes add up to {credited_total[oid]}, "
                                     f"more than invoice {inv['number']} ({inv['totals']['total']})")
        self.invoice_summary["credit notes"] = series("credit notes", "credit note", notes)
        self.stats.add("credit_notes", len(notes))
        self.stats.add("credit_notes_due", len(due))
        self.stats.add("uninvoiced_refunds_completed", sum(
            1 for oid, r in refunds.values() if r["state"] == "completed" and oid not in inv_by_order
            and r.get("kind") != "extra_charge"))


INVARIANTS = ["stock", "ledger", "restocks", "coupons", "states", "money", "refunds",
              "refund keys", "mail", "orders", "invoices", "invoice numbers", "credit notes", "5xx"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True, help="the first instance's URL (its port is --port)")
    ap.add_argument("--sim", required=True)
    ap.add_argument("--ses", required=True)
    ap.add_argument("--mongo", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--serve", required=True, help="command that starts the API server")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--instances", type=int, default=1,
                    help="API instances on the one database (extra ones on free ports)")
    ap.add_argument("--jobs-intervals", default="2",
                    help="JOBS_INTERVAL_SECS of each instance, comma-separated, cycled")
    ap.add_argument("--token-cmd", required=True)
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--orders", type=int, default=3, help="orders each customer tries to place")
    ap.add_argument("--duration", type=float, default=90,
                    help="seconds during which shoppers keep placing orders")
    ap.add_argument("--kills", action="store_true", help="SIGKILL and restart API instances meanwhile")
    ap.add_argument("--kill-every", type=float, nargs=2, default=[2.0, 6.0])
    ap.add_argument("--db-cmd", help="command that (re)starts the database on its port and data")
    ap.add_argument("--db-pid", type=int, help="pid of the running database")
    ap.add_argument("--db-port", type=int)
    ap.add_argument("--db-log", default="/tmp/prove-db.log")
    ap.add_argument("--db-kills", action="store_true",
                    help="SIGKILL and restart the database meanwhile (needs --db-cmd/-pid/-port)")
    ap.add_argument("--db-kill-every", type=float, nargs=2, default=[20.0, 40.0])
    ap.add_argument("--slow", action="store_true",
                    help="make the simulator slow on pay, status and refunds in --slow-window")
    ap.add_argument("--slow-window", type=float, nargs=2, default=[0.15, 0.75],
                    help="start and end of the slow phase, as fractions of --duration")
    ints = lambda v: [int(x) for x in v.split(",")]  # noqa: E731
    ap.add_argument("--slow-refund-ms", type=ints, default=[0, 3000, 3000, 12000])
    ap.add_argument("--slow-status-ms", type=ints, default=[0, 0, 1500, 4000])
    ap.add_argument("--slow-pay-ms", type=ints, default=[0, 0, 1000, 4000])
    ap.add_argument("--settle-timeout", type=float, default=240)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--log", default="/tmp/prove-api.log")
    ap.add_argument("--report", help="append a Markdown section here")
    ap.add_argument("--title", default="run")
    args = ap.parse_args()
    args.token_cmd = args.token_cmd.split()
    if args.db_kills and not (args.db_cmd and args.db_pid and args.db_port):
        ap.error("--db-kills needs --db-cmd, --db-pid and --db-port")

    log = open(args.log, "ab")
    intervals = [int(x) for x in args.jobs_intervals.split(",")]
    ports = [args.port] + [free_port() for _ in range(args.instances - 1)]
    servers = []
    for i, port in enumerate(ports):
        env = dict(os.environ, PORT=str(port), JOBS_INTERVAL_SECS=str(intervals[i % len(intervals)]))
        server = ApiProcess(args.serve.split(), port, log, env, f"instance {i}")
        server.url = f"http://127.0.0.1:{port}"
        server.interval = intervals[i % len(intervals)]
        servers.append(server)
    bases = [args.api] + [s.url for s in servers[1:]]
    dbproc = None
    if args.db_cmd and args.db_pid and args.db_port:
        dbproc = DbProcess(shlex.split(args.db_cmd), args.db_port, args.db_pid,
                           open(args.db_log, "ab"))

    def cleanup():
        # Whatever happens, leave no instance or restarted database of ours running.
        for server in servers:
            server.stop()
        if dbproc:
            dbproc.stop()
    atexit.register(cleanup)
    run = Run(args, bases)
    db = run.db
    for i, server in enumerate(servers):
        server.start()
        # Staggered, so the instances' jobs runs overlap at every phase.
        time.sleep(0.7 if i + 1 < len(servers) else 0)

    # Scarce stock and a scarce coupon make the buyers race for the last units and uses. Stock
    # is moved through the owner's API, so every product's ledger still sums to its stock.
    hot = [p["_id"] for p in db.products.find({"isActive": True, "stock": {"$gt": 0}}).limit(4)]
    plenty = [p["_id"] for p in db.products.find(
        {"isActive": True, "stock": {"$gt": 0}, "_id": {"$nin": hot}})]
    # The rest never run out, so shoppers keep ordering after the scarce ones are gone.
    for ids, target in ((hot, 12), (plenty, 100_000)):
        for p in db.products.find({"_id": {"$in": ids}}):
            if p["stock"] != target:
                st, doc, _ = run.owner_api.call(
                    "POST", f"/admin/products/{p['_id']}/stock", run.admin_token,
                    {"delta": target - p["stock"], "reason": "prove: stock for the run"})
                if st != 200:
                    raise SystemExit(f"adjusting the stock of {p['slug']}: {st} {doc}")
    db.coupons.update_one({"code": "DIWALI20"}, {"$set": {"usageLimit": 6}})
    run.products = [str(i) for i in hot + plenty]
    initial_stock = {str(p["_id"]): p["stock"] for p in db.products.find({})}

    print(f"prove ({args.title}): {args.customers} customers x {args.orders} orders on "
          f"{len(servers)} instances, kills={'on' if args.kills else 'off'}, "
          f"db kills={'on' if args.db_kills else 'off'}, slow={'on' if args.slow else 'off'}, "
          f"seed {args.seed}", flush=True)
    started = time.time()
    side = [threading.Thread(target=run.owner, daemon=True),
            threading.Thread(target=run.owner_refunds, daemon=True),
            threading.Thread(target=run.chaos, args=(servers,), daemon=True),
            threading.Thread(target=run.watcher, daemon=True)]
    if args.kills:
        side.append(threading.Thread(target=run.killer, args=(servers,), daemon=True))
    if args.db_kills:
        side.append(threading.Thread(target=run.db_killer, args=(dbproc,), daemon=True))
    for t in side:
        t.start()
    shoppers = [threading.Thread(target=run.customer, args=(n,)) for n in range(args.customers)]
    for t in shoppers:
        t.start()
    for t in shoppers:
        t.join()
    run.stop.set()
    for t in side:
        t.join()
    for server in servers:
        if server.proc.poll() is not None:
            server.start()
    traffic = time.time() - started
    kills = sum(s.kills for s in servers)
    print(f"  traffic done in {traffic:.0f}s ({kills} API kills, "
          f"{dbproc.kills if dbproc else 0} database kills); settling", flush=True)
    settled = run.settle()
    failures = run.check(initial_stock, args.ses)
    if not settled:
        failures.insert(0, ("states", "the stack did not settle in time"))
    failures += [("5xx", e) for e in run.stats.server_errors]
    cleanup()

    c = run.stats.counts
    broken = Counter(inv for inv, _ in failures)
    pick = lambda prefix: ", ".join(  # noqa: E731
        f"{k[len(prefix):]} {v}" for k, v in sorted(c.items()) if k.startswith(prefix)) or "none"
    weather = ", ".join(f"{k} ×{v}" for k, v in sorted(run.weather_log.items())) or "none"
    slow = (f"{run.slow_window[0]:.0f}–{run.slow_window[1]:.0f} s into the traffic, switched "
            f"every 1–3 s among: {weather}") if run.slow_window else "off"
    lines = [f"### {args.title}", "",
             f"- seed `{args.seed}`, {args.customers} customers × up to {args.orders} orders "
             f"within {args.duration:.0f} s, traffic {traffic:.0f} s",
             f"- thrown at it: {len(servers)} API instances on one database, shoppers spread "
             f"over them, each with its own jobs loop (every "
             f"{', '.join(str(s.interval) for s in servers)} s, started staggered so runs "
             f"overlap); API instances SIGKILLed and restarted {kills} times "
             f"({', '.join(str(s.kills) for s in servers)}); database SIGKILLed and restarted "
             f"{dbproc.kills if dbproc else 0} times"
             + (f" (down {dbproc.downtime:.0f} s in all, on disk with --sync-on-commit)"
                if dbproc and dbproc.kills else ""),
             f"- slow PhonePe: {slow}; webhooks duplicated, delayed, dropped and sent to a random "
             f"instance ({c['chaos_switches']} switches)",
             f"- {c['connection_errors']} requests hit a dead server and were retried (on the "
             f"next instance); {c['try_again_503']} got 503 TRY_AGAIN (a record locked by a killed "
             f"transaction, or the database down) and were retried",
             f"- owner refunds: {pick('refund_kind_')}; styles {pick('refund_style_')}; answers "
             f"{', '.join(f'{k[7:]} {v}' for k, v in sorted(c.items()) if k.startswith('refund_') and k.split('_')[1] in ('first', 'second', 'replay', 'other'))}",
             f"- refunds on orders at the end: {c['refund_count']} ({pick('refunds_')}), "
             f"{c['paise_refunded'] / 100:.2f} ₹ refunded, {c['units_restocked']} units restocked "
             f"({c['order_products_restocked']} order × product pairs given units back; "
             f"cancels right after a restocking refund: {pick('refund_restock_then_cancel_')}), "
             f"{c['orders_flagged_refund_failed']} orders flagged refund_failed for a person; "
             f"the watcher took {run.watch_passes} snapshots of {len(run.seen_refunds)} refund ids",
             f"- {c['orders']} orders: " + ", ".join(
                 f"{k[6:]} {v}" for k, v in sorted(c.items())
                 if k.startswith("final_") and not k.startswith("final_payment_")),
             "- payment status: " + pick("final_payment_"),
             f"- {c['orders_charged_twice_and_refunded']} orders were charged twice (two tabs) "
             f"and had the extra charge refunded; {c['mails_sent']} mails sent, "
             f"{c['mails_unconfirmed']} left unconfirmed for on-call (server killed mid-send, or SES "
             f"too slow to answer; {c['mails_unconfirmed_that_went_out']} of those had reached SES, "
             f"none twice)",
             f"- GST documents: {c['orders_shipped']} orders shipped; invoices {c['invoices']}: "
             f"{'; '.join(getattr(run, 'invoice_summary', {}).get('invoices') or ['none'])}; "
             f"credit notes {c['credit_notes']}: "
             f"{'; '.join(getattr(run, 'invoice_summary', {}).get('credit notes') or ['none'])} "
             f"(for {c['credit_notes_due']} completed refunds of invoiced orders; "
             f"{c['credit_notes_before_ship']} issued in the ship for refunds that completed "
             f"before it, {c['credit_notes_after_ship']} after; "
             f"{c['uninvoiced_refunds_completed']} completed refunds of never-shipped orders, "
             f"rightly without one; {c['refund_before_ship_rounds']} owner refund rounds on "
             f"orders not yet shipped)",
             "- refusals seen: " + pick("create_refused_"),
             f"- 5xx responses: {pick('5xx_')} ({len(run.stats.server_errors)} neither 503 TRY_AGAIN nor the contract's 502 PAYMENT_PROVIDER_ERROR from initiate)",
             "- invariants: " + ", ".join(
                 f"{inv} {'holds' if not broken[inv] else f'**{broken[inv]} broken**'}"
                 for inv in INVARIANTS),
             "- invariants: " + ("**all hold**" if not failures else f"**{len(failures)} broken**"),
             ""]
    lines += [f"  - {inv}: {f}" for inv, f in failures[:60]]
    print("\n".join(lines), flush=True)
    if args.report:
        with open(args.report, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
