"""The traffic of a run: shoppers placing and paying orders (some paying twice, failing,
abandoning, or cancelled by the owner meanwhile) and the owner packing, shipping, delivering,
cancelling and refunding. Every answer a client was given is recorded (`told`,
`refund_keys`) for the `orders` and `refund keys` invariants."""

import random
import threading
import time
import uuid

import pymongo.errors

from .clients import Api, mint
from .invariants import variants

ADDRESSES = [
    {"name": "Asha Iyer", "phone": "9876543210", "line1": "12 Temple Street", "city": "Chennai",
     "state": "Tamil Nadu", "pincode": "600004"},
    {"name": "Rohan Mehta", "phone": "9820012345", "line1": "4 Marine Drive", "line2": "Flat 9",
     "city": "Mumbai", "state": "Maharashtra", "pincode": "400020"},
    {"name": "Kavya Rao", "phone": "9845012345", "line1": "88 MG Road", "city": "Bengaluru",
     "state": "Karnataka", "pincode": "560001"},
]
COUPONS = [None, None, None, "WELCOME10", "DIWALI20", "FIRST1"]


def some_lines(rng, order):
    """Some of the order's lines, each with some of its units, named as a refund names them:
    the product and, where the order's item has one, its variant (an order placed before
    variants names only the product)."""
    lines = []
    for item in rng.sample(order["items"], rng.randint(1, len(order["items"]))):
        line = {"productId": str(item["productId"]), "quantity": rng.randint(1, item["quantity"])}
        if item.get("variantId"):
            line["variantId"] = str(item["variantId"])
        lines.append(line)
    return lines


class Traffic:
    def __init__(self, args, bases, stats, owner_api, sim, db, stop):
        self.args = args
        self.bases = bases
        self.stats = stats
        self.owner_api = owner_api
        self.sim = sim
        self.db = db
        self.stop = stop
        self.told = {}  # idempotency key -> set of order ids clients were given
        self.told_lock = threading.Lock()
        self.admin_token = mint(args.token_cmd, "user_prove_owner", admin=True)
        self.cancel_requests = []  # orders the owner should cancel before they are paid
        self.cancel_lock = threading.Lock()
        # The owner's refunds: Idempotency-Key -> {order, answers: [(status, code)], merchantRefundIds}
        self.refund_keys = {}
        self.refund_lock = threading.Lock()
        self.products = []

    def stock_the_shop(self):
        """Scarce stock and a scarce coupon make the buyers race for the last units and uses.
        Stock is moved through the owner's API, so every variant's ledger still sums to its
        stock. Returns every variant's stock at the start, for the stock invariant."""
        db = self.db
        on_sale = [(str(p["_id"]), vid, now)
                   for p in db.products.find({"isActive": True})
                   for vid, _, now in variants([p])
                   if now > 0 and all(v.get("isActive", True) for v in p.get("variants") or []
                                      if str(v["_id"]) == vid)]
        # Four scarce variants; the rest never run out, so shoppers keep ordering after the
        # scarce ones are gone.
        for i, (pid, vid, now) in enumerate(on_sale):
            target = 12 if i < 4 else 100_000
            if now != target:
                st, doc, _ = self.owner_api.call(
                    "POST", f"/admin/products/{pid}/variants/{vid}/stock", self.admin_token,
                    {"delta": target - now, "reason": "prove: stock for the run"})
                if st != 200:
                    raise SystemExit(f"adjusting the stock of variant {vid}: {st} {doc}")
        db.coupons.update_one({"code": "DIWALI20"}, {"$set": {"usageLimit": 6}})
        self.products = [vid for _, vid, _ in on_sale]
        return {vid: now for vid, _, now in variants(db.products.find({}))}

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
                v = rng.choice(products)
                st, body, _ = api.call("POST", "/cart/add", token,
                                       {"variantId": v, "quantity": rng.randint(1, 3)})
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
            return kind, {"lines": some_lines(rng, order), "restock": rng.random() < 0.5,
                          "reason": reason}
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
        body = {"lines": some_lines(rng, order), "restock": True,
                "reason": "prove: returned before shipping"}
        if self.send_refund(oid, key, body, via, "first") != 201:
            return False
        st, _, _ = self.owner_api.call("POST", f"/admin/orders/{oid}/cancel", self.admin_token,
                                       {"reason": "prove: refunded in part, then cancelled"},
                                       via=via + 1)
        self.stats.add(f"refund_restock_then_cancel_{st}")
        return True
