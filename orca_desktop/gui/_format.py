"""Display strings for money, durations, token counts and times. Pure, never imports Qt."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

DASH = "—"


def money(value: Decimal | float | None, *, signed: bool = False) -> str:
    """USD with as many decimals as a small LLM bill needs: `$0.00042`, `$0.0150`, `$12.40`."""
    if value is None:
        return DASH
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    sign = "−" if amount < 0 else ("+" if signed and amount > 0 else "")
    amount = abs(amount)
    if amount == 0:
        return "$0"
    if amount < Decimal("0.0001"):
        text = f"{amount:.7f}"
    elif amount < Decimal("0.01"):
        text = f"{amount:.5f}"
    elif amount < 1:
        text = f"{amount:.4f}"
    else:
        text = f"{amount:,.2f}"
    return f"{sign}${text}"


def ms(value: float | None) -> str:
    """Milliseconds: `0.42 ms`, `12.3 ms`, `845 ms`, `2.41 s`."""
    if value is None:
        return DASH
    if value < 1:
        return f"{value:.2f} ms"
    if value < 100:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def count(value: int | None) -> str:
    return DASH if value is None else f"{value:,}"


def tokens_in_out(prompt: int | None, completion: int | None) -> str:
    if prompt is None and completion is None:
        return DASH
    return f"{count(prompt)} / {count(completion)}"


def local_time(iso_utc: str) -> str:
    """`HH:MM:SS` in local time for an ISO 8601 UTC stamp; the raw text if it does not parse."""
    try:
        stamp = datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    except ValueError:
        return iso_utc
    return stamp.astimezone().strftime("%H:%M:%S")


def status_text(status: int, error: str | None) -> str:
    """`200`, `in flight`, `499 client left`, `502 error`."""
    if status == 0:
        return "in flight" if error is None else "failed"
    if status == 499:
        return "499 client left"
    if status >= 400:
        return f"{status} error"
    return str(status)


def yes_no(value: bool | None) -> str:
    return DASH if value is None else ("yes" if value else "no")
