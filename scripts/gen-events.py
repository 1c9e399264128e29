#!/usr/bin/env python3
"""Writes events/*.json: one API Gateway HTTP API (v2) event per route and one event per
direct invocation. Run it after adding a route; the files are committed, and the tests, `cargo
lambda invoke` and `sam local invoke` all read them.

The routes are not listed here: they are read from template.yaml (whose routes the tests hold
to the functions' ROUTES and to openapi.yaml). SAMPLES gives each route its concrete path and
body; a deployed route without a sample, or a sample for a route nobody deploys, stops the
script.

Customer and admin events carry `Bearer DEV_TOKEN`; tests swap in a freshly minted token, and
by hand you swap in one from `make token` (docs/lambda-local.md)."""
import json, os, re, sys

ORDER = "6745f0c2a1b2c3d4e5f60718"
PRODUCT = "6745f0c2a1b2c3d4e5f60001"
VARIANT = "6745f0c2a1b2c3d4e5f60002"

def http_event(method, route, path, body=None, auth="customer", query=None, path_params=None, headers=None):
    h = {"content-type": "application/json", "user-agent": "curl/8.5.0", "x-forwarded-proto": "https", "host": "api.pitalya.example"}
    if auth == "customer":
        h["authorization"] = "Bearer DEV_TOKEN"
    elif auth == "admin":
        h["authorization"] = "Bearer DEV_ADMIN_TOKEN"
    h.update(headers or {})
    ev = {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": h,
        "requestContext": {
            "accountId": "123456789012", "apiId": "pitalya", "domainName": "api.pitalya.example",
            "domainPrefix": "api", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"}, "requestId": "sample-request-id",
            "routeKey": f"{method} {route}", "stage": "$default", "time": "24/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795514400000,
        },
        "isBase64Encoded": False,
    }
    if query:
        ev["queryStringParameters"] = {k: str(v) for k, v in query.items()}
    if path_params:
        ev["pathParameters"] = path_params
    if body is not None:
        # A string is the body as sent (the Shopify import's CSV), anything else JSON.
        ev["body"] = body if isinstance(body, str) else json.dumps(body)
    return ev

ADDRESS = {"name": "Asha Iyer", "phone": "+919876543210", "line1": "12 Temple Street", "line2": "Mylapore",
           "city": "Chennai", "state": "Tamil Nadu", "pincode": "600004", "country": "IN"}

def sample(name, path, body=None, **kw):
    return lambda method, route: (name, http_event(method, route, path, body, **kw))

