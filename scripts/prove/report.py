"""The Markdown section a run adds to the report: what was thrown at the system, what it
did, and each invariant's result."""

from collections import Counter

from .invariants import INVARIANTS


def section(args, servers, dbproc, stats, chaos, watcher, traffic_secs, failures):
    kills = sum(s.kills for s in servers)
    c = stats.counts
    broken = Counter(inv for inv, _ in failures)
    pick = lambda prefix: ", ".join(  # noqa: E731
        f"{k[len(prefix):]} {v}" for k, v in sorted(c.items()) if k.startswith(prefix)) or "none"
    weather = ", ".join(f"{k} ×{v}" for k, v in sorted(chaos.weather_log.items())) or "none"
    slow = (f"{chaos.slow_window[0]:.0f}–{chaos.slow_window[1]:.0f} s into the traffic, switched "
            f"every 1–3 s among: {weather}") if chaos.slow_window else "off"
    lines = [f"### {args.title}", "",
             f"- seed `{args.seed}`, {args.customers} customers × up to {args.orders} orders "
             f"within {args.duration:.0f} s, traffic {traffic_secs:.0f} s",
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
             f"({c['order_variants_restocked']} order × variant pairs given units back; "
             f"cancels right after a restocking refund: {pick('refund_restock_then_cancel_')}), "
             f"{c['orders_flagged_refund_failed']} orders flagged refund_failed for a person; "
             f"the watcher took {watcher.passes} snapshots of {len(watcher.seen_refunds)} refund ids",
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
             f"{'; '.join(stats.summaries.get('invoices') or ['none'])}; "
             f"credit notes {c['credit_notes']}: "
             f"{'; '.join(stats.summaries.get('credit notes') or ['none'])} "
             f"(for {c['credit_notes_due']} completed refunds of invoiced orders; "
             f"{c['credit_notes_before_ship']} issued in the ship for refunds that completed "
             f"before it, {c['credit_notes_after_ship']} after; "
             f"{c['uninvoiced_refunds_completed']} completed refunds of never-shipped orders, "
             f"rightly without one; {c['refund_before_ship_rounds']} owner refund rounds on "
             f"orders not yet shipped)",
             "- refusals seen: " + pick("create_refused_"),
             f"- 5xx responses: {pick('5xx_')} ({len(stats.server_errors)} neither 503 TRY_AGAIN nor the contract's 502 PAYMENT_PROVIDER_ERROR from initiate)",
             "- invariants: " + ", ".join(
                 f"{inv} {'holds' if not broken[inv] else f'**{broken[inv]} broken**'}"
                 for inv, _ in INVARIANTS),
             "- invariants: " + ("**all hold**" if not failures else f"**{len(failures)} broken**"),
             ""]
    lines += [f"  - {inv}: {f}" for inv, f in failures[:60]]
    return lines
