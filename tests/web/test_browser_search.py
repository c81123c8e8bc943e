"""Search in chromium (issue 17, item 1): the header box finds a customer by email and a ticket by number,
results are grouped and keyboard navigable (↑/↓, Enter), typing refreshes them, and axe finds nothing
serious or critical on the page at desk and phone widths."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import axe
from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import WS, Live


@pytest.fixture(params=["desk", "phone"])
def tab(request: pytest.FixtureRequest, browser: Any, live_server: Live) -> Iterator[Tab]:
    t = Tab(browser, live_server, DESK if request.param == "desk" else PHONE)
    t.sign_in()
    yield t
    t.close()


def test_search_finds_groups_and_navigates_by_keyboard(tab: Tab) -> None:
    page, core = tab.page, tab.live.core
    customer = core.records.query(WS, "customers", None, None, 1)["data"][0]
    ticket = core.records.query(WS, "tickets", None, None, 1)["data"][0]
    page.locator("#global-search").fill(customer["data"]["email"])  # the header box, on every page
    page.locator("#global-search").press("Enter")
    page.wait_for_url(re.compile(rf".*/w/{WS}/search\?q=.*"))
    first = page.locator("a[data-hit]").first
    assert first.get_attribute("href") == f"/w/{WS}/customers/{customer['id']}"
    assert page.locator("h2.hit-group").first.inner_text() == "Customers"
    if axe.AXE.exists():
        assert [v for v in axe.violations(page) if "(serious)" in v or "(critical)" in v] == []
    tab.shot("search", full=True)

    box = page.locator("#search-q")
    box.fill(f"#{ticket['number']}")  # typing refreshes the results in place
    page.locator(f"a[data-hit][href$='/tickets/{ticket['id']}']").wait_for()
    assert page.locator("a[data-hit]").count() == 1
    assert f"#{ticket['number']}" in page.locator("a[data-hit]").first.inner_text()
    box.focus()
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.hit !== undefined")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("document.activeElement.id") == "search-q"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/tickets/{ticket['id']}$"))


def test_customer_page_from_search_has_no_serious_axe_violations(tab: Tab) -> None:
    page, core = tab.page, tab.live.core
    customer = core.records.query(WS, "customers", None, None, 1)["data"][0]
    page.goto(f"{tab.live.url}/w/{WS}/search?q={customer['data']['email']}")
    page.locator("a[data-hit]").first.click()
    page.wait_for_url(re.compile(rf".*/customers/{customer['id']}$"))
    assert page.locator("h1").inner_text() == customer["data"]["name"]
    page.locator("table.customer-tickets").wait_for()
    if axe.AXE.exists():
        assert [v for v in axe.violations(page) if "(serious)" in v or "(critical)" in v] == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the customer page is {width} px wide"
    tab.shot("customer", full=True)
