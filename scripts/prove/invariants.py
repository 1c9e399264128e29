"""The invariants `make prove` checks once the traffic has stopped and the stack has settled:
one function each, named in `INVARIANTS`, reading only the `Facts` it is given (what the
database, the PhonePe simulator and the SES emulator hold at the end, and what the watcher
and the clients saw during the run) and returning what it found broken, one line each. Each
function's docstring says what it holds the system to. `test_invariants.py` feeds each one
a world that breaks it and one that does not.

The counts the report prints go to `tally` (a `stats.Stats`) on the way."""

import calendar
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

PAID_STATES = {"paid", "packed", "shipped", "delivered"}
OPEN_STATES = {"created", "payment_pending"}


@dataclass
class Facts:
    """Everything the invariants read. `facts.gather` fills it from a run."""

    orders: dict = field(default_factory=dict)  # order id -> the order document
    products: list = field(default_factory=list)
    initial_stock: dict = field(default_factory=dict)  # variant id -> stock before the traffic
    stock_movements: list = field(default_factory=list)  # {productId, variantId?, delta, orderId}
    coupons: list = field(default_factory=list)
    coupon_uses: list = field(default_factory=list)
    attempts: dict = field(default_factory=dict)  # order id -> its payment_attempts
    # PhonePe's side: merchantOrderId -> the simulator's record of that payment; and
    # merchantRefundId -> its refund-status answer, for every id of `refund_ids_to_ask` it knows.
    phonepe_orders: dict = field(default_factory=dict)
    phonepe_refunds: dict = field(default_factory=dict)
    outbox: list = field(default_factory=list)  # mail_outbox
    ses_subjects: list = field(default_factory=list)  # every mail SES accepted
    invoices: list = field(default_factory=list)
    credit_notes: list = field(default_factory=list)
    counters: dict = field(default_factory=dict)  # invoice/creditNote series -> seq
    # What was seen during the run (see watch.Watcher and traffic.Traffic).
    history_lengths: dict = field(default_factory=dict)
    seen_refunds: dict = field(default_factory=dict)
    refund_keys: dict = field(default_factory=dict)
    told: dict = field(default_factory=dict)
    server_errors: list = field(default_factory=list)
    settled: bool = True


def refund_ids_to_ask(oid, refunds):
    """The refund ids PhonePe is asked about for an order: those on record, and the next ones
    the order would have used (PITR-<order>-<n>), which it must not hold unknown to the order."""
    known = {r["merchantRefundId"] for r in refunds}
    return known | {f"PITR-{oid}-{k}" for k in range(1, len(refunds) + 3)}


def refunds_at_phonepe(facts, oid, refunds):
    return {mrid: facts.phonepe_refunds[mrid] for mrid in sorted(refund_ids_to_ask(oid, refunds))
            if mrid in facts.phonepe_refunds}


def charged(facts, oid):
    """merchantOrderId -> amount, for each of the order's attempts PhonePe completed."""
    out = {}
    for a in facts.attempts.get(oid, []):
        s = facts.phonepe_orders.get(a["merchantOrderId"])
        if s and s.get("state") == "COMPLETED":
            out[a["merchantOrderId"]] = s["amount"]
    return out


def refunds_by_id(orders):
    """merchantRefundId -> (order id, refund), over every order."""
    return {r["merchantRefundId"]: (oid, r) for oid, o in orders.items()
            for r in o.get("refunds") or []}


def is_flagged(order):
    return (order["payment"].get("flag") or "").startswith("refund_failed")


def variant_key(line):
    """The variant a ledger entry, an order item or a refund line names. Documents written
    before variants name only the product, whose single variant has the product's id."""
    return str(line.get("variantId") or line["productId"])


def variants(products):
    """(variant id, label, stock) of every variant: a product stored before variants is its
    own single variant, with the product's id and stock."""
    for p in products:
        if p.get("variants"):
            for v in p["variants"]:
                yield str(v["_id"]), f"{p['slug']} ({v.get('title', '?')})", v.get("stock", 0)
        else:
            yield str(p["_id"]), p["slug"], p.get("stock", 0)


