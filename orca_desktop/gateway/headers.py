"""Names of the headers Orca adds, in one place (PRODUCT.md, HTTP surface)."""

REQUEST_ID = "X-Orca-Request-Id"
OVERHEAD_MS = "X-Orca-Overhead-Ms"
BYOK = "X-Orca-BYOK"
PROVIDER = "X-Orca-Provider"
MODEL = "X-Orca-Model"
ROUTE = "X-Orca-Route"
ROUTE_REASON = "X-Orca-Route-Reason"
"""Not in the contract's list: the one-line reason, kept out of X-Orca-Route so that
header stays exactly `<router>/<strategy>` for clients that compare it."""
