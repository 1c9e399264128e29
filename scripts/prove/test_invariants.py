"""Each invariant of `make prove` against a world that keeps it and one that breaks it, so that
an invariant which can no longer fail is noticed in seconds, not after a seven-minute run
that happens to be green. Run by `make test`:

    PYTHONPATH=scripts .venv/bin/python -m unittest prove.test_invariants
"""

import copy
import unittest
from datetime import datetime

from . import invariants
from .invariants import Facts
from .stats import Stats


def shipped_order_with_a_refund():
    """One shipped order of two lamps, paid on PhonePe, ₹10 of it refunded (completed), with
    its invoice, credit note, mails and coupon use: every invariant holds."""
    refund = {"merchantRefundId": "PITR-o1-1", "amount": 1000, "state": "completed",
              "kind": "owner", "originalMerchantOrderId": "M1", "idempotencyKey": "k1",
              "settledAt": datetime(2026, 12, 2, 9, 0)}
    order = {"_id": "o1", "number": "PIT-1", "status": "shipped", "userId": "u1",
             "couponCode": "WELCOME10", "items": [{"productId": "p1", "quantity": 2}],
             "total": 10000,
             "tax": {"taxableValue": 8800, "cgst": 600, "sgst": 600, "igst": 0, "totalTax": 1200,
                     "interState": False},
             "payment": {"status": "partially_refunded", "transactionId": "T1",
                         "merchantOrderId": "M1", "refundedAmount": 1000},
             "statusHistory": [{"status": s} for s in ("created", "payment_pending", "paid",
                                                       "shipped")],
             "refunds": [refund]}
    invoice = {"orderId": "o1", "number": "PIT/2627/000001", "financialYear": "2627",
               "at": datetime(2026, 12, 1, 10, 0), "order": {"id": "o1", "number": "PIT-1"},
               "interState": False,
               "lines": [{"productId": "p1", "quantity": 2, "description": "Brass lamp",
                          "taxableValue": 8000, "cgst": 500, "sgst": 500, "igst": 0,
                          "total": 9000}],
               "shipping": {"description": "Shipping", "taxableValue": 800, "cgst": 100,
                            "sgst": 100, "igst": 0, "total": 1000},
               "totals": {"taxableValue": 8800, "cgst": 600, "sgst": 600, "igst": 0,
                          "totalTax": 1200, "total": 10000}}
    note = {"refundId": "PITR-o1-1", "number": "PCN/2627/000001", "financialYear": "2627",
            "at": datetime(2026, 12, 2, 9, 0), "orderId": "o1", "order": {"id": "o1"},
            "invoice": {"number": "PIT/2627/000001"}, "interState": False,
            "lines": [{"description": "Refund", "taxableValue": 880, "cgst": 60, "sgst": 60,
                       "igst": 0, "total": 1000}],
            "totals": {"taxableValue": 880, "cgst": 60, "sgst": 60, "igst": 0, "totalTax": 120,
                       "total": 1000}}
    mails = [("order_placed", None), ("payment_success", None), ("order_shipped", None),
             ("refund_issued", "PITR-o1-1")]
    return Facts(
        orders={"o1": order},
        products=[{"_id": "p1", "slug": "brass-lamp", "stock": 8}],
        initial_stock={"p1": 10},
        stock_movements=[{"productId": "p1", "delta": 10, "orderId": None},
                         {"productId": "p1", "delta": -2, "orderId": "o1"}],
        coupons=[{"code": "WELCOME10", "usedCount": 1, "usageLimit": 5, "perCustomerLimit": 1}],
        coupon_uses=[{"userId": "u1", "code": "WELCOME10", "count": 1}],
        attempts={"o1": [{"orderId": "o1", "merchantOrderId": "M1", "state": "completed"}]},
        phonepe_orders={"M1": {"state": "COMPLETED", "amount": 10000}},
        phonepe_refunds={"PITR-o1-1": {"state": "COMPLETED", "amount": 1000,
                                       "originalMerchantOrderId": "M1"}},
        outbox=[{"orderId": "o1", "event": e, "refundId": r, "status": "sent"} for e, r in mails],
        ses_subjects=["We have received your order PIT-1", "Your order PIT-1 is confirmed",
                      "Your order PIT-1 has shipped", "Your refund for order PIT-1"],
        invoices=[invoice],
        credit_notes=[note],
        counters={"invoice/PIT/2627": 1, "creditNote/PCN/2627": 1},
        history_lengths={"o1": [1, 2, 3, 4]},
        seen_refunds={"PITR-o1-1": {"fixed": [{"order": "o1", "amount": 1000, "replaces": None,
                                               "id": None}],
                                    "states": ["pending", "completed"]}},
        refund_keys={"k1": {"order": "o1", "answers": [("first", 201, None)],
                            "ids": {"PITR-o1-1"}}},
        told={"ik1": {"o1"}},
    )


