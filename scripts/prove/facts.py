"""The end of a run: waiting for the stack to settle, then reading everything the invariants
check, once, from the database, the PhonePe simulator and the SES emulator."""

import email
import email.header
import json
import time
import urllib.request
from collections import defaultdict

from .invariants import OPEN_STATES, Facts, refund_ids_to_ask


def settle(db, sim, chaos, watcher, timeout):
    """Waits until the jobs have expired, reconciled, refunded and mailed everything."""
    chaos.calm()
    deadline = time.time() + timeout
    lapsed = False
    while time.time() < deadline:
        open_orders = db.orders.count_documents({"status": {"$in": list(OPEN_STATES)}})
        refunds = db.orders.count_documents({"payment.status": "refund_pending"})
        extra = db.payment_attempts.count_documents({"state": "refund_pending"})
        mail = db.mail_outbox.count_documents({"status": {"$in": ["pending", "sending"]}})
        pending = db.orders.count_documents({"refunds.state": "pending"})
        watcher.watch_once()
        if not lapsed and time.time() > deadline - timeout + 5:
            # Links nobody paid would stay open at PhonePe for up to an hour; let them lapse
            # now (as PhonePe would) so the orders behind them can expire.
            for a in db.payment_attempts.find({"state": {"$in": ["creating", "pending"]}}):
                sim.post(f"/simulator/orders/{a['merchantOrderId']}/expire")
            lapsed = True
        # A payment PhonePe completed whose webhook was dropped is settled only by the
        # jobs' status checks (30 s, 60 s, 120 s apart); the money invariant must not be
        # judged before they have had their turn.
        unseen = 0
        for a in db.payment_attempts.find({"state": {"$in": ["creating", "pending"]}}):
            st, s = sim.get(f"/simulator/orders/{a['merchantOrderId']}")
            if st == 200 and s and s.get("state") == "COMPLETED":
                unseen += 1
        if open_orders == refunds == extra == mail == unseen == pending == 0 and lapsed:
            return True
        print(f"  settling: {open_orders} open orders, {refunds + extra} refunds "
              f"({pending} orders with a pending refund), "
              f"{mail} mails in flight, {unseen} completed payments not yet seen", flush=True)
        time.sleep(3)
    return False


def ses_subjects(moto_url):
    """The subject of every mail the SES emulator accepted."""
    with urllib.request.urlopen(moto_url + "/moto-api/data.json", timeout=60) as r:
        ses = json.load(r)["ses"]
    # Mails with attachments (the invoice, a credit note) go out raw: their subject is in
    # the MIME headers.
    return [m["subject"] for m in ses.get("Message") or []] + [
        str(email.header.make_header(email.header.decode_header(
            email.message_from_string(m["raw_data"]).get("Subject", ""))))
        for m in ses.get("RawMessage") or []]


def gather(db, sim, moto_url, initial_stock, watcher, traffic, stats, settled):
    orders = {str(o["_id"]): o for o in db.orders.find({})}
    attempts = defaultdict(list)
    for a in db.payment_attempts.find({}):
        attempts[str(a["orderId"])].append(a)
    phonepe_orders, phonepe_refunds = {}, {}
    for oid, o in orders.items():
        for a in attempts[oid]:
            st, s = sim.get(f"/simulator/orders/{a['merchantOrderId']}")
            if st == 200 and s:
                phonepe_orders[a["merchantOrderId"]] = s
        for mrid in sorted(refund_ids_to_ask(oid, o.get("refunds") or [])):
            state, doc = sim.refund_status(mrid)
            if state is not None:
                phonepe_refunds[mrid] = doc
    return Facts(
        orders=orders,
        products=list(db.products.find({})),
        initial_stock=initial_stock,
        stock_movements=list(db.stock_movements.find(
            {}, {"productId": 1, "variantId": 1, "delta": 1, "orderId": 1})),
        coupons=list(db.coupons.find({})),
        coupon_uses=list(db.coupon_uses.find({})),
        attempts=dict(attempts),
        phonepe_orders=phonepe_orders,
        phonepe_refunds=phonepe_refunds,
        outbox=list(db.mail_outbox.find({})),
        ses_subjects=ses_subjects(moto_url),
        invoices=list(db.invoices.find({})),
        credit_notes=list(db.credit_notes.find({})),
        counters={c["_id"]: c.get("seq") for c in db.counters.find(
            {"_id": {"$regex": "^(invoice|creditNote)/"}})},
        history_lengths=watcher.history_lengths,
        seen_refunds=watcher.seen_refunds,
        refund_keys=traffic.refund_keys,
        told=traffic.told,
        server_errors=list(stats.server_errors),
        settled=settled,
    )