SAMPLES = {
    "GET /health": sample("health", "/health", auth=None),
    "GET /products": sample("products-list", "/products", auth=None, query={"limit": 5}),
    "GET /products/{slug}": sample("products-get", "/products/kuber-brass-urli", auth=None, path_params={"slug": "kuber-brass-urli"}),
    "GET /cart": sample("cart-get", "/cart"),
    "POST /cart/add": sample("cart-add", "/cart/add", {"productId": PRODUCT, "quantity": 2}),
    "POST /cart/update": sample("cart-update", "/cart/update", {"productId": PRODUCT, "quantity": 1}),
    "POST /cart/remove": sample("cart-remove", "/cart/remove", {"productId": PRODUCT}),
    "DELETE /cart/clear": sample("cart-clear", "/cart/clear"),
    "POST /checkout/apply-coupon": sample("coupons-apply", "/checkout/apply-coupon", {"code": "WELCOME10"}),
    "POST /orders/create": sample("orders-create", "/orders/create", {"shippingAddress": ADDRESS, "couponCode": "WELCOME10"}, headers={"idempotency-key": "checkout-7f3a9c"}),
    "GET /orders/my": sample("orders-my", "/orders/my", query={"limit": 10}),
    "GET /orders/{id}": sample("orders-get", f"/orders/{ORDER}", path_params={"id": ORDER}),
    "GET /orders/{id}/invoice": sample("orders-invoice", "/orders/PIT-1001/invoice", path_params={"id": "PIT-1001"}),
    "GET /orders/{id}/invoice.pdf": sample("orders-invoice-pdf", "/orders/PIT-1001/invoice.pdf", path_params={"id": "PIT-1001"}),
    "POST /payments/phonepe/initiate": sample("payments-initiate", "/payments/phonepe/initiate", {"orderId": ORDER}),
    "POST /payments/phonepe/webhook": sample("payments-webhook", "/payments/phonepe/webhook", {
        "event": "checkout.order.completed", "type": "CHECKOUT_ORDER_COMPLETED",
        "payload": {"orderId": "OMO2611241000000001234567", "merchantId": "PITALYASIM", "merchantOrderId": f"PIT-{ORDER}-1",
                    "state": "COMPLETED", "amount": 129900, "expireAt": 1795516200000,
                    "paymentDetails": [{"transactionId": "OM2611241000010001234567", "paymentMode": "UPI_QR", "timestamp": 1795514500000,
                                        "amount": 129900, "state": "COMPLETED"}]}},
        auth=None, headers={"authorization": "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"}),
    "POST /admin/orders/{id}/ship": sample("admin-ship-ship", f"/admin/orders/{ORDER}/ship",
        {"trackingNumber": "1234567890123", "carrier": "Delhivery", "description": "1 box, 2.1 kg"}, auth="admin", path_params={"id": ORDER}),
    "POST /admin/orders/{id}/pack": sample("admin-ship-pack", f"/admin/orders/{ORDER}/pack", {}, auth="admin", path_params={"id": ORDER}),
    "POST /admin/orders/{id}/deliver": sample("admin-ship-deliver", f"/admin/orders/{ORDER}/deliver", {}, auth="admin", path_params={"id": ORDER}),
    "POST /admin/orders/{id}/cancel": sample("admin-ship-cancel", f"/admin/orders/{ORDER}/cancel", {"reason": "Customer asked to cancel"}, auth="admin", path_params={"id": ORDER}),
    # The owner's desk.
    "POST /admin/orders/{id}/refund": sample("admin-ship-refund", f"/admin/orders/{ORDER}/refund",
        {"lines": [{"productId": PRODUCT, "quantity": 1}], "restock": True, "reason": "Arrived dented"}, auth="admin",
        path_params={"id": ORDER}, headers={"idempotency-key": "refund-2f9c"}),
    "POST /admin/orders/{id}/refund/preview": sample("admin-ship-refund-preview", f"/admin/orders/{ORDER}/refund/preview",
        {"lines": [{"productId": PRODUCT, "quantity": 1}]}, auth="admin", path_params={"id": ORDER}),
    "GET /admin/orders": sample("admin-ship-orders-list", "/admin/orders", auth="admin", query={"status": "paid,packed", "sort": "oldest"}),
    "GET /admin/orders/{id}": sample("admin-ship-orders-get", "/admin/orders/PIT-1001", auth="admin", path_params={"id": "PIT-1001"}),
    "GET /admin/orders/export.csv": sample("admin-ship-orders-export", "/admin/orders/export.csv", auth="admin",
        query={"from": "2026-11-01T00:00:00%2B05:30", "to": "2026-12-01T00:00:00%2B05:30"}),
    "GET /admin/products": sample("admin-ship-products-list", "/admin/products", auth="admin", query={"isActive": "false"}),
    "POST /admin/products": sample("admin-ship-products-create", "/admin/products", {"name": "Brass Kindi", "slug": "brass-kindi",
        "price": 149900, "stock": 12, "hsn": "7418", "gstRate": 500, "images": ["https://images.pitalya.example/products/brass-kindi/1.jpg"]}, auth="admin"),
    "PATCH /admin/products/{id}": sample("admin-ship-products-patch", f"/admin/products/{PRODUCT}", {"price": 259900}, auth="admin", path_params={"id": PRODUCT}),
    "POST /admin/products/{id}/stock": sample("admin-ship-products-stock", f"/admin/products/{PRODUCT}/stock", {"delta": 5, "reason": "Workshop delivery"}, auth="admin", path_params={"id": PRODUCT}),
    "POST /admin/imports/shopify-products": sample("admin-ship-imports-shopify-products", "/admin/imports/shopify-products",
        "Handle,Title,Option1 Name,Option1 Value,Variant SKU,Variant Price,Variant Inventory Qty\r\n"
        "kuber-brass-urli,Kuber Brass Urli,Size,8 in,URLI-08,2499.00,14\r\n"
        "kuber-brass-urli,,,12 in,URLI-12,4999.50,6\r\n",
        auth="admin", query={"dryRun": "true", "defaultHsn": "7418", "defaultGstRate": "1200"},
        headers={"content-type": "text/csv"}),
    "POST /admin/products/{id}/variants": sample("admin-ship-products-variants-add", f"/admin/products/{PRODUCT}/variants", {"sku": "URLI-10-ANT", "options": {"Size": "10 in", "Finish": "Antique"}, "price": 369900, "stock": 4}, auth="admin", path_params={"id": PRODUCT}),
    "PATCH /admin/products/{id}/variants/{variantId}": sample("admin-ship-products-variants-patch", f"/admin/products/{PRODUCT}/variants/{VARIANT}", {"price": 279900, "compareAtPrice": 299900}, auth="admin", path_params={"id": PRODUCT, "variantId": VARIANT}),
    "POST /admin/products/{id}/variants/{variantId}/stock": sample("admin-ship-products-variants-stock", f"/admin/products/{PRODUCT}/variants/{VARIANT}/stock", {"delta": 3, "reason": "Workshop delivery"}, auth="admin", path_params={"id": PRODUCT, "variantId": VARIANT}),
    "GET /admin/products/{id}/stock-movements": sample("admin-ship-products-movements", f"/admin/products/{PRODUCT}/stock-movements", auth="admin", path_params={"id": PRODUCT}),
    "GET /admin/coupons": sample("admin-ship-coupons-list", "/admin/coupons", auth="admin"),
    "POST /admin/coupons": sample("admin-ship-coupons-create", "/admin/coupons", {"code": "DIWALI20", "type": "percent", "value": 20, "maxDiscount": 50000}, auth="admin"),
    "PATCH /admin/coupons/{code}": sample("admin-ship-coupons-patch", "/admin/coupons/WELCOME10", {"isActive": False}, auth="admin", path_params={"code": "WELCOME10"}),
    "GET /admin": sample("admin-ship-console", "/admin", auth=None),
    "GET /admin/orders/{id}/invoice": sample("admin-ship-invoice", "/admin/orders/PIT-1001/invoice", auth="admin", path_params={"id": "PIT-1001"}),
    "GET /admin/orders/{id}/invoice.pdf": sample("admin-ship-invoice-pdf", "/admin/orders/PIT-1001/invoice.pdf", auth="admin", path_params={"id": "PIT-1001"}),
    "GET /admin/orders/{id}/credit-notes/{number}": sample("admin-ship-credit-note-pdf", "/admin/orders/PIT-1001/credit-notes/PCN-2627-000001.pdf",
        auth="admin", path_params={"id": "PIT-1001", "number": "PCN-2627-000001.pdf"}),
    "GET /admin/console.js": sample("admin-ship-console-js", "/admin/console.js", auth=None),
    "GET /admin/console.modules/{module}": sample("admin-ship-console-module", "/admin/console.modules/orders.js", auth=None,
        path_params={"module": "orders.js"}),
    "GET /admin/console.css": sample("admin-ship-console-css", "/admin/console.css", auth=None),
    "GET /admin/meta": sample("admin-ship-meta", "/admin/meta", auth="admin"),
}

