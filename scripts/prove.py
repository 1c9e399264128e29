#!/usr/bin/env python3
"""`make prove`: the invariant suite.

Many concurrent customers drive the running local stack over HTTP (carts, coupons, orders,
PhonePe initiations, payments through the simulator with duplicated, delayed and dropped
webhooks, two payment pages paid at once, payment after an owner's cancel, abandoned orders
left to expire) while the owner packs, ships, delivers and cancels. Optionally the API
server (which also runs the jobs) is SIGKILLed at random moments and restarted. When the
traffic stops and the stack has settled, the invariants are checked from the database, the
PhonePe simulator and the SES emulator:

  stock     initial stock = current stock + units in non-cancelled orders, for every product
  coupons   usedCount = non-cancelled orders using the coupon, and never above usageLimit
  money     every order keeps exactly one charge if it is paid, none if it is cancelled
            (every other completed PhonePe attempt refunded); one transactionId per paid order
  states    no order paid twice, none both paid and expired, every order settled
  mail      every paid order has one payment-confirmed mail; no mail sent twice; no mail lost
  orders    every order a client was told about exists; one order per Idempotency-Key

Exit status 0 only when every invariant holds and no request got a 5xx.
Started by scripts/prove.sh, which brings the stack up on free ports.
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter, defaultdict

import pymongo

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
    """HTTP with the retries a real client would make while the server is being restarted."""

    def __init__(self, base, stats, patience):
        self.base = base
        self.stats = stats
        self.patience = patience

    def call(self, method, path, token=None, body=None, headers=None, retry=True):
        data = json.dumps(body).encode() if body is not None else None
        deadline = time.time() + self.patience
        while True:
            req = urllib.request.Request(self.base + path, method=method, data=data)
            req.add_header("content-type", "application/json")
            if token:
                req.add_header("authorization", "Bearer " + token)
            for k, v in (headers or {}).items():
                req.add_header(k, v)
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
                if e.code == 503 and (doc or {}).get("code") == "TRY_AGAIN" and retry \
                        and time.time() < deadline:
                    # A record still locked by a transaction the killed server left open: the
                    # answer says nothing changed and to send the request again.
                    self.stats.add("try_again_503")
                    time.sleep(float(e.headers.get("Retry-After") or 1))
                    continue
                if e.code >= 500:
                    self.stats.error(f"{method} {path} -> {e.code} {doc}")
                return e.code, doc, dict(e.headers)
            except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
                # The server is down (killed) or died mid-request: whether the request took
                # effect is unknown, exactly as for a real client on a flaky network.
                self.stats.add("connection_errors")
                if not retry or time.time() > deadline:
                    return None, {"error": str(e)}, {}
                time.sleep(0.3)


class Sim:
    def __init__(self, base):
        self.base = base

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


class ApiProcess:
    """The dev server (every route plus the jobs loop), started, SIGKILLed and restarted."""

    def __init__(self, cmd, port, log):
        self.cmd, self.port, self.log = cmd, port, log
        self.proc = None
        self.lock = threading.Lock()
        self.kills = 0

    def start(self):
        with self.lock:
            self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log)
        wait_port(self.port, 60)

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
    """The outbox event a subject line belongs to (see `subject` in common/src/mail/render.rs)."""
    for needle, event in [("We have received", "order_placed"), ("is confirmed", "payment_success"),
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
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats()
        self.api = Api(args.api, self.stats, patience=60)
        self.sim = Sim(args.sim)
        self.db = pymongo.MongoClient(args.mongo)[args.db]
        self.stop = threading.Event()
        self.told = {}  # idempotency key -> set of order ids clients were given
        self.told_lock = threading.Lock()
        self.admin_token = mint(args.token_cmd, "user_prove_owner", admin=True)
        self.cancel_requests = []  # orders the owner should cancel before they are paid
        self.cancel_lock = threading.Lock()

    # --- the shoppers -------------------------------------------------------------------

    def customer(self, n):
        rng = random.Random(self.args.seed * 1000 + n)
        user = f"user_prove_{n:04d}"
        token = mint(self.args.token_cmd, user)
        products = self.products
        end = time.time() + self.args.duration
        for _ in range(self.args.orders):
            if self.stop.is_set() or time.time() > end:
                return
            for _ in range(rng.randint(1, 3)):
                p = rng.choice(products)
                st, body, _ = self.api.call("POST", "/cart/add", token,
                                            {"productId": p, "quantity": rng.randint(1, 3)})
                self.stats.add(f"cart_add_{st}")
            coupon = rng.choice(COUPONS)
            if coupon:
                st, _, _ = self.api.call("POST", "/checkout/apply-coupon", token, {"code": coupon})
                self.stats.add(f"apply_coupon_{st}")
            order = self.place(token, rng, coupon)
            if order is None:
                self.api.call("POST", "/cart/clear", token)
                continue
            self.pay(token, rng, order)
            # Shoppers browse between orders, which spreads the traffic over the run.
            time.sleep(rng.uniform(0, 2 * self.args.duration / self.args.orders))

    def place(self, token, rng, coupon):
        key = uuid.uuid4().hex
        body = {"shippingAddress": rng.choice(ADDRESSES)}
        if coupon:
            body["couponCode"] = coupon
        for _ in range(6):
            st, doc, hdrs = self.api.call("POST", "/orders/create", token, body,
                                          headers={"Idempotency-Key": key})
            self.stats.add(f"create_{st}")
            if st in (200, 201):
                with self.told_lock:
                    self.told.setdefault(key, set()).add(doc["id"])
                # A client that lost the answer would retry with the same key: so do some.
                if rng.random() < 0.1:
                    st2, doc2, _ = self.api.call("POST", "/orders/create", token, body,
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

    def initiate(self, token, order):
        for _ in range(4):
            st, doc, hdrs = self.api.call("POST", "/payments/phonepe/initiate", token,
                                          {"orderId": order})
            self.stats.add(f"initiate_{st}")
            if st == 200:
                return doc["merchantOrderId"]
            if st == 429:
                time.sleep(min(float(hdrs.get("Retry-After", hdrs.get("retry-after", "1"))), 20))
                continue
            return None
        return None

    def pay(self, token, rng, order):
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
        mid = self.initiate(token, order)
        if not mid:
            return
        if style == "pay":
            self.complete(mid)
        elif style == "pay_twice":
            # Two payment pages open in two tabs, both paid, close together.
            mid2 = self.initiate(token, order)
            threads = [threading.Thread(target=self.complete, args=(m,)) for m in (mid, mid2) if m]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elif style == "fail_then_pay":
            self.sim.post(f"/simulator/orders/{mid}/fail")
            mid2 = self.initiate(token, order)
            if mid2:
                self.complete(mid2)
        elif style == "abandon_link":
            # The shopper closes the page; PhonePe's link lapses later. The simulator's expire
            # stands in for the minutes PhonePe would take.
            time.sleep(rng.uniform(0, 5))
            self.sim.post(f"/simulator/orders/{mid}/expire")
        elif style == "pay_after_owner_cancel":
            st, _, _ = self.api.call("POST", f"/admin/orders/{order}/cancel", self.admin_token,
                                     {"reason": "prove: cancelled while the shopper pays"})
            self.stats.add(f"admin_cancel_{st}")
            self.complete(mid)

    def complete(self, mid):
        st, _ = self.sim.post(f"/simulator/orders/{mid}/complete")
        self.stats.add(f"sim_complete_{st}")

    # --- the owner ------------------------------------------------------------------------

    def owner(self):
        rng = random.Random(self.args.seed + 7)
        while not self.stop.is_set():
            with self.cancel_lock:
                pending, self.cancel_requests = self.cancel_requests, []
            for order in pending:
                st, _, _ = self.api.call("POST", f"/admin/orders/{order}/cancel", self.admin_token,
                                         {"reason": "prove: out of stock at the warehouse"})
                self.stats.add(f"admin_cancel_{st}")
            docs = list(self.db.orders.find({"status": {"$in": ["paid", "packed", "shipped"]}},
                                            {"status": 1}).limit(50))
            rng.shuffle(docs)
            for d in docs[:10]:
                oid, status = str(d["_id"]), d["status"]
                roll = rng.random()
                if roll < 0.08 and status in ("paid", "packed"):
                    path, body = f"/admin/orders/{oid}/cancel", {"reason": "prove: customer asked"}
                elif status == "paid" and roll < 0.5:
                    path, body = f"/admin/orders/{oid}/pack", {}
                elif status in ("paid", "packed"):
                    path, body = f"/admin/orders/{oid}/ship", {
                        "carrier": rng.choice(["Delhivery", "Blue Dart", "India Post", "Local van"]),
                        "trackingNumber": f"PRV{rng.randint(10**9, 10**10)}"}
                else:
                    path, body = f"/admin/orders/{oid}/deliver", {}
                st, doc, _ = self.api.call("POST", path, self.admin_token, body)
                self.stats.add(f"admin_{path.rsplit('/', 1)[1]}_{st}")
            time.sleep(0.5)

    # --- the weather ----------------------------------------------------------------------

    def chaos(self):
        rng = random.Random(self.args.seed + 11)
        while not self.stop.is_set():
            cfg = {"duplicateWebhooks": rng.choice([0, 0, 1, 3]),
                   "webhookDelayMs": rng.choice([0, 0, 300, 2000]),
                   "dropWebhooks": rng.random() < 0.2}
            self.sim.post("/simulator/config", cfg)
            self.stats.add("chaos_switches")
            self.stop.wait(rng.uniform(1, 3))

    def killer(self, server):
        rng = random.Random(self.args.seed + 13)
        while not self.stop.wait(rng.uniform(*self.args.kill_every)):
            server.kill()
            time.sleep(rng.uniform(0.1, 1.5))
            server.start()

    # --- settling and checking ------------------------------------------------------------

    def settle(self):
        """Waits until the jobs have expired, reconciled, refunded and mailed everything."""
        self.sim.post("/simulator/config", {"duplicateWebhooks": 0, "webhookDelayMs": 0,
                                            "dropWebhooks": False})
        deadline = time.time() + self.args.settle_timeout
        lapsed = False
        while time.time() < deadline:
            open_orders = self.db.orders.count_documents({"status": {"$in": list(OPEN_STATES)}})
            refunds = self.db.orders.count_documents({"payment.status": "refund_pending"})
            extra = self.db.payment_attempts.count_documents({"state": "refund_pending"})
            mail = self.db.mail_outbox.count_documents({"status": {"$in": ["pending", "sending"]}})
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
            if open_orders == refunds == extra == mail == unseen == 0 and lapsed:
                return True
            print(f"  settling: {open_orders} open orders, {refunds + extra} refunds, "
                  f"{mail} mails in flight, {unseen} completed payments not yet seen", flush=True)
            time.sleep(3)
        return False

    def check(self, initial_stock, moto_url):
        failures = []
        orders = list(self.db.orders.find({}))
        by_id = {str(o["_id"]): o for o in orders}

        # stock
        held = defaultdict(int)
        for o in orders:
            if o["status"] != "cancelled":
                for it in o["items"]:
                    held[str(it["productId"])] += it["quantity"]
        for p in self.db.products.find({}):
            pid = str(p["_id"])
            if initial_stock[pid] != p["stock"] + held[pid]:
                failures.append(f"stock: {p['slug']} started at {initial_stock[pid]}, now "
                                f"{p['stock']} with {held[pid]} in live orders")
            if p["stock"] < 0:
                failures.append(f"stock: {p['slug']} is negative ({p['stock']})")

        # coupons
        live_uses = Counter(o.get("couponCode") for o in orders
                            if o.get("couponCode") and o["status"] != "cancelled")
        for c in self.db.coupons.find({}):
            if c.get("usedCount", 0) != live_uses[c["code"]]:
                failures.append(f"coupon {c['code']}: usedCount {c.get('usedCount')} but "
                                f"{live_uses[c['code']]} live orders use it")
            if c.get("usageLimit") is not None and c.get("usedCount", 0) > c["usageLimit"]:
                failures.append(f"coupon {c['code']}: used {c['usedCount']} > limit {c['usageLimit']}")

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
                failures.append(f"order {oid}: paid {paid_times} times")
            if o["status"] in OPEN_STATES:
                failures.append(f"order {oid}: still {o['status']} after settling")
            expired = any(h["status"] == "cancelled" and "expired" in (h.get("note") or "")
                          for h in o["statusHistory"])
            if expired and paid_times:
                failures.append(f"order {oid}: both paid and expired")
            if o["status"] in PAID_STATES and not pay.get("transactionId"):
                failures.append(f"order {oid}: {o['status']} without a transactionId")
            if pay.get("transactionId"):
                txns[pay["transactionId"]] += 1
            charged = 0
            for a in attempts[oid]:
                st, s = self.sim.get(f"/simulator/orders/{a['merchantOrderId']}")
                if st == 200 and s and s.get("state") == "COMPLETED":
                    charged += 1
                    if a["state"] not in ("completed", "refunded") and \
                            a["merchantOrderId"] != pay.get("merchantOrderId"):
                        failures.append(f"order {oid}: PhonePe took money on "
                                        f"{a['merchantOrderId']} but the attempt is {a['state']}")
            refunded = sum(1 for a in attempts[oid] if a["state"] == "refunded")
            refunded += 1 if pay.get("status") == "refunded" else 0
            kept = charged - refunded
            want = 1 if o["status"] in PAID_STATES else 0
            if kept != want:
                failures.append(f"order {oid} ({o['status']}, payment {pay.get('status')}): "
                                f"{charged} charges, {refunded} refunds — keeps {kept}, should keep {want}")
            self.stats.add(f"final_{o['status']}")
            self.stats.add(f"final_payment_{pay.get('status')}")
            if charged > 1:
                self.stats.add("orders_charged_twice_and_refunded")
        for t, n in txns.items():
            if n > 1:
                failures.append(f"transaction {t} is on {n} orders")

        # mail
        outbox = list(self.db.mail_outbox.find({}))
        per_key = Counter((str(m["orderId"]), m["event"]) for m in outbox)
        for k, n in per_key.items():
            if n > 1:
                failures.append(f"mail {k} queued {n} times")
        status = {(str(m["orderId"]), m["event"]): m["status"] for m in outbox}
        for m in outbox:
            if m["status"] not in ("sent", "skipped", "unconfirmed"):
                failures.append(f"mail {m['event']} for {m['orderId']}: {m['status']} "
                                f"({m.get('lastError')})")
        with urllib.request.urlopen(moto_url + "/moto-api/data.json", timeout=60) as r:
            messages = json.load(r)["ses"]["Message"]
        delivered = Counter()
        for m in messages:
            subject = m["subject"]
            if "#" not in subject:
                continue
            oid = subject.split("#", 1)[1].split(" ", 1)[0]
            if oid in by_id:
                delivered[(oid, mail_event(subject))] += 1
        for key, n in delivered.items():
            if n > 1:
                failures.append(f"mail {key[1]} for {key[0]} sent {n} times")
            if status.get(key) not in ("sent", "unconfirmed"):
                failures.append(f"mail {key[1]} for {key[0]} went out but is {status.get(key)}")
        for key, st in status.items():
            if st == "sent" and delivered[key] != 1:
                failures.append(f"mail {key[1]} for {key[0]} recorded as sent, SES has {delivered[key]}")
            if st == "unconfirmed":
                # The sender died mid-send or SES never answered; on-call is alarmed and decides.
                self.stats.add("mails_unconfirmed")
                self.stats.add("mails_unconfirmed_that_went_out", delivered[key])
        for oid, o in by_id.items():
            if "paid" in [h["status"] for h in o["statusHistory"]] and \
                    status.get((oid, "payment_success")) not in ("sent", "unconfirmed"):
                failures.append(f"order {oid}: paid but no payment-confirmed mail")
        self.stats.add("mails_sent", sum(1 for st in status.values() if st == "sent"))

        # orders the clients were told about
        for key, ids in self.told.items():
            if len(ids) > 1:
                failures.append(f"Idempotency-Key {key} made {len(ids)} orders")
            for i in ids:
                if i not in by_id:
                    failures.append(f"order {i} was confirmed to a client but is lost")
        self.stats.add("orders", len(orders))
        return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--ses", required=True)
    ap.add_argument("--mongo", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--serve", required=True, help="command that starts the API server")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-cmd", required=True)
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--orders", type=int, default=3, help="orders each customer tries to place")
    ap.add_argument("--duration", type=float, default=90,
                    help="seconds during which shoppers keep placing orders")
    ap.add_argument("--kills", action="store_true", help="SIGKILL and restart the API meanwhile")
    ap.add_argument("--kill-every", type=float, nargs=2, default=[2.0, 6.0])
    ap.add_argument("--settle-timeout", type=float, default=240)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--log", default="/tmp/prove-api.log")
    ap.add_argument("--report", help="append a Markdown section here")
    ap.add_argument("--title", default="run")
    args = ap.parse_args()
    args.token_cmd = args.token_cmd.split()

    run = Run(args)
    db = run.db
    # Scarce stock and a scarce coupon make the buyers race for the last units and uses.
    hot = [p["_id"] for p in db.products.find({"isActive": True, "stock": {"$gt": 0}}).limit(4)]
    db.products.update_many({"_id": {"$in": hot}}, {"$set": {"stock": 12}})
    db.coupons.update_one({"code": "DIWALI20"}, {"$set": {"usageLimit": 6}})
    plenty = [p["_id"] for p in db.products.find(
        {"isActive": True, "stock": {"$gt": 0}, "_id": {"$nin": hot}})]
    # The rest never run out, so shoppers keep ordering after the scarce ones are gone.
    db.products.update_many({"_id": {"$in": plenty}}, {"$set": {"stock": 100_000}})
    run.products = [str(i) for i in hot + plenty]
    initial_stock = {str(p["_id"]): p["stock"] for p in db.products.find({})}

    log = open(args.log, "ab")
    server = ApiProcess(args.serve.split(), args.port, log)
    server.start()
    print(f"prove ({args.title}): {args.customers} customers x {args.orders} orders, "
          f"kills={'on' if args.kills else 'off'}, seed {args.seed}", flush=True)
    started = time.time()
    side = [threading.Thread(target=run.owner, daemon=True),
            threading.Thread(target=run.chaos, daemon=True)]
    if args.kills:
        side.append(threading.Thread(target=run.killer, args=(server,), daemon=True))
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
    if server.proc.poll() is not None:
        server.start()
    traffic = time.time() - started
    print(f"  traffic done in {traffic:.0f}s ({server.kills} kills); settling", flush=True)
    settled = run.settle()
    failures = run.check(initial_stock, args.ses)
    if not settled:
        failures.insert(0, "the stack did not settle in time")
    if run.stats.server_errors:
        failures += [f"5xx: {e}" for e in run.stats.server_errors[:20]]
    server.stop()

    c = run.stats.counts
    lines = [f"### {args.title}", "",
             f"- seed `{args.seed}`, {args.customers} customers × up to {args.orders} orders "
             f"within {args.duration:.0f} s, "
             f"traffic {traffic:.0f} s, API SIGKILLed and restarted {server.kills} times, "
             f"{c['connection_errors']} requests hit a dead server and were retried, "
             f"{c['try_again_503']} got 503 TRY_AGAIN (a record locked by a killed transaction) "
             f"and were retried",
             f"- {c['orders']} orders: " + ", ".join(
                 f"{k[6:]} {v}" for k, v in sorted(c.items())
                 if k.startswith("final_") and not k.startswith("final_payment_")),
             "- payment status: " + ", ".join(
                 f"{k[14:]} {v}" for k, v in sorted(c.items()) if k.startswith("final_payment_")),
             f"- {c['orders_charged_twice_and_refunded']} orders were charged twice (two tabs) "
             f"and had the extra charge refunded; {c['mails_sent']} mails sent, "
             f"{c['mails_unconfirmed']} left unconfirmed for on-call (server killed mid-send, or SES "
             f"too slow to answer; {c['mails_unconfirmed_that_went_out']} of those had reached SES, "
             f"none twice)",
             "- refusals seen: " + (", ".join(
                 f"{k[15:]} {v}" for k, v in sorted(c.items()) if k.startswith("create_refused_"))
                 or "none"),
             f"- 5xx responses: {len(run.stats.server_errors)}",
             "- invariants: " + ("**all hold**" if not failures else f"**{len(failures)} broken**"),
             ""]
    lines += [f"  - {f}" for f in failures[:50]]
    print("\n".join(lines), flush=True)
    if args.report:
        with open(args.report, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
