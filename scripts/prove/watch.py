"""The watcher: snapshots every order's refunds and status history throughout the run, so
that the invariants can see what changed on the way (a history that shrank, a refund whose
amount moved or that settled twice), not only how things ended."""

import pymongo.errors


class Watcher:
    def __init__(self, db, stop):
        self.db = db
        self.stop = stop
        # order id -> the lengths of its statusHistory, each time a snapshot saw it change
        self.history_lengths = {}
        # merchantRefundId -> {"fixed": [{order, amount, replaces, id}, each time it changed],
        #                      "states": [its states in the order seen]}
        self.seen_refunds = {}
        self.passes = 0

    def watch_once(self):
        for o in self.db.orders.find({}, {"refunds": 1, "statusHistory.status": 1}):
            oid = str(o["_id"])
            lengths = self.history_lengths.setdefault(oid, [])
            hist = len(o.get("statusHistory") or [])
            if not lengths or lengths[-1] != hist:
                lengths.append(hist)
            for r in o.get("refunds") or []:
                mrid = r["merchantRefundId"]
                fixed = {"order": oid, "amount": r["amount"], "replaces": r.get("replaces"),
                         "id": r.get("id")}
                rec = self.seen_refunds.get(mrid)
                if rec is None:
                    self.seen_refunds[mrid] = {"fixed": [fixed], "states": [r["state"]]}
                    continue
                if fixed != rec["fixed"][-1]:
                    rec["fixed"].append(fixed)
                if r["state"] != rec["states"][-1]:
                    rec["states"].append(r["state"])
        self.passes += 1

    def run(self):
        while not self.stop.wait(1.0):
            try:
                self.watch_once()
            except pymongo.errors.PyMongoError:
                pass