def stock(facts, tally):
    """Per variant: initial stock = current stock + units in non-cancelled orders − units
    restocked by their refunds, and never negative."""
    broken = []
    held = defaultdict(int)
    for o in facts.orders.values():
        mine = defaultdict(int)
        for it in o["items"]:
            mine[variant_key(it)] += it["quantity"]
        # Units a refund put back on the shelf (decided once; a replacement of a failed
        # refund carries the lines again but restocks nothing), never more than it took.
        for r in o.get("refunds") or []:
            if r.get("restock") and not r.get("replaces"):
                for line in r.get("lines") or []:
                    vid = variant_key(line)
                    back = min(line["quantity"], mine[vid])
                    mine[vid] -= back
                    tally.add("units_restocked", back)
        # A cancelled order holds nothing: its cancellation gave back whatever its refunds
        # had not already put back on the shelf.
        if o["status"] != "cancelled":
            for vid, units in mine.items():
                held[vid] += units
    for vid, label, now in variants(facts.products):
        if facts.initial_stock[vid] != now + held[vid]:
            broken.append(f"{label} started at {facts.initial_stock[vid]}, now {now} "
                          f"with {held[vid]} in live orders (net of restocked units)")
        if now < 0:
            broken.append(f"{label} is negative ({now})")
    return broken


def ledger(facts, tally):
    """Every variant's stock is the sum of its stock_movements."""
    sums = defaultdict(int)
    for m in facts.stock_movements:
        sums[variant_key(m)] += m["delta"]
    tally.add("ledger_entries", len(facts.stock_movements))
    if not facts.stock_movements:
        return []
    return [f"{label}: stock {now} but its stock_movements sum to {sums[vid]}"
            for vid, label, now in variants(facts.products) if sums[vid] != now]


def restocks(facts, tally):
    """Per order and variant, the units its ledger entries put back (restocking refunds,
    cancellation, expiry) never exceed the units they took. The ledger still sums to the stock
    when an order's units come back twice (a restocking refund, then the cancellation returning
    every unit again), so only this sees it."""
    taken, back = defaultdict(int), defaultdict(int)
    for m in facts.stock_movements:
        if m.get("orderId") is None:
            continue
        key = (str(m["orderId"]), variant_key(m))
        if m["delta"] < 0:
            taken[key] -= m["delta"]
        else:
            back[key] += m["delta"]
    tally.add("order_variants_restocked", len(back))
    return [f"order {order} took {taken[(order, variant)]} of variant {variant} but its "
            f"ledger put {back[(order, variant)]} back"
            for order, variant in sorted(back) if back[(order, variant)] > taken[(order, variant)]]


def coupons(facts, tally):
    """usedCount = non-cancelled orders using the coupon, and never above usageLimit; per
    customer, coupon_uses count = their non-cancelled orders using it, never above
    perCustomerLimit."""
    broken = []
    live = [o for o in facts.orders.values() if o.get("couponCode") and o["status"] != "cancelled"]
    live_uses = Counter(o["couponCode"] for o in live)
    for c in facts.coupons:
        if c.get("usedCount", 0) != live_uses[c["code"]]:
            broken.append(f"{c['code']}: usedCount {c.get('usedCount')} but "
                          f"{live_uses[c['code']]} live orders use it")
        if c.get("usageLimit") is not None and c.get("usedCount", 0) > c["usageLimit"]:
            broken.append(f"{c['code']}: used {c['usedCount']} > limit {c['usageLimit']}")
    per_customer = Counter((o["userId"], o["couponCode"]) for o in live)
    limits = {c["code"]: c.get("perCustomerLimit") for c in facts.coupons}
    counted = {(u["userId"], u["code"]): u.get("count", 0) for u in facts.coupon_uses}
    for key in set(per_customer) | set(counted):
        user, code = key
        if counted.get(key, 0) != per_customer[key]:
            broken.append(f"{code} by {user}: coupon_uses says {counted.get(key, 0)}, "
                          f"{per_customer[key]} live orders use it")
        if limits.get(code) is not None and per_customer[key] > limits[code]:
            broken.append(f"{code} by {user}: {per_customer[key]} live orders > "
                          f"perCustomerLimit {limits[code]}")
    return broken


