"""`make prove`: the invariant suite (`python -m prove`, with scripts/ on the path).

Many concurrent customers, spread over several API instances (each a dev server with its own
jobs loop, all on one database), drive the local stack over HTTP (carts, coupons, orders,
PhonePe initiations, payments through the simulator with duplicated, delayed and dropped
webhooks, two payment pages paid at once, payment after an owner's cancel, abandoned orders
left to expire) while the owner packs, ships, delivers, cancels (some orders right after
refunding part of their units with restocking) and refunds random parts of shipped and
delivered orders (by amount, by lines, in full, with and without restocking,
Idempotency-Keys replayed, concurrently too) and, now and then, of paid or packed orders
before they ship (whose credit notes are then issued with the invoice, in the ship). For the
middle of the run the simulator is slow on pay, status and refunds (some refunds slower than
a jobs interval, some slower than the PhonePe client's 8 s timeout), sometimes fails refunds
or settles orders on pay. Optionally API instances are SIGKILLed at random moments and
restarted, and the database itself (on disk, synced on commit) is SIGKILLed and restarted on
the same port and data. A watcher snapshots every order's refunds and status history
throughout. When the traffic stops and the stack has settled, the invariants are checked
from the database, the PhonePe simulator and the SES emulator.

Exit status 0 only when every invariant holds and no request got a 5xx.
Started by scripts/prove.sh, which brings the stack up on free ports.

  __main__.py    the command line and the run: instances up, traffic and chaos, settle, check
  traffic.py     the shoppers and the owner
  chaos.py       the simulator's weather; API instances and the database SIGKILLed
  watch.py       snapshots of every order's refunds and status history during the run
  facts.py       waiting for the stack to settle, then reading what the invariants check
  invariants.py  one function per invariant (its docstring says what it holds): facts in,
                 what is broken out
  report.py      the Markdown section of the report (bench/prove.md)
  clients.py     the API (with a real client's retries) and the PhonePe simulator
  processes.py   the API instances and the database it kills and restarts
  stats.py       the tally the report prints
  test_invariants.py  each invariant against a world that breaks it and one that does not
                 (`make test` runs it)
"""
