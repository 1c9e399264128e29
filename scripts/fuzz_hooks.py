"""Schemathesis hooks for `scripts/fuzz.sh` (loaded through SCHEMATHESIS_HOOKS), and the
fixture step that runs before it (`python scripts/fuzz_hooks.py prepare`).

Without help a fuzzer only ever sees the front door of this API: random ObjectIds are 404,
and one user is rate limited after five checkouts a minute. So:

- every operation gets the credentials it needs: the admin token on /admin/*, PhonePe's
  SHA-256 Authorization on the webhook, the customer token elsewhere; the one exception is
  the checkout pair (`/orders/create`, `/checkout/apply-coupon`), where each test case is a
  fresh dev user with one in-stock product in the cart, so checkouts really happen (201s are
  checked against the Order schema) instead of bouncing off the per-user limit;
- ObjectId fields (`id` in paths, `productId`/`orderId` in bodies) are sometimes swapped for
  real ones prepared beforehand: the customer's orders in several states, the catalog;
- a body is sometimes padded past the 64 KiB limit, so every route's 413 is exercised;
- a shipping address sometimes gets a real Indian mobile number and state (the two fields
  the spec describes only in words) and loses control characters, so checkouts get past
  validation.

Cases where Schemathesis deliberately drops the credentials (negative auth tests) are left
alone: Schemathesis does not call an auth provider for them.
"""

import base64
import hashlib
import json
import os
import re
import sys
import threading
import time
import unicodedata
import uuid

OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint_token(user_id: str, email: str | None = None, admin: bool = False) -> str:
    """A Clerk-shaped RS256 session token signed with the dev key, as `pitalya-dev token`."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with open(os.environ["FUZZ_PRIVATE_KEY"], "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    claims = {
        "sub": user_id,
        "sid": "sess_" + uuid.uuid4().hex,
        "iss": os.environ["CLERK_ISSUER"],
        "v": 2,
        "iat": now,
        "nbf": now - 2,
        "exp": now + 6 * 3600,
        "jti": uuid.uuid4().hex,
    }
    if email:
        claims["email"] = email
    if admin:
        claims["metadata"] = {"role": "admin"}
    header = {"typ": "JWT", "alg": "RS256", "kid": "ins_pitalya_dev"}
    signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + _b64(signature)


def webhook_authorization() -> str:
    creds = f"{os.environ['PHONEPE_WEBHOOK_USERNAME']}:{os.environ['PHONEPE_WEBHOOK_PASSWORD']}"
    return hashlib.sha256(creds.encode()).hexdigest()


def prepare() -> None:
    """Places the customer's orders the fuzzer may stumble on (created, payment_pending, paid
    twice) and prints the fixture as JSON: {"orders": [...], "products": [...]}."""
    import requests

    api, sim = os.environ["API_URL"], os.environ["SIM_URL"]
    customer = {"authorization": "Bearer " + os.environ["CUSTOMER_TOKEN"]}

    def call(method, path, body=None):
        r = requests.request(method, api + path, json=body, headers=customer, timeout=30)
        r.raise_for_status()
        return r.json()

    # Most stock first: fresh shoppers take their cart line from the front of this list.
    products = sorted(call("GET", "/products?limit=100")["items"], key=lambda p: -p["stock"])
    in_stock = [p for p in products if p["stock"] > 0]
    address = {"name": "Asha Iyer", "phone": "9876543210", "line1": "12 Temple Street",
               "city": "Chennai", "state": "Tamil Nadu", "pincode": "600004"}

    def place():
        call("POST", "/cart/add", {"productId": in_stock[0]["id"], "quantity": 1})
        return call("POST", "/orders/create", {"shippingAddress": address})["id"]

    def pay(order_id):
        attempt = call("POST", "/payments/phonepe/initiate", {"orderId": order_id})
        requests.post(f"{sim}/simulator/orders/{attempt['merchantOrderId']}/complete", timeout=30).raise_for_status()
        for _ in range(100):
            if call("GET", f"/orders/{order_id}")["status"] == "paid":
                return
            time.sleep(0.1)
        raise SystemExit(f"order {order_id} was not paid after the simulated payment")

    created = place()
    pending = place()
    call("POST", "/payments/phonepe/initiate", {"orderId": pending})
    paid = [place() for _ in range(2)]
    for order_id in paid:
        pay(order_id)
    json.dump({"orders": [created, pending, *paid], "products": [p["id"] for p in products]}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1:] == ["prepare"]:
        prepare()
        sys.exit(0)
    sys.exit("usage: fuzz_hooks.py prepare")


# ---- Schemathesis hooks (imported by the schemathesis CLI) -----------------------------------

import schemathesis  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIXTURE = json.loads(os.environ.get("FUZZ_FIXTURE", '{"orders": [], "products": []}'))
CHECKOUT_PATHS = {"/orders/create", "/checkout/apply-coupon"}


@schemathesis.auth()
class PitalyaAuth:
    """Static credentials from `get`; `set` picks the right one for the operation."""

    lock = threading.Lock()
    stock_left = True

    def get(self, case, ctx):
        return {
            "customer": os.environ["CUSTOMER_TOKEN"],
            "admin": os.environ["ADMIN_TOKEN"],
            "webhook": webhook_authorization(),
        }

    def set(self, case, data, ctx):
        path = case.operation.path
        if path == "/payments/phonepe/webhook":
            value = data["webhook"]
        elif path.startswith("/admin/"):
            value = "Bearer " + data["admin"]
        elif path in CHECKOUT_PATHS:
            value = "Bearer " + self.fresh_shopper()
        else:
            value = "Bearer " + data["customer"]
        case.headers = {**(case.headers or {}), "Authorization": value}

    def fresh_shopper(self) -> str:
        """A new user with one unit of an in-stock product in the cart (while stock lasts)."""
        import requests

        token = mint_token(f"user_fuzz_{uuid.uuid4().hex[:12]}", email="fuzz@example.com")
        with self.lock:
            if not self.stock_left:
                return token
        for product_id in FIXTURE["products"]:
            r = requests.post(os.environ["API_URL"] + "/cart/add", json={"productId": product_id, "quantity": 1},
                              headers={"authorization": "Bearer " + token}, timeout=30)
            if r.status_code == 200:
                return token
        with self.lock:
            self.stock_left = False
        return token


def _with_real_ids(value: dict, fields: dict) -> st.SearchStrategy:
    """The generated value, or the same with well-formed ObjectId fields swapped for real ones."""
    real = {k: FIXTURE[pool] for k, pool in fields.items()
            if FIXTURE[pool] and isinstance(value.get(k), str) and OBJECT_ID.match(value[k])}
    if not real:
        return st.just(value)
    swapped = st.fixed_dictionaries({k: st.sampled_from(ids) for k, ids in real.items()}).map(
        lambda ids: {**value, **ids})
    return st.one_of(st.just(value), swapped)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    return _with_real_ids(path_parameters, {"id": "orders"})


# The two address fields the spec can only describe in words (Indian mobile, state name).
DELIVERABLE = st.fixed_dictionaries({
    "phone": st.sampled_from(["9876543210", "+91 98765 43210", "919876543210", "7000000001"]),
    "state": st.sampled_from(["Tamil Nadu", "tamil nadu", "Delhi", "Orissa", "Jammu & Kashmir"]),
})


def _printable(address: dict) -> dict:
    """The address with control characters dropped from its free text (the server refuses
    them, which the spec does not spell out) and blank required lines filled in."""
    out = dict(address)
    for field, fallback in (("name", "Asha Iyer"), ("line1", "12 Temple Street"), ("line2", None), ("city", "Chennai")):
        value = out.get(field)
        if isinstance(value, str):
            value = "".join(c for c in value if unicodedata.category(c) != "Cc")
            if not value.strip():
                value = fallback
            if value is None:
                out.pop(field)
            else:
                out[field] = value
    return out


# Past the 64 KiB every route allows: the spec must document the 413 (no generator gets there).
OVERSIZED = "x" * (65 * 1024)


@schemathesis.hook
def flatmap_body(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    return st.one_of(_interesting(body), st.just({**body, "padding": OVERSIZED}))


def _interesting(body: dict) -> st.SearchStrategy:
    address = body.get("shippingAddress")
    if isinstance(address, dict) and isinstance(address.get("phone"), str) and isinstance(address.get("state"), str):
        deliverable = DELIVERABLE.map(lambda fields: {**body, "shippingAddress": {**_printable(address), **fields}})
        return st.one_of(st.just(body), deliverable)
    return _with_real_ids(body, {"orderId": "orders", "productId": "products"})