def states(facts, tally):
    """No order paid twice, none both paid and expired, every order settled (and the stack
    settled in time); one transactionId per paid order; no order's statusHistory ever shrank
    (a lost write)."""
    broken = [] if facts.settled else ["the stack did not settle in time"]
    for oid, lengths in facts.history_lengths.items():
        longest = 0
        for n in lengths:
            if n < longest:
                broken.append(f"order {oid}: statusHistory shrank from {longest} to {n} entries "
                              f"(a lost write)")
            longest = max(longest, n)
    txns = Counter()
    for oid, o in facts.orders.items():
        history = [h["status"] for h in o["statusHistory"]]
        paid_times = history.count("paid")
        pay = o["payment"]
        if paid_times > 1:
            broken.append(f"order {oid}: paid {paid_times} times")
        if o["status"] in OPEN_STATES:
            broken.append(f"order {oid}: still {o['status']} after settling")
        expired = any(h["status"] == "cancelled" and "expired" in (h.get("note") or "")
                      for h in o["statusHistory"])
        if expired and paid_times:
            broken.append(f"order {oid}: both paid and expired")
        if o["status"] in PAID_STATES and not pay.get("transactionId"):
            broken.append(f"order {oid}: {o['status']} without a transactionId")
        if pay.get("transactionId"):
            txns[pay["transactionId"]] += 1
        tally.add(f"final_{o['status']}")
        tally.add(f"final_payment_{pay.get('status')}")
    broken += [f"transaction {t} is on {n} orders" for t, n in txns.items() if n > 1]
    return broken


def money(facts, tally):
    """Per order, what PhonePe collected minus what PhonePe refunded is what the order keeps:
    its total minus payment.refundedAmount if paid, nothing if cancelled, never negative;
    refundedAmount = the sum of its completed refunds = what PhonePe says it refunded on the
    order's payment; every other completed attempt refunded in full (a 502 from initiate
    included: reconciled, not written off); PhonePe's refunds are on the order's attempts."""
    broken = []
    for oid, o in facts.orders.items():
        pay = o["payment"]
        flagged = is_flagged(o)
        if flagged:
            tally.add("orders_flagged_refund_failed")
        attempts = facts.attempts.get(oid, [])
        mids = {a["merchantOrderId"] for a in attempts}
        if pay.get("merchantOrderId"):
            mids.add(pay["merchantOrderId"])
        took = charged(facts, oid)
        for a in attempts:
            if a["merchantOrderId"] in took and a["state"] not in ("completed", "refunded") and \
                    a["merchantOrderId"] != pay.get("merchantOrderId"):
                broken.append(f"order {oid}: PhonePe took money on {a['merchantOrderId']} but the "
                              f"attempt is {a['state']}")
        refunds = o.get("refunds") or []
        at_phonepe = refunds_at_phonepe(facts, oid, refunds)
        for mrid, doc in at_phonepe.items():
            if doc.get("originalMerchantOrderId") not in mids:
                broken.append(f"refund {mrid} at PhonePe is on {doc.get('originalMerchantOrderId')}, "
                              f"not on an attempt of order {oid}")
        refunded_pp = Counter()
        for doc in at_phonepe.values():
            if doc["state"] == "COMPLETED":
                refunded_pp[doc["originalMerchantOrderId"]] += doc["amount"]
        for mid, amount in refunded_pp.items():
            if amount > took.get(mid, 0):
                broken.append(f"order {oid}: PhonePe refunded {amount} paise on {mid}, which "
                              f"collected {took.get(mid, 0)}")
        own_completed = sum(r["amount"] for r in refunds
                            if r["state"] == "completed" and r.get("kind") != "extra_charge")
        all_completed = sum(r["amount"] for r in refunds if r["state"] == "completed")
        refunded_amount = pay.get("refundedAmount") or 0
        if refunded_amount != own_completed:
            broken.append(f"order {oid}: payment.refundedAmount {refunded_amount} but its "
                          f"completed refunds add up to {own_completed}")
        if all_completed != sum(refunded_pp.values()):
            broken.append(f"order {oid}: completed refunds on the order add up to "
                          f"{all_completed}, PhonePe refunded {sum(refunded_pp.values())}")
        if pay.get("merchantOrderId") and \
                refunded_pp.get(pay["merchantOrderId"], 0) != refunded_amount and \
                all(r.get("kind") != "extra_charge" or
                    r.get("originalMerchantOrderId") != pay["merchantOrderId"] for r in refunds):
            broken.append(f"order {oid}: refundedAmount {refunded_amount}, PhonePe refunded "
                          f"{refunded_pp.get(pay['merchantOrderId'], 0)} on its payment "
                          f"{pay['merchantOrderId']}")
        kept = sum(took.values()) - sum(refunded_pp.values())
        want = o["total"] - refunded_amount if o["status"] in PAID_STATES else 0
        if kept < 0 or want < 0:
            broken.append(f"order {oid}: keeps a negative amount (PhonePe {kept}, order {want})")
        if kept != want and not flagged:
            broken.append(f"order {oid} ({o['status']}, payment {pay.get('status')}): PhonePe "
                          f"collected {sum(took.values())} and refunded "
                          f"{sum(refunded_pp.values())} — keeps {kept}, should keep {want}")
        tally.add("paise_refunded", sum(refunded_pp.values()))
        if len(took) > 1:
            tally.add("orders_charged_twice_and_refunded")
    return broken