class Invariants(unittest.TestCase):
    def broken(self, name, facts):
        holds = dict(invariants.INVARIANTS)[name]
        return holds(facts, Stats())

    def assert_breaks(self, name, facts, words):
        found = self.broken(name, facts)
        self.assertTrue(any(words in f for f in found),
                        f"{name}: expected a violation mentioning {words!r}, got {found}")

    def world(self):
        return copy.deepcopy(shipped_order_with_a_refund())

    def test_the_report_names_the_same_invariants_in_the_same_order(self):
        self.assertEqual([name for name, _ in invariants.INVARIANTS],
                         ["stock", "ledger", "restocks", "coupons", "states", "money", "refunds",
                          "refund keys", "mail", "orders", "invoices", "invoice numbers",
                          "credit notes", "5xx"])

    def test_a_consistent_world_breaks_no_invariant(self):
        for name, _ in invariants.INVARIANTS:
            with self.subTest(name):
                self.assertEqual(self.broken(name, self.world()), [])

    def test_stock_that_vanished_breaks_stock(self):
        w = self.world()
        w.products[0]["stock"] = 7
        self.assert_breaks("stock", w, "started at 10, now 7")

    def test_negative_stock_breaks_stock(self):
        w = self.world()
        w.products[0]["stock"] = -1
        w.initial_stock["p1"] = 1
        self.assert_breaks("stock", w, "is negative")

    def test_stock_moved_without_a_ledger_entry_breaks_ledger(self):
        w = self.world()
        w.stock_movements.append({"productId": "p1", "delta": 1, "orderId": None})
        self.assert_breaks("ledger", w, "stock_movements sum to 9")

    def test_units_restocked_by_a_refund_and_again_by_the_cancel_break_restocks(self):
        w = self.world()
        w.stock_movements += [{"productId": "p1", "delta": 1, "orderId": "o1"},
                              {"productId": "p1", "delta": 2, "orderId": "o1"}]
        self.assert_breaks("restocks", w, "order o1 took 2 of variant p1 but its ledger put 3 back")

    def two_variants(self):
        """The lamp in two sizes: the order took both of its units from the small one."""
        w = self.world()
        w.products = [{"_id": "p1", "slug": "brass-lamp", "variants": [
            {"_id": "v1", "title": "Small", "stock": 8}, {"_id": "v2", "title": "Large", "stock": 5}]}]
        w.initial_stock = {"v1": 10, "v2": 5}
        w.orders["o1"]["items"] = [{"productId": "p1", "variantId": "v1", "quantity": 2}]
        w.stock_movements = [{"productId": "p1", "variantId": "v1", "delta": 10, "orderId": None},
                             {"productId": "p1", "variantId": "v2", "delta": 5, "orderId": None},
                             {"productId": "p1", "variantId": "v1", "delta": -2, "orderId": "o1"}]
        return w

    def test_variants_of_one_product_hold_every_stock_invariant_on_their_own(self):
        for name in ("stock", "ledger", "restocks"):
            with self.subTest(name):
                self.assertEqual(self.broken(name, self.two_variants()), [])

    def test_units_taken_from_the_wrong_variant_break_ledger_and_stock_though_the_product_sums(self):
        w = self.two_variants()
        # The product's total is right (13), but the sale came out of the large one.
        w.products[0]["variants"][0]["stock"] = 10
        w.products[0]["variants"][1]["stock"] = 3
        self.assert_breaks("ledger", w, "brass-lamp (Large): stock 3 but its stock_movements sum to 5")
        self.assert_breaks("stock", w, "brass-lamp (Small) started at 10, now 10 with 2 in live orders")

    def test_a_use_counted_for_no_order_breaks_coupons(self):
        w = self.world()
        w.coupons[0]["usedCount"] = 2
        self.assert_breaks("coupons", w, "usedCount 2 but 1 live orders use it")

    def test_a_customer_past_the_coupons_limit_breaks_coupons(self):
        w = self.world()
        w.coupons[0]["perCustomerLimit"] = 0
        self.assert_breaks("coupons", w, "perCustomerLimit 0")

    def test_an_order_paid_twice_breaks_states(self):
        w = self.world()
        w.orders["o1"]["statusHistory"].insert(3, {"status": "paid"})
        self.assert_breaks("states", w, "paid 2 times")

    def test_a_status_history_that_shrank_breaks_states(self):
        w = self.world()
        w.history_lengths["o1"] = [3, 4, 2]
        self.assert_breaks("states", w, "statusHistory shrank from 4 to 2")

    def test_a_stack_that_never_settled_breaks_states(self):
        w = self.world()
        w.settled = False
        self.assert_breaks("states", w, "did not settle")

    def test_a_second_charge_never_refunded_breaks_money(self):
        w = self.world()
        w.attempts["o1"].append({"orderId": "o1", "merchantOrderId": "M2", "state": "failed"})
        w.phonepe_orders["M2"] = {"state": "COMPLETED", "amount": 10000}
        self.assert_breaks("money", w, "PhonePe took money on M2 but the attempt is failed")
        self.assert_breaks("money", w, "keeps 19000, should keep 9000")

    def test_a_refunded_amount_phonepe_never_paid_breaks_money(self):
        w = self.world()
        w.orders["o1"]["payment"]["refundedAmount"] = 2000
        self.assert_breaks("money", w, "payment.refundedAmount 2000 but its completed refunds "
                                       "add up to 1000")

    def test_a_refund_phonepe_holds_unknown_to_the_order_breaks_refunds(self):
        w = self.world()
        w.phonepe_refunds["PITR-o1-2"] = {"state": "COMPLETED", "amount": 500,
                                          "originalMerchantOrderId": "M1"}
        self.assert_breaks("refunds", w, "PhonePe holds refund PITR-o1-2")

    def test_a_refund_whose_amount_changed_during_the_run_breaks_refunds(self):
        w = self.world()
        w.seen_refunds["PITR-o1-1"]["fixed"].insert(0, {"order": "o1", "amount": 2000,
                                                        "replaces": None, "id": None})
        self.assert_breaks("refunds", w, "amount changed from 2000 to 1000")

    def test_a_refund_that_settled_twice_breaks_refunds(self):
        w = self.world()
        w.seen_refunds["PITR-o1-1"]["states"] = ["pending", "failed", "completed"]
        self.assert_breaks("refunds", w, "went pending -> failed -> completed")

    def test_a_refund_left_pending_breaks_refunds(self):
        w = self.world()
        w.orders["o1"]["refunds"][0]["state"] = "pending"
        self.assert_breaks("refunds", w, "still pending after settling")

    def test_one_key_answered_created_twice_breaks_refund_keys(self):
        w = self.world()
        w.refund_keys["k1"]["answers"].append(("replay", 201, None))
        self.assert_breaks("refund keys", w, "answered 201 2 times")

    def test_a_refund_the_owner_was_told_of_that_is_gone_breaks_refund_keys(self):
        w = self.world()
        w.refund_keys["k1"]["ids"].add("PITR-o1-9")
        self.assert_breaks("refund keys", w, "refund PITR-o1-9, in an answer to the owner, is lost")

    def test_a_mail_sent_twice_breaks_mail(self):
        w = self.world()
        w.ses_subjects.append("Your order PIT-1 is confirmed")
        self.assert_breaks("mail", w, "mail payment_success for o1 sent 2 times")

    def test_a_paid_order_without_its_confirmation_breaks_mail(self):
        w = self.world()
        w.outbox = [m for m in w.outbox if m["event"] != "payment_success"]
        w.ses_subjects.remove("Your order PIT-1 is confirmed")
        self.assert_breaks("mail", w, "paid but no payment-confirmed mail")

    def test_an_order_confirmed_to_a_client_and_lost_breaks_orders(self):
        w = self.world()
        w.told["ik2"] = {"o9"}
        self.assert_breaks("orders", w, "order o9 was confirmed to a client but is lost")

    def test_one_idempotency_key_making_two_orders_breaks_orders(self):
        w = self.world()
        w.told["ik1"].add("o2")
        self.assert_breaks("orders", w, "Idempotency-Key ik1 made 2 orders")

    def test_a_shipped_order_without_an_invoice_breaks_invoices(self):
        w = self.world()
        w.invoices = []
        self.assert_breaks("invoices", w, "has 0 invoices")

    def test_an_invoice_that_does_not_add_up_breaks_invoices(self):
        w = self.world()
        w.invoices[0]["lines"][0]["cgst"] = 400
        self.assert_breaks("invoices", w, "!= total 9000")

    def test_a_burnt_invoice_number_breaks_invoice_numbers(self):
        w = self.world()
        w.invoices[0]["number"] = "PIT/2627/000002"
        w.counters["invoice/PIT/2627"] = 2
        self.assert_breaks("invoice numbers", w, "1 numbers missing (burnt)")

    def test_a_completed_refund_of_an_invoiced_order_without_a_credit_note_breaks_credit_notes(self):
        w = self.world()
        w.credit_notes = []
        self.assert_breaks("credit notes", w, "has 0 credit notes")

    def test_a_credit_note_for_more_than_its_refund_breaks_credit_notes(self):
        w = self.world()
        w.orders["o1"]["refunds"][0]["amount"] = 900
        self.assert_breaks("credit notes", w, "total 1000, the refund 900 paise")

    def test_a_server_error_breaks_5xx(self):
        w = self.world()
        w.server_errors = ["POST /orders/create via instance 0 -> 500 None"]
        self.assert_breaks("5xx", w, "-> 500")


if __name__ == "__main__":
    unittest.main()
