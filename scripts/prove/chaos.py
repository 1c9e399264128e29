"""The chaos of a run: a PhonePe simulator whose webhooks are duplicated, delayed, dropped and
sent to a random instance, slow and unreliable for the middle of the traffic; API instances
and the database SIGKILLed and restarted at random moments."""

import random
import time
from collections import Counter


class Chaos:
    def __init__(self, args, sim, stats, stop):
        self.args = args
        self.sim = sim
        self.stats = stats
        self.stop = stop
        # What the slow phase switched the simulator to, and when (seconds into the traffic).
        self.weather_log = Counter()
        self.slow_window = None

    def weather(self, servers):
        """Switches the simulator's webhooks (duplicated, delayed, dropped, sent to a random
        instance) every 1–3 s and, in the slow window, makes it slow and unreliable."""
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

    def api_killer(self, servers):
        """SIGKILLs a random API instance every few seconds and restarts it."""
        rng = random.Random(self.args.seed + 13)
        while not self.stop.wait(rng.uniform(*self.args.kill_every)):
            server = rng.choice(servers)
            server.kill()
            time.sleep(rng.uniform(0.1, 1.5))
            server.start()

    def db_killer(self, db):
        """SIGKILLs the database now and then and restarts it on the same port and data."""
        rng = random.Random(self.args.seed + 19)
        while not self.stop.wait(rng.uniform(*self.args.db_kill_every)):
            db.kill()
            print(f"  database SIGKILLed ({db.kills})", flush=True)
            time.sleep(rng.uniform(0.2, 2.0))
            db.start()

    def calm(self):
        """Every knob off, for the jobs to settle what the chaos left."""
        self.sim.post("/simulator/config", {"duplicateWebhooks": 0, "webhookDelayMs": 0,
                                            "dropWebhooks": False, "slowRefundMs": 0,
                                            "slowStatusMs": 0, "slowPayMs": 0,
                                            "failRefunds": False, "settleOnPay": None})