def refunds(facts, tally):
    """Every refund ever seen keeps its merchantRefundId, order, amount and `replaces` for
    ever; settles (completed or failed) once and never changes after; none left pending; each
    matches PhonePe's record (state, amount, payment) and PhonePe holds no refund the order
    does not; a failed one is replaced once (unless the order is flagged refund_failed)."""
    broken = []
    final = {}
    for oid, o in facts.orders.items():
        for r in o.get("refunds") or []:
            if r["merchantRefundId"] in final:
                broken.append(f"merchantRefundId {r['merchantRefundId']} is on the order {oid} "
                              f"twice or on two orders")
            final[r["merchantRefundId"]] = (oid, r)
    tally.add("refund_count", len(final))
    for mrid, rec in facts.seen_refunds.items():
        for was, now in zip(rec["fixed"], rec["fixed"][1:]):
            broken += [f"refund {mrid}: {k} changed from {was[k]!r} to {now[k]!r}"
                       for k in was if was[k] != now[k]]
        last = rec["fixed"][-1]
        if mrid not in final:
            broken.append(f"refund {mrid} (order {last['order']}, {last['amount']} paise, seen "
                          f"{'/'.join(rec['states'])}) disappeared")
            continue
        oid, r = final[mrid]
        if oid != last["order"] or r["amount"] != last["amount"] or \
                r.get("replaces") != last["replaces"]:
            broken.append(f"refund {mrid} changed: was order {last['order']} {last['amount']} "
                          f"paise replacing {last['replaces']}, now order {oid} {r['amount']} "
                          f"paise replacing {r.get('replaces')}")
        seen = rec["states"] + ([r["state"]] if r["state"] != rec["states"][-1] else [])
        settled = [x for x in seen if x != "pending"]
        if len(settled) > 1 or (settled and seen[-1] == "pending") or \
                ("pending" in seen and seen.index("pending") != 0):
            broken.append(f"refund {mrid} of order {oid} went {' -> '.join(seen)}")
    for oid, o in facts.orders.items():
        on_order = o.get("refunds") or []
        known = {r["merchantRefundId"] for r in on_order}
        at_phonepe = refunds_at_phonepe(facts, oid, on_order)
        for mrid, doc in at_phonepe.items():
            if mrid not in known:
                broken.append(f"order {oid}: PhonePe holds refund {mrid} ({doc['state']}, "
                              f"{doc['amount']} paise) the order does not know")
            if doc["state"] not in ("COMPLETED", "FAILED"):
                broken.append(f"refund {mrid} of order {oid} is still {doc['state']} at PhonePe")
        for r in on_order:
            mrid = r["merchantRefundId"]
            tally.add(f"refunds_{r.get('kind')}_{r['state']}")
            if r.get("replaces"):
                tally.add("refunds_replacing_a_failed_one")
            if r["state"] == "pending":
                broken.append(f"refund {mrid} of order {oid} still pending after settling "
                              f"({r.get('checks')} checks, last error {r.get('lastError')})")
            doc = at_phonepe.get(mrid)
            want = {"completed": "COMPLETED", "failed": "FAILED"}.get(r["state"])
            if doc is None:
                if r["state"] != "pending":
                    broken.append(f"refund {mrid} of order {oid} is {r['state']} but PhonePe "
                                  f"never registered it")
                continue
            if want and doc["state"] != want:
                broken.append(f"refund {mrid} of order {oid} is {r['state']}, PhonePe says "
                              f"{doc['state']}")
            if doc["amount"] != r["amount"]:
                broken.append(f"refund {mrid} of order {oid}: {r['amount']} paise on the "
                              f"order, {doc['amount']} at PhonePe")
            if doc.get("originalMerchantOrderId") != r.get("originalMerchantOrderId"):
                broken.append(f"refund {mrid} of order {oid} gives back "
                              f"{r.get('originalMerchantOrderId')} on the order, "
                              f"{doc.get('originalMerchantOrderId')} at PhonePe")
            if r["state"] == "failed":
                replacements = [x for x in on_order if x.get("replaces") == mrid]
                if len(replacements) > 1 or (not replacements and not is_flagged(o)):
                    broken.append(f"failed refund {mrid} of order {oid} has "
                                  f"{len(replacements)} replacements")
    return broken


