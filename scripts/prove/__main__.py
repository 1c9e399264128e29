"""The command line and the run: see the package's docstring."""

import argparse
import atexit
import os
import shlex
import sys
import threading
import time

import pymongo

from . import facts, invariants, report
from .chaos import Chaos
from .clients import Api, Sim
from .processes import ApiProcess, DbProcess, free_port
from .stats import Stats
from .traffic import Traffic
from .watch import Watcher


def parse_args():
    ap = argparse.ArgumentParser(prog="python -m prove")
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
    return args


def main():
    args = parse_args()
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

    stats = Stats()
    sim = Sim(args.sim)
    # Patient enough to wait out a database restart.
    db = pymongo.MongoClient(args.mongo, serverSelectionTimeoutMS=120_000)[args.db]
    stop = threading.Event()
    traffic = Traffic(args, bases, stats, Api(bases, stats, patience=90), sim, db, stop)
    chaos = Chaos(args, sim, stats, stop)
    watcher = Watcher(db, stop)
    for i, server in enumerate(servers):
        server.start()
        # Staggered, so the instances' jobs runs overlap at every phase.
        time.sleep(0.7 if i + 1 < len(servers) else 0)
    initial_stock = traffic.stock_the_shop()

    print(f"prove ({args.title}): {args.customers} customers x {args.orders} orders on "
          f"{len(servers)} instances, kills={'on' if args.kills else 'off'}, "
          f"db kills={'on' if args.db_kills else 'off'}, slow={'on' if args.slow else 'off'}, "
          f"seed {args.seed}", flush=True)
    started = time.time()
    side = [threading.Thread(target=traffic.owner, daemon=True),
            threading.Thread(target=traffic.owner_refunds, daemon=True),
            threading.Thread(target=chaos.weather, args=(servers,), daemon=True),
            threading.Thread(target=watcher.run, daemon=True)]
    if args.kills:
        side.append(threading.Thread(target=chaos.api_killer, args=(servers,), daemon=True))
    if args.db_kills:
        side.append(threading.Thread(target=chaos.db_killer, args=(dbproc,), daemon=True))
    for t in side:
        t.start()
    shoppers = [threading.Thread(target=traffic.customer, args=(n,)) for n in range(args.customers)]
    for t in shoppers:
        t.start()
    for t in shoppers:
        t.join()
    stop.set()
    for t in side:
        t.join()
    for server in servers:
        if server.proc.poll() is not None:
            server.start()
    traffic_secs = time.time() - started
    print(f"  traffic done in {traffic_secs:.0f}s ({sum(s.kills for s in servers)} API kills, "
          f"{dbproc.kills if dbproc else 0} database kills); settling", flush=True)
    settled = facts.settle(db, sim, chaos, watcher, args.settle_timeout)
    world = facts.gather(db, sim, args.ses, initial_stock, watcher, traffic, stats, settled)
    failures = invariants.check(world, stats)
    cleanup()

    lines = report.section(args, servers, dbproc, stats, chaos, watcher, traffic_secs, failures)
    print("\n".join(lines), flush=True)
    if args.report:
        with open(args.report, "a") as f:
            f.write("\n".join(lines) + "\n\n")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
