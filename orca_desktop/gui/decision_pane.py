"""The detail pane: why the selected request went where it went, and what it cost.

Shows the requested model, route (router/strategy) and reason, what a
translation dropped (when it dropped anything), every candidate with its
estimated cost and exclusion reason, every attempt with status, error and
duration, tokens (cache reads and writes included), cost, reference cost,
savings, and the gateway's overhead next to upstream latency and time to
first token.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape

from PySide6.QtWidgets import QTextBrowser, QWidget

from orca_desktop.gui import _format as fmt
from orca_desktop.gui._style import ACCENT, BAD, GOOD, LINE, MUTED, WARN
from orca_desktop.telemetry.record import CandidateView, RequestRecord

EMPTY_TEXT = "Select a request to see how it was routed and what it cost."
GONE_TEXT = (
    "No longer in the live table: newer requests pushed it out. "
    "It stays here until you pick another row."
)

_CSS = f"""
td, th {{ padding: 2px 8px 2px 0; vertical-align: top; }}
th {{ color: {MUTED}; font-weight: 600; text-align: left; border-bottom: 1px solid {LINE}; }}
.k {{ color: {MUTED}; padding-right: 14px; }}
.num {{ text-align: right; }}
.muted {{ color: {MUTED}; }}
.ok {{ color: {GOOD}; }}
.bad {{ color: {BAD}; }}
.warn {{ color: {WARN}; }}
.chosen {{ color: {ACCENT}; font-weight: 600; }}
"""


def _h(title: str) -> str:
    """A small section heading (Qt's rich text ignores CSS font sizes on headings)."""
    return (
        "<p style='margin-top: 12px; margin-bottom: 3px;'>"
        f"<span style='font-size: 8pt; font-weight: 600; color: {MUTED};'>"
        f"{escape(title.upper())}</span></p>"
    )


def _e(text: object) -> str:
    return escape(str(text)) if text is not None else fmt.DASH


def _pairs(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td class='k'>{_e(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table cellspacing='0'>{cells}</table>"


def _status_html(record: RequestRecord) -> str:
    text = _e(fmt.status_text(record.status, record.error))
    if record.status == 0 or record.status == 499:
        return f"<span class='warn'>{text}</span>"
    if record.status >= 400:
        return f"<span class='bad'>{text}</span>"
    return f"<span class='ok'>{text}</span>"


def _summary(r: RequestRecord) -> str:
    served = _e(r.model) if r.model else "<span class='muted'>not served</span>"
    via = f" <span class='muted'>via {_e(r.provider)}</span>" if r.provider else ""
    route = f"{r.router}/{r.strategy}" if r.router else None
    rows = [
        ("Requested", _e(r.requested_model)),
        ("Route", _e(route)),
        ("Reason", _e(r.reason)),
        ("Status", _status_html(r)),
        ("BYOK", _e(fmt.yes_no(r.byok))),
        ("Client", _e(r.client)),
        ("Endpoint", _e(r.endpoint) + (" · stream" if r.stream else "")),
        ("Request id", f"<span class='muted'>{_e(r.id)}</span>"),
    ]
    if r.error:
        rows.insert(4, ("Error", f"<span class='bad'>{_e(r.error)}</span>"))
    title = f"<p style='margin: 0 0 6px 0; font-size: 13pt; font-weight: 600;'>{served}{via}</p>"
    return title + _pairs(rows) + _dropped(r)


def _dropped(r: RequestRecord) -> str:
    """One line naming what a translation left out; nothing when it left nothing out."""
    if not r.dropped:
        return ""
    names = escape(", ".join(r.dropped))
    return f"<p class='warn' style='margin-top: 6px;'>Dropped in translation: {names}</p>"


def _candidates(r: RequestRecord) -> str:
    if not r.candidates:
        return _h("Candidates") + "<p class='muted'>No candidates were considered.</p>"
    head = "<tr><th>Model</th><th>Provider</th><th class='num'>Est. cost</th><th>Verdict</th></tr>"

    def order(c: CandidateView) -> tuple[int, Decimal]:
        served = c.model == r.model and c.provider == r.provider
        rank = 0 if served and not c.excluded else (2 if c.excluded else 1)
        return rank, c.estimated_cost_usd if c.estimated_cost_usd is not None else Decimal(0)

    body = []
    for c in sorted(r.candidates, key=order):
        if c.excluded:
            verdict = f"<span class='bad'>excluded: {_e(c.excluded)}</span>"
        elif c.model == r.model and c.provider == r.provider:
            verdict = "<span class='chosen'>served</span>"
        else:
            verdict = "<span class='ok'>eligible</span>"
        body.append(
            f"<tr><td>{_e(c.model)}</td><td>{_e(c.provider)}</td>"
            f"<td class='num'>{_e(fmt.money(c.estimated_cost_usd))}</td><td>{verdict}</td></tr>"
        )
    return _h("Candidates") + f"<table cellspacing='0'>{head}{''.join(body)}</table>"


def _attempts(r: RequestRecord) -> str:
    if not r.attempts:
        return _h("Attempts") + "<p class='muted'>No upstream call was made.</p>"
    head = (
        "<tr><th>#</th><th>Model</th><th>Provider</th><th>Status</th>"
        "<th class='num'>Duration</th><th>Error</th></tr>"
    )
    body = []
    for n, a in enumerate(r.attempts, start=1):
        ok = 200 <= a.status < 300 and not a.error
        status = f"<span class='{'ok' if ok else 'bad'}'>{a.status or 'no response'}</span>"
        error = f"<span class='bad'>{_e(a.error)}</span>" if a.error else ""
        body.append(
            f"<tr><td>{n}</td><td>{_e(a.model)}</td><td>{_e(a.provider)}</td><td>{status}</td>"
            f"<td class='num'>{_e(fmt.ms(a.duration_ms))}</td><td>{error}</td></tr>"
        )
    return _h("Attempts") + f"<table cellspacing='0'>{head}{''.join(body)}</table>"


def _usage(r: RequestRecord) -> str:
    reference = fmt.money(r.reference_cost_usd)
    if r.reference_model:
        reference += f" ({r.reference_model})"
    saved = _e(fmt.money(r.savings_usd, signed=True))
    if r.savings_usd is not None and r.savings_usd < 0:
        saved = f"<span class='bad'>{saved}</span>"
    tokens = [
        ("Prompt tokens", _e(fmt.count(r.prompt_tokens))),
        ("Completion tokens", _e(fmt.count(r.completion_tokens))),
        ("Cached tokens", _e(fmt.count(r.cached_tokens))),
        ("Cache writes", _e(fmt.count(r.cache_write_tokens))),
        ("Reasoning tokens", _e(fmt.count(r.reasoning_tokens))),
    ]
    money = [
        ("Cost", _e(fmt.money(r.cost_usd))),
        ("Reference cost", _e(reference)),
        ("Saved", saved),
    ]
    timing = [
        ("Gateway overhead", _e(fmt.ms(r.overhead_ms))),
        ("Upstream latency", _e(fmt.ms(r.upstream_ms))),
        ("Time to first token", _e(fmt.ms(r.ttft_ms))),
        ("Total duration", _e(fmt.ms(r.duration_ms))),
    ]
    return (
        _h("Cost") + _pairs(money) + _h("Timing") + _pairs(timing) + _h("Tokens") + _pairs(tokens)
    )


def decision_html(record: RequestRecord) -> str:
    """The pane's HTML for one record, in two columns; every value is escaped."""
    left = _summary(record) + _candidates(record) + _attempts(record)
    return (
        "<table width='100%' cellspacing='0' cellpadding='0'><tr>"
        f"<td width='62%' valign='top' style='padding-right: 24px;'>{left}</td>"
        f"<td valign='top'>{_usage(record)}</td>"
        "</tr></table>"
    )


class DecisionPane(QTextBrowser):
    """Read-only rich text about one request; redraws only when what it shows changed.

    Records are replaced, never mutated (the LiveView stores the record each
    event carries), so the same record object means nothing to redraw: a
    render costs several ms of the GUI thread, and under load it would
    otherwise happen on every tick.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.document().setDefaultStyleSheet(_CSS)
        self.document().setDocumentMargin(10)
        self._record: RequestRecord | None = None
        self._in_table = True
        self._render()

    @property
    def record_id(self) -> str | None:
        return self._record.id if self._record is not None else None

    @property
    def in_table(self) -> bool:
        """False once the shown request has been pushed out of the live table."""
        return self._in_table

    def show_record(self, record: RequestRecord | None, *, in_table: bool = True) -> None:
        """Show `record` (None: the hint); a no-op when that is what is already shown."""
        if record is self._record and in_table == self._in_table:
            return
        self._record = record
        self._in_table = in_table
        self._render()

    def set_in_table(self, in_table: bool) -> None:
        """Say whether the shown request is still in the live table (a note when not)."""
        self.show_record(self._record, in_table=in_table)

    def _render(self) -> None:
        if self._record is None:
            self.setHtml(f"<p class='muted'>{escape(EMPTY_TEXT)}</p>")
        elif self._in_table:
            self.setHtml(decision_html(self._record))
        else:
            self.setHtml(f"<p class='muted'>{escape(GONE_TEXT)}</p>" + decision_html(self._record))