def refund_keys(facts, tally):
    """One refund per owner Idempotency-Key (a reuse with another body refused, a 201 given
    once); every refund the owner got 201/200 for exists."""
    broken = []
    final = refunds_by_id(facts.orders)
    for rec in facts.refund_keys.values():
        broken += [f"refund {mrid}, in an answer to the owner, is lost"
                   for mrid in rec["ids"] if mrid not in final]
    keyed = Counter(r.get("idempotencyKey") for _, r in final.values() if r.get("idempotencyKey"))
    for key, rec in facts.refund_keys.items():
        ok = [a for a in rec["answers"] if a[1] in (200, 201) and a[0] != "other_body"]
        if keyed[key] > 1:
            broken.append(f"Idempotency-Key {key} made {keyed[key]} refunds on order "
                          f"{rec['order']} (answers {rec['answers']})")
        if ok and keyed[key] == 0:
            broken.append(f"Idempotency-Key {key}: owner told {ok} but order "
                          f"{rec['order']} has no refund for it")
        created = sum(1 for a in rec["answers"] if a[1] == 201)
        if created > 1:
            broken.append(f"Idempotency-Key {key} answered 201 {created} times")
        for a in rec["answers"]:
            if a[0] == "other_body" and a[1] in (200, 201):
                broken.append(f"Idempotency-Key {key} reused with another body was accepted "
                              f"({a[1]})")
            if a[0] == "other_body":
                tally.add(f"refund_key_reuse_{a[2]}")
    return broken


def mail_event(subject):
    """The outbox event a subject line belongs to (see `subject` in common/shop/src/messages/mail/render.rs)."""
    for needle, event in [("We have received", "order_placed"), ("is confirmed", "payment_success"),
                          ("did not go through", "payment_failed"),
                          ("has shipped", "order_shipped"), ("has been delivered", "order_delivered"),
                          ("has been cancelled", "order_cancelled"), ("Your refund", "refund_issued")]:
        if needle in subject:
            return event
    return "unknown"


def mail(facts, tally):
    """Every paid order has one payment-confirmed mail; no mail queued or sent twice; every
    mail recorded as sent reached SES exactly once, every other one is skipped or unconfirmed
    (none lost)."""
    broken = []
    outbox = facts.outbox
    per_key = Counter((str(m["orderId"]), m["event"], m.get("refundId")) for m in outbox)
    broken += [f"mail {k} queued {n} times" for k, n in per_key.items() if n > 1]
    status = {(str(m["orderId"]), m["event"]): m["status"] for m in outbox
              if m["event"] != "refund_issued"}
    broken += [f"mail {m['event']} for {m['orderId']}: {m['status']} ({m.get('lastError')})"
               for m in outbox if m["status"] not in ("sent", "skipped", "unconfirmed")]
    delivered = Counter()
    refund_mails = Counter()
    # Subjects name the order by its number (`Order::display_number`: the id for orders
    # placed before numbers existed).
    by_number = {(o.get("number") or oid): oid for oid, o in facts.orders.items()}
    for subject in facts.ses_subjects:
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
            broken.append(f"mail {key[1]} for {key[0]} sent {n} times")
        if status.get(key) not in ("sent", "unconfirmed"):
            broken.append(f"mail {key[1]} for {key[0]} went out but is {status.get(key)}")
    for key, st in status.items():
        if st == "sent" and delivered[key] != 1:
            broken.append(f"mail {key[1]} for {key[0]} recorded as sent, SES has {delivered[key]}")
    refund_sent = Counter(str(m["orderId"]) for m in outbox
                          if m["event"] == "refund_issued" and m["status"] == "sent")
    refund_unconfirmed = Counter(str(m["orderId"]) for m in outbox
                                 if m["event"] == "refund_issued" and m["status"] == "unconfirmed")
    for oid in set(refund_mails) | set(refund_sent):
        if not refund_sent[oid] <= refund_mails[oid] <= refund_sent[oid] + refund_unconfirmed[oid]:
            broken.append(f"order {oid}: {refund_sent[oid]} refund mails recorded as sent "
                          f"({refund_unconfirmed[oid]} unconfirmed), SES has {refund_mails[oid]}")
    for m in outbox:
        if m["status"] == "unconfirmed":
            # The sender died mid-send or SES never answered; on-call is alarmed and decides.
            tally.add("mails_unconfirmed")
    for key, st in status.items():
        if st == "unconfirmed":
            tally.add("mails_unconfirmed_that_went_out", delivered[key])
    for oid, o in facts.orders.items():
        if "paid" in [h["status"] for h in o["statusHistory"]] and \
                status.get((oid, "payment_success")) not in ("sent", "unconfirmed"):
            broken.append(f"order {oid}: paid but no payment-confirmed mail")
    tally.add("mails_sent", sum(1 for m in outbox if m["status"] == "sent"))
    return broken