# Direct invocations of admin-ship (console, sam local invoke, cargo lambda invoke).
events = {
    "admin-direct-refund": {"action": "refund", "orderId": "PIT-1001", "amount": 20000, "restock": False, "reason": "Goodwill: late delivery", "idempotencyKey": "refund-goodwill-1"},
    "admin-direct-adjust-stock": {"action": "adjustStock", "slug": "kuber-brass-urli", "delta": -1, "reason": "Damaged in the workshop"},
    "admin-direct-list-orders": {"action": "listOrders", "status": "paid,packed", "sort": "oldest", "limit": 20},
    "admin-direct-get-order": {"action": "getOrder", "orderId": "PIT-1001"},
    "admin-direct-ship": {"action": "ship", "orderId": ORDER, "trackingNumber": "1234567890123", "carrier": "Delhivery"},
    "admin-direct-pack": {"action": "pack", "orderId": ORDER},
    "admin-direct-deliver": {"action": "deliver", "orderId": ORDER},
    "admin-direct-cancel": {"action": "cancel", "orderId": ORDER, "reason": "Out of stock at the workshop"},
    "admin-direct-upsert-product": {"action": "upsertProduct", "product": {"name": "Brass Lota", "slug": "brass-lota",
        "description": "Hand-beaten water pot, 1 litre.", "price": 69900, "images": ["https://images.pitalya.example/products/brass-lota/1.jpg"], "stock": 20, "isActive": True,
        "hsn": "7418", "gstRate": 500}},
    "admin-direct-upsert-coupon": {"action": "upsertCoupon", "coupon": {"code": "NEWYEAR15", "type": "percent", "value": 15,
        "maxDiscount": 30000, "minOrderValue": 100000, "usageLimit": 200, "expiresAt": "2027-01-15T00:00:00Z"}},
    # EventBridge scheduled event for jobs.
    "jobs-schedule": {"version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-24T10:00:00Z", "region": "ap-south-1",
        "resources": ["arn:aws:events:ap-south-1:123456789012:rule/pitalya-jobs"], "detail": {}},
}

