#!/usr/bin/env python3
"""Writes events/*.json: one API Gateway HTTP API (v2) event per route and one event per
direct invocation. Run it after adding a route; the files are committed, and the tests, `cargo
lambda invoke` and `sam local invoke` all read them.

Customer and admin events carry `Bearer DEV_TOKEN`; tests swap in a freshly minted token, and
by hand you swap in one from `make token` (docs/lambda-local.md)."""
import json, os

ORDER = "6745f0c2a1b2c3d4e5f60718"
PRODUCT = "6745f0c2a1b2c3d4e5f60001"

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
        ev["body"] = json.dumps(body)
    return ev

ADDRESS = {"name": "Asha Iyer", "phone": "+919876543210", "line1": "12 Temple Street", "line2": "Mylapore",
           "city": "Chennai", "state": "Tamil Nadu", "pincode": "600004", "country": "IN"}

events = {
    "health": http_event("GET", "/health", "/health", auth=None),
    "products-list": http_event("GET", "/products", "/products", auth=None, query={"limit": 5}),
    "products-get": http_event("GET", "/products/{slug}", "/products/kuber-brass-urli", auth=None, path_params={"slug": "kuber-brass-urli"}),
    "cart-get": http_event("GET", "/cart", "/cart"),
    "cart-add": http_event("POST", "/cart/add", "/cart/add", {"productId": PRODUCT, "quantity": 2}),
    "cart-update": http_event("POST", "/cart/update", "/cart/update", {"productId": PRODUCT, "quantity": 1}),
    "cart-remove": http_event("POST", "/cart/remove", "/cart/remove", {"productId": PRODUCT}),
    "cart-clear": http_event("DELETE", "/cart/clear", "/cart/clear"),
    "coupons-apply": http_event("POST", "/checkout/apply-coupon", "/checkout/apply-coupon", {"code": "WELCOME10"}),
    "orders-create": http_event("POST", "/orders/create", "/orders/create", {"shippingAddress": ADDRESS, "couponCode": "WELCOME10"}, headers={"idempotency-key": "checkout-7f3a9c"}),
    "orders-my": http_event("GET", "/orders/my", "/orders/my", query={"limit": 10}),
    "orders-get": http_event("GET", "/orders/{id}", f"/orders/{ORDER}", path_params={"id": ORDER}),
    "orders-invoice": http_event("GET", "/orders/{id}/invoice", "/orders/PIT-1001/invoice", path_params={"id": "PIT-1001"}),
    "orders-invoice-pdf": http_event("GET", "/orders/{id}/invoice.pdf", "/orders/PIT-1001/invoice.pdf", path_params={"id": "PIT-1001"}),
    "payments-initiate": http_event("POST", "/payments/phonepe/initiate", "/payments/phonepe/initiate", {"orderId": ORDER}),
    "payments-webhook": http_event("POST", "/payments/phonepe/webhook", "/payments/phonepe/webhook", {
        "event": "checkout.order.completed", "type": "CHECKOUT_ORDER_COMPLETED",
        "payload": {"orderId": "OMO2611241000000001234567", "merchantId": "PITALYASIM", "merchantOrderId": f"PIT-{ORDER}-1",
                    "state": "COMPLETED", "amount": 129900, "expireAt": 1795516200000,
                    "paymentDetails": [{"transactionId": "OM2611241000010001234567", "paymentMode": "UPI_QR", "timestamp": 1795514500000,
                                        "amount": 129900, "state": "COMPLETED"}]}},
        auth=None, headers={"authorization": "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e"}),
    "admin-ship-ship": http_event("POST", "/admin/orders/{id}/ship", f"/admin/orders/{ORDER}/ship",
        {"trackingNumber": "1234567890123", "carrier": "Delhivery", "description": "1 box, 2.1 kg"}, auth="admin", path_params={"id": ORDER}),
    "admin-ship-pack": http_event("POST", "/admin/orders/{id}/pack", f"/admin/orders/{ORDER}/pack", {}, auth="admin", path_params={"id": ORDER}),
    "admin-ship-deliver": http_event("POST", "/admin/orders/{id}/deliver", f"/admin/orders/{ORDER}/deliver", {}, auth="admin", path_params={"id": ORDER}),
    "admin-ship-cancel": http_event("POST", "/admin/orders/{id}/cancel", f"/admin/orders/{ORDER}/cancel", {"reason": "Customer asked to cancel"}, auth="admin", path_params={"id": ORDER}),
    # The owner's desk.
    "admin-ship-refund": http_event("POST", "/admin/orders/{id}/refund", f"/admin/orders/{ORDER}/refund",
        {"lines": [{"productId": PRODUCT, "quantity": 1}], "restock": True, "reason": "Arrived dented"}, auth="admin",
        path_params={"id": ORDER}, headers={"idempotency-key": "refund-2f9c"}),
    "admin-ship-orders-list": http_event("GET", "/admin/orders", "/admin/orders", auth="admin", query={"status": "paid,packed", "sort": "oldest"}),
    "admin-ship-orders-get": http_event("GET", "/admin/orders/{id}", "/admin/orders/PIT-1001", auth="admin", path_params={"id": "PIT-1001"}),
    "admin-ship-orders-export": http_event("GET", "/admin/orders/export.csv", "/admin/orders/export.csv", auth="admin",
        query={"from": "2026-11-01T00:00:00%2B05:30", "to": "2026-12-01T00:00:00%2B05:30"}),
    "admin-ship-products-list": http_event("GET", "/admin/products", "/admin/products", auth="admin", query={"isActive": "false"}),
    "admin-ship-products-create": http_event("POST", "/admin/products", "/admin/products", {"name": "Brass Kindi", "slug": "brass-kindi",
        "price": 149900, "stock": 12, "hsn": "7418", "gstRate": 500, "images": ["https://images.pitalya.example/products/brass-kindi/1.jpg"]}, auth="admin"),
    "admin-ship-products-patch": http_event("PATCH", "/admin/products/{id}", f"/admin/products/{PRODUCT}", {"price": 259900}, auth="admin", path_params={"id": PRODUCT}),
    "admin-ship-products-stock": http_event("POST", "/admin/products/{id}/stock", f"/admin/products/{PRODUCT}/stock", {"delta": 5, "reason": "Workshop delivery"}, auth="admin", path_params={"id": PRODUCT}),
    "admin-ship-products-movements": http_event("GET", "/admin/products/{id}/stock-movements", f"/admin/products/{PRODUCT}/stock-movements", auth="admin", path_params={"id": PRODUCT}),
    "admin-ship-coupons-list": http_event("GET", "/admin/coupons", "/admin/coupons", auth="admin"),
    "admin-ship-coupons-create": http_event("POST", "/admin/coupons", "/admin/coupons", {"code": "DIWALI20", "type": "percent", "value": 20, "maxDiscount": 50000}, auth="admin"),
    "admin-ship-coupons-patch": http_event("PATCH", "/admin/coupons/{code}", "/admin/coupons/WELCOME10", {"isActive": False}, auth="admin", path_params={"code": "WELCOME10"}),
    "admin-ship-console": http_event("GET", "/admin", "/admin", auth=None),
    "admin-ship-invoice": http_event("GET", "/admin/orders/{id}/invoice", "/admin/orders/PIT-1001/invoice", auth="admin", path_params={"id": "PIT-1001"}),
    "admin-ship-invoice-pdf": http_event("GET", "/admin/orders/{id}/invoice.pdf", "/admin/orders/PIT-1001/invoice.pdf", auth="admin", path_params={"id": "PIT-1001"}),
    "admin-ship-credit-note-pdf": http_event("GET", "/admin/orders/{id}/credit-notes/{number}", "/admin/orders/PIT-1001/credit-notes/PCN-2627-000001.pdf",
        auth="admin", path_params={"id": "PIT-1001", "number": "PCN-2627-000001.pdf"}),
    # Direct invocations of admin-ship (console, sam local invoke, cargo lambda invoke).
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