def orders(facts, tally):
    """Every order a client was told about exists (after database restarts too); one order
    per Idempotency-Key."""
    broken = []
    for key, ids in facts.told.items():
        if len(ids) > 1:
            broken.append(f"Idempotency-Key {key} made {len(ids)} orders")
        broken += [f"order {i} was confirmed to a client but is lost"
                   for i in ids if i not in facts.orders]
    tally.add("orders", len(facts.orders))
    return broken


def financial_year(at):
    """`2627` for a moment in FY 2026-27. India time is UTC+05:30; the year turns on 1 April.
    pymongo gives naive UTC datetimes."""
    t = time.gmtime(calendar.timegm(at.utctimetuple()) + 5.5 * 3600)
    start = t.tm_year if t.tm_mon >= 4 else t.tm_year - 1
    return f"{start % 100:02d}{(start + 1) % 100:02d}"


def adds_up(what, doc, rows):
    """Row by row and in all: taxable + CGST + SGST + IGST = total; totals = the rows; CGST and
    SGST only within a state, IGST only across."""
    broken = []
    for r in rows:
        if r["taxableValue"] + r["cgst"] + r["sgst"] + r["igst"] != r["total"]:
            broken.append(f"{what}: row {r.get('description')!r} taxable {r['taxableValue']} + "
                          f"tax {r['cgst']}+{r['sgst']}+{r['igst']} != total {r['total']}")
        if doc.get("interState") and (r["cgst"] or r["sgst"]):
            broken.append(f"{what}: inter-state but row {r.get('description')!r} has CGST/SGST")
        if not doc.get("interState") and r["igst"]:
            broken.append(f"{what}: intra-state but row {r.get('description')!r} has IGST")
    t = doc["totals"]
    for k in ("taxableValue", "cgst", "sgst", "igst", "total"):
        if sum(r[k] for r in rows) != t[k]:
            broken.append(f"{what}: totals.{k} {t[k]} but its rows add up to "
                          f"{sum(r[k] for r in rows)}")
    if t["cgst"] + t["sgst"] + t["igst"] != t["totalTax"] or \
            t["taxableValue"] + t["totalTax"] != t["total"]:
        broken.append(f"{what}: totals do not add up: {t}")
    return broken


def series(kind, docs, counters):
    """Numbers `{prefix}/{FY}/{seq:06}` gapless 1..n per prefix and year, counter = n: (what is
    broken, a summary line per series)."""
    broken = []
    counter_kind = "invoice" if kind == "invoice" else "creditNote"
    per = defaultdict(list)
    for d in docs:
        parts = d["number"].split("/")
        if len(parts) != 3 or not parts[2].isdigit() or len(parts[2]) != 6:
            broken.append(f"{kind} {d['number']!r} is not PREFIX/FY/000001")
            continue
        prefix, fy, seq = parts
        if fy != d.get("financialYear"):
            broken.append(f"{kind} {d['number']}: financialYear {d.get('financialYear')}")
        per[(prefix, fy)].append(int(seq))
    summary = []
    for (prefix, fy), seqs in sorted(per.items()):
        n = len(seqs)
        dup = sorted(k for k, c in Counter(seqs).items() if c > 1)
        gaps = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
        if dup:
            broken.append(f"{kind} series {prefix}/{fy}: numbers used twice: {dup[:20]}")
        if gaps:
            broken.append(f"{kind} series {prefix}/{fy}: {len(gaps)} numbers missing (burnt): "
                          f"{gaps[:20]} of 1..{max(seqs)}")
        if min(seqs) < 1:
            broken.append(f"{kind} series {prefix}/{fy}: number {min(seqs)} below 1")
        key = f"{counter_kind}/{prefix}/{fy}"
        if key not in counters:
            broken.append(f"{kind} series {prefix}/{fy}: no counter {key}")
        elif counters[key] != n:
            broken.append(f"{kind} series {prefix}/{fy}: counter {key} is {counters[key]}, "
                          f"{n} documents issued")
        summary.append(f"{prefix}/{fy} {n}: " + (f"1..{max(seqs)}" if not gaps and not dup
                                                 else f"{min(seqs)}..{max(seqs)} with "
                                                      f"{len(gaps)} gaps, {len(dup)} dups"))
    for key, seq in counters.items():
        k, prefix, fy = key.split("/", 2)
        if k == counter_kind and (prefix, fy) not in per and seq:
            broken.append(f"counter {key} is {seq} but no {kind} is in its series")
    return broken, summary