def template_routes():
    """{"METHOD /path"} for every HttpApi event in template.yaml (Path: is followed by Method:)."""
    text = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "template.yaml")).read()
    routes, path = set(), None
    for line in text.splitlines():
        m = re.match(r"\s*Path:\s*['\"]?([^'\"\s]+)", line)
        if m:
            path = m.group(1)
        m = re.match(r"\s*Method:\s*['\"]?([A-Za-z]+)", line)
        if m:
            routes.add(f"{m.group(1).upper()} {path}")
    return routes

deployed = template_routes()
unsampled = sorted(deployed - SAMPLES.keys())
undeployed = sorted(SAMPLES.keys() - deployed)
if unsampled or undeployed:
    sys.exit(f"gen-events: routes without a sample: {unsampled}; samples of routes template.yaml does not deploy: {undeployed}")
for key, make in SAMPLES.items():
    method, route = key.split(" ", 1)
    name, ev = make(method, route)
    events[name] = ev

# API Gateway as it really sends events: a named stage in rawPath, a base64 body, cookies and
# headers in whatever case the client used.
staged = http_event("GET", "/products", "/prod/products", auth=None, query={"limit": 2})
staged["requestContext"]["stage"] = "prod"
staged["requestContext"]["http"]["path"] = "/prod/products"
events["products-list-named-stage"] = staged
import base64
b64 = http_event("POST", "/cart/add", "/prod/cart/add", headers={"Content-Type": "application/json", "X-Request-Id": "sample-mixed-case"})
b64["headers"].pop("content-type", None)
b64["requestContext"]["stage"] = "prod"
b64["requestContext"]["http"]["path"] = "/prod/cart/add"
b64["body"] = base64.b64encode(json.dumps({"productId": PRODUCT, "quantity": 1}).encode()).decode()
b64["isBase64Encoded"] = True
b64["cookies"] = ["theme=dark", "storefront_session=opaque"]
events["cart-add-base64-cookies"] = b64

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "events")
for name, ev in events.items():
    with open(os.path.join(here, f"{name}.json"), "w") as f:
        json.dump(ev, f, indent=2, ensure_ascii=False)
        f.write("\n")
print(f"wrote {len(events)} events")