def invoices_by_order(facts):
    found = defaultdict(list)
    for i in facts.invoices:
        found[str(i["orderId"])].append(i)
    return found


def invoices(facts, tally):
    """Every order that reached shipped or delivered (statusHistory) has exactly one GST
    invoice and no other order has one; the invoice names its order, its financial year is
    that of its issue in India time, and its totals agree with the order (total = the order's
    total; taxable value, CGST, SGST, IGST = the order's locked-in tax; taxable + tax = total,
    row by row and in all; IGST only if inter-state); it bills the order's units. (The GST
    documents: common/shop/src/invoices.rs, docs/gst.md.)"""
    broken = []
    by_order = invoices_by_order(facts)
    shipped = {oid for oid, o in facts.orders.items()
               if {"shipped", "delivered"} & {h["status"] for h in o["statusHistory"]}}
    for oid in shipped:
        o, found = facts.orders[oid], by_order.get(oid, [])
        if len(found) != 1:
            broken.append(f"order {oid} ({o['status']}, shipped) has {len(found)} invoices"
                          + ("" if o.get("tax") else " (and no tax)"))
    for oid, found in by_order.items():
        if oid not in facts.orders:
            broken.append(f"invoice {found[0]['number']} is of order {oid}, which does not exist")
            continue
        o = facts.orders[oid]
        if oid not in shipped:
            broken.append(f"order {oid} ({o['status']}, never shipped) has invoice "
                          f"{found[0]['number']}")
        for i in found:
            what = f"invoice {i['number']} of order {oid}"
            if i["order"]["id"] != oid or i["order"]["number"] != (o.get("number") or oid):
                broken.append(f"{what} names order {i['order']}")
            if i.get("financialYear") != financial_year(i["at"]):
                broken.append(f"{what}: financial year {i.get('financialYear')}, issued in "
                              f"{financial_year(i['at'])} (India time)")
            broken += adds_up(what, i, list(i["lines"]) + [i["shipping"]])
            t, tax = i["totals"], o.get("tax") or {}
            if t["total"] != o["total"]:
                broken.append(f"{what}: total {t['total']}, the order's total {o['total']}")
            broken += [f"{what}: {k} {t[k]}, the order's tax says {tax[k]}"
                       for k in ("taxableValue", "cgst", "sgst", "igst", "totalTax")
                       if k in tax and t[k] != tax[k]]
            if bool(i.get("interState")) != bool(tax.get("interState")):
                broken.append(f"{what}: interState {i.get('interState')}, the order's tax "
                              f"{tax.get('interState')}")
            products = Counter()
            for it in o["items"]:
                products[str(it["productId"])] += it["quantity"]
            billed = Counter()
            for ln in i["lines"]:
                billed[ln.get("productId")] += ln.get("quantity") or 0
            if billed != products:
                broken.append(f"{what}: bills {dict(billed)}, the order has {dict(products)}")
    tally.add("invoices", len(facts.invoices))
    tally.add("orders_shipped", len(shipped))
    return broken


def invoice_numbers(facts, tally):
    """Per prefix and financial year the invoice numbers are exactly 1..n: no gap (a number
    burnt by an aborted transaction or a killed process), no duplicate; the series counter
    (`counters` `invoice/PIT/2627`) is n."""
    broken, tally.summaries["invoices"] = series("invoice", facts.invoices, facts.counters)
    return broken


def credit_notes(facts, tally):
    """Exactly one credit note per completed refund (not an extra charge's) of an invoiced
    order, whether it completed before or after the ship; none for other refunds or orders;
    each names the order's invoice, is dated in its financial year, adds up to its refund's
    amount (taxable + tax = total, row by row) and the notes of an order credit no more units
    or money than its invoice has; per prefix and financial year numbered 1..m, its counter m."""
    broken = []
    inv_by_order = invoices_by_order(facts)
    refunds = refunds_by_id(facts.orders)
    notes_by_refund = defaultdict(list)
    for n in facts.credit_notes:
        notes_by_refund[n.get("refundId")].append(n)
    due = {mrid: (oid, r) for mrid, (oid, r) in refunds.items()
           if oid in inv_by_order and r["state"] == "completed" and r.get("kind") != "extra_charge"}
    for mrid, (oid, r) in due.items():
        found = notes_by_refund.get(mrid, [])
        if len(found) != 1:
            broken.append(f"completed {r.get('kind')} refund {mrid} ({r['amount']} paise) of "
                          f"invoiced order {oid} has {len(found)} credit notes")
    credited_units = defaultdict(Counter)
    credited_total = Counter()
    for n in facts.credit_notes:
        mrid = n.get("refundId")
        what = f"credit note {n['number']} (refund {mrid})"
        if mrid not in refunds:
            broken.append(f"{what}: no order has this refund")
            continue
        oid, r = refunds[mrid]
        if mrid not in due:
            why = ("an extra charge's" if r.get("kind") == "extra_charge" else
                   f"{r['state']}" if r["state"] != "completed" else "of an uninvoiced order")
            broken.append(f"{what} of order {oid}: the refund is {why}")
        if str(n["orderId"]) != oid or n["order"]["id"] != oid:
            broken.append(f"{what}: on order {n['orderId']}/{n['order']}, the refund is on {oid}")
        inv = (inv_by_order.get(oid) or [None])[0]
        if inv is not None and n["invoice"]["number"] != inv["number"]:
            broken.append(f"{what}: names invoice {n['invoice']['number']}, order {oid} has "
                          f"{inv['number']}")
        if n.get("financialYear") != financial_year(n["at"]):
            broken.append(f"{what}: financial year {n.get('financialYear')}, issued in "
                          f"{financial_year(n['at'])}")
        if n["totals"]["total"] != r["amount"]:
            broken.append(f"{what}: total {n['totals']['total']}, the refund {r['amount']} paise")
        broken += adds_up(what, n, n["lines"])
        for ln in n["lines"]:
            if ln.get("productId") and ln.get("quantity"):
                credited_units[oid][ln["productId"]] += ln["quantity"]
        credited_total[oid] += n["totals"]["total"]
        before = inv is not None and r.get("settledAt") is not None and r["settledAt"] < inv["at"]
        tally.add(f"credit_notes_{'before' if before else 'after'}_ship")
    for oid, units in credited_units.items():
        inv = (inv_by_order.get(oid) or [None])[0]
        if inv is None:
            continue
        billed = Counter()
        for ln in inv["lines"]:
            billed[ln.get("productId")] += ln.get("quantity") or 0
        broken += [f"order {oid}: credit notes credit {q} units of {pid}, invoice "
                   f"{inv['number']} has {billed[pid]}" for pid, q in units.items() if q > billed[pid]]
        if credited_total[oid] > inv["totals"]["total"]:
            broken.append(f"order {oid}: credit notes add up to {credited_total[oid]}, more than "
                          f"invoice {inv['number']} ({inv['totals']['total']})")
    numbers, tally.summaries["credit notes"] = series("credit note", facts.credit_notes,
                                                      facts.counters)
    broken += numbers
    tally.add("credit_notes", len(facts.credit_notes))
    tally.add("credit_notes_due", len(due))
    tally.add("uninvoiced_refunds_completed", sum(
        1 for oid, r in refunds.values() if r["state"] == "completed" and oid not in inv_by_order
        and r.get("kind") != "extra_charge"))
    return broken


def server_errors(facts, tally):
    """Every 5xx a client saw was a 503 TRY_AGAIN, or the contract's 502
    PAYMENT_PROVIDER_ERROR from initiate (PhonePe slower than the client's timeout; `money`
    then checks that the attempt was reconciled, not written off)."""
    return list(facts.server_errors)


INVARIANTS = [("stock", stock), ("ledger", ledger), ("restocks", restocks), ("coupons", coupons),
              ("states", states), ("money", money), ("refunds", refunds),
              ("refund keys", refund_keys), ("mail", mail), ("orders", orders),
              ("invoices", invoices), ("invoice numbers", invoice_numbers),
              ("credit notes", credit_notes), ("5xx", server_errors)]


def check(facts, tally):
    """Every invariant: [(its name, what broke)], in the order of `INVARIANTS`."""
    return [(name, msg) for name, holds in INVARIANTS for msg in holds(facts, tally)]
