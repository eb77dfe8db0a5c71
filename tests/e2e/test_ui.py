"""The browser UI in real headless Chromium, from the user's side: open the server's
address, find a model, try it, read its errors; and from an attacker's: a model's text
cannot become markup, and the page needs nothing but this server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import yaml
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright
from sklearn.datasets import load_iris

from modelport.train_examples import train_examples

from .conftest import Server, StartServer

pytestmark = pytest.mark.e2e


#: Screenshots of every test, kept for a look after the run.
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts" / "ui"
HOSTILE = "<img src=x onerror=\"window.pwned='img'\"><script>window.pwned='script'</script>"


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("MODELPORT_TEST_REQUIRE_SERVICES"):
            pytest.fail("no Chromium on this machine (.ci/run installs Debian's chromium)")
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        context.close()
    assert not errors, errors  # no script error on any page


def copy_model(source: Path, target: Path, model_yaml: dict[str, object]) -> None:
    shutil.copytree(source, target)
    (target / "model.yaml").write_text(yaml.safe_dump(model_yaml))


@pytest.fixture(scope="module")
def ui_models(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ui") / "models"
    shutil.copytree(trained_models / "iris-lr", folder / "iris-lr")
    original = yaml.safe_load((trained_models / "iris-lr" / "model.yaml").read_text())
    copy_model(
        trained_models / "iris-lr",
        folder / "hostile",
        {**original, "description": f"iris, described as {HOSTILE}",
         "labels": [HOSTILE, "<b>versicolor</b>", "virginica"]},
    )  # fmt: skip
    # iris-drift: iris-lr with a reference sample (the iris table itself) beside it.
    copy_model(trained_models / "iris-lr", folder / "iris-drift", original)
    iris = load_iris(as_frame=True).frame.drop(columns="target")
    iris.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in iris.columns]
    iris.to_csv(folder / "iris-drift" / "1" / "reference.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def ui_server(ui_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server([str(ui_models)], tmp_path_factory.mktemp("ui-server"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_the_address_opens_the_models_page_and_a_model_answers_its_form(
    ui_server: Server, page: Page
) -> None:
    page.goto(ui_server.url)
    page.wait_for_selector("tr[data-model='iris-lr']")
    assert urlsplit(page.url).path == "/ui"
    row = page.locator("tr[data-model='iris-lr']")
    assert "ready" in row.inner_text() and "sklearn" in row.inner_text()
    row.get_by_role("link", name="iris-lr").click()
    # The form comes from the model's signature, filled with its example row.
    assert page.get_by_label("sepal_length").input_value() == "5.1"
    assert page.get_by_label("petal_width").input_value() == "0.2"
    page.get_by_role("button", name="Predict", exact=True).click()
    page.wait_for_selector("#prediction")
    assert page.text_content("#prediction") == "setosa"
    chart = page.locator(".chart")
    assert "setosa" in (chart.get_attribute("aria-label") or "")
    assert page.locator(".chart .fill").count() == 3


def test_a_value_that_is_no_number_shows_the_servers_message_at_its_field(
    ui_server: Server, page: Page
) -> None:
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    page.get_by_label("sepal_width").fill("wide")
    page.get_by_role("button", name="Predict", exact=True).click()
    page.wait_for_selector("#feature-1[aria-invalid=true]")
    message = page.text_content("#feature-1-error")
    assert message == "row 0, feature 'sepal_width': expected a number, got string 'wide'"
    assert page.locator("#prediction").count() == 0


def test_a_models_own_text_is_shown_as_text_never_as_markup(ui_server: Server, page: Page) -> None:
    page.goto(f"{ui_server.url}/ui")
    page.wait_for_selector("tr[data-model='hostile']")
    assert HOSTILE in page.locator("tr[data-model='hostile']").inner_text()
    page.goto(f"{ui_server.url}/ui#/models/hostile")
    page.get_by_role("button", name="Predict", exact=True).click()
    page.wait_for_selector("#prediction")
    assert page.text_content("#prediction") == HOSTILE
    assert "<b>versicolor</b>" in page.locator(".chart").inner_text()
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img, main script, main b").count() == 0


def test_the_page_needs_nothing_but_this_server_and_is_small(ui_server: Server, page: Page) -> None:
    asked: list[str] = []
    sizes: list[int] = []

    def only_this_server(route: Route) -> None:
        url = route.request.url
        asked.append(url)
        if urlsplit(url).hostname == "127.0.0.1" or url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_this_server)
    page.on("response", lambda response: sizes.append(len(response.body())))
    page.goto(ui_server.url)
    page.wait_for_selector("tr[data-model='iris-lr']")
    page.wait_for_load_state("networkidle")
    assert all(
        urlsplit(url).hostname == "127.0.0.1" for url in asked if not url.startswith("data:")
    )
    assert sum(sizes) < 500_000, sizes
    headers = page.request.get(f"{ui_server.url}/ui").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


def test_200_models_are_listed_and_filtered(
    start_server: StartServer, tmp_path: Path, page: Page
) -> None:
    folder = tmp_path / "many"
    for number in range(200):
        version = folder / f"fn-{number:03d}" / "1"
        version.mkdir(parents=True)
        (version / "model.py").write_text(
            f"def predict(x: float) -> float:\n    return x + {number}\n"
        )
    server = start_server([str(folder)])
    server.wait_ready(timeout_s=120)
    page.goto(f"{server.url}/ui")
    page.wait_for_selector("tr[data-model='fn-199']")
    assert page.locator("tbody tr").count() == 200
    page.get_by_label("Filter").fill("fn-19")
    assert page.locator("tbody tr:visible").count() == 10
    assert page.get_by_text("10 of 200 model(s)").is_visible()


def test_a_server_with_an_api_token_asks_for_it_once_per_tab(
    start_server: StartServer, ui_models: Path, page: Page
) -> None:
    server = start_server([str(ui_models)], env={"MODELPORT_API_TOKEN": "ui-secret-1"})
    server.wait_ready()
    page.goto(f"{server.url}/ui")
    page.get_by_label("API token").fill("ui-secret-1")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("tr[data-model='iris-lr']")
    assert "ui-secret-1" not in page.url
    page.goto(f"{server.url}/ui#/models/iris-lr")
    page.get_by_role("button", name="Predict", exact=True).click()
    page.wait_for_selector("#prediction")
    assert "ui-secret-1" not in server.log()


def test_the_request_shown_as_code_runs_as_shown(ui_server: Server, page: Page) -> None:
    """Copy the curl, Python, tritonclient and MLflow snippets and run them: setosa."""
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    page.get_by_label("sepal_length").fill("5.0")  # the code follows the form
    snippets = {
        title: page.locator(".snippet")
        .filter(has=page.locator("h3", has_text=title))
        .locator("code")
        .inner_text()
        for title in ("curl", "Python (requests)", "tritonclient", "MLflow")
    }
    assert "5.0" in snippets["curl"] or '"sepal_length":5' in snippets["curl"]
    for title in ("curl", "MLflow"):
        shell = subprocess.run(
            ["bash", "-c", snippets[title]], capture_output=True, text=True, timeout=60, check=True
        )
        assert "setosa" in shell.stdout, (title, snippets[title], shell.stdout)
    for title in ("Python (requests)", "tritonclient"):
        python = subprocess.run(
            [sys.executable, "-c", snippets[title]],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert python.returncode == 0, (title, snippets[title], python.stderr)
        assert "setosa" in python.stdout, (title, python.stdout)


def test_manage_uploads_a_version_moves_the_alias_back_and_shows_the_audit_entry(
    ui_server: Server, tmp_path: Path, page: Page
) -> None:
    """With the admin token: point production at v1, upload v2 with the alias, see it
    listed and served, move production back to v1 (a rollback), each action audited."""
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    manage = page.locator("#manage")
    manage.get_by_label("Admin token").fill(ui_server.admin_token)
    manage.get_by_role("button", name="Unlock").click()
    manage.get_by_label("Alias", exact=True).fill("production")
    manage.get_by_role("button", name="Move").click()
    page.wait_for_selector("#aliases li[data-alias='production']")
    assert manage.locator("#aliases").inner_text() == "production → v1"
    assert "alias.set iris-lr (ok)" in (page.text_content("#audit-entry") or "")

    train_examples(tmp_path, names=["iris-onnx"])  # ONNX: a format uploads may carry
    onnx = tmp_path / "iris-onnx"
    page.set_input_files("#upload-file", str(onnx / "1" / "model.onnx"))
    page.set_input_files("#upload-yaml", str(onnx / "model.yaml"))
    manage.get_by_label("Point this alias at it (optional)").fill("production")
    manage.get_by_role("button", name="Upload").click()
    page.wait_for_selector("#manage tr[data-version='2']")
    assert "ready" in manage.locator("tr[data-version='2']").inner_text()
    assert manage.locator("#aliases").inner_text() == "production → v2"
    assert "admin-token upload iris-lr (ok)" in (page.text_content("#audit-entry") or "")
    served = page.request.post(
        f"{ui_server.url}/v1/models/iris-lr:predict", data={"instances": [[5.1, 3.5, 1.4, 0.2]]}
    ).json()
    assert (served["model_version"], served["predictions"]) == (2, ["setosa"])

    manage.get_by_label("points at").select_option("1")  # the rollback: production back to v1
    manage.get_by_role("button", name="Move").click()
    expect(manage.locator("#aliases")).to_have_text("production → v1")
    assert "alias.set iris-lr (ok)" in (page.text_content("#audit-entry") or "")
    answer = page.request.post(
        f"{ui_server.url}/v1/models/iris-lr/versions/1:predict",
        data={"instances": [[5.1, 3.5, 1.4, 0.2]]},
    )
    assert answer.json()["model_version"] == 1


def test_the_live_card_counts_predictions_as_they_come(ui_server: Server, page: Page) -> None:
    """20 predictions from another client: the live count rises by 20, the charts draw."""
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    total = page.locator("#live-total")
    expect(total).to_have_text(re.compile(r"^\d+$"))  # the first poll's count
    before = int(total.inner_text())
    for _ in range(20):
        answer = page.request.post(
            f"{ui_server.url}/v1/models/iris-lr:predict", data={"instances": [[5.1, 3.5, 1.4, 0.2]]}
        )
        assert answer.ok
    expect(total).to_have_text(str(before + 20), timeout=15_000)
    expect(page.locator("#live .uplot")).to_have_count(3, timeout=15_000)


def test_a_batch_of_csv_rows_gives_a_table_that_downloads_as_csv(
    ui_server: Server, page: Page
) -> None:
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    rows = (
        "petal_width,sepal_length,sepal_width,petal_length\n"  # any column order
        "0.2,5.1,3.5,1.4\n"
        '"2.3",6.7,3.0,5.2\n'
    )
    page.get_by_label("Rows as CSV").fill(rows)
    page.get_by_role("button", name="Predict all").click()
    table = page.locator("#batch-table tbody tr")
    expect(table).to_have_count(2)
    assert "setosa" in table.nth(0).inner_text() and "virginica" in table.nth(1).inner_text()
    with page.expect_download() as download:
        page.locator("#batch-download").click()
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0] == (
        "sepal_length,sepal_width,petal_length,petal_width,prediction,probability"
    )
    assert text.splitlines()[1].startswith("5.1,3.5,1.4,0.2,setosa,0.9")
    # A bad cell: the server's message, naming the row.
    page.get_by_label("Rows as CSV").fill("5.1,3.5,1.4,0.2\n6.7,wide,5.2,2.3\n")
    page.get_by_role("button", name="Predict all").click()
    expect(page.locator("#batch .error-box")).to_contain_text("row 1")


def test_the_distributions_of_what_the_model_saw_and_said(ui_server: Server, page: Page) -> None:
    for row in ([5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.0, 3.4, 1.5, 0.2]):
        page.request.post(f"{ui_server.url}/v1/models/iris-lr:predict", data={"instances": [row]})
    page.goto(f"{ui_server.url}/ui#/models/iris-lr")
    page.get_by_role("button", name="Show the distributions").click()
    expect(page.locator("#distributions")).to_contain_text("unlock Manage below first")
    page.locator("#manage").get_by_label("Admin token").fill(ui_server.admin_token)
    page.locator("#manage").get_by_role("button", name="Unlock").click()
    expect(page.locator("#manage #aliases, #manage .versions").first).to_be_visible()
    predictions = page.locator("#dist-predictions")
    for _ in range(50):  # the log writes its rows within a second; ask until they are in
        page.get_by_role("button", name="Show the distributions").click()
        if predictions.count() and "virginica" in predictions.inner_text():
            break
        page.wait_for_timeout(200)
    assert "setosa" in predictions.inner_text() and "virginica" in predictions.inner_text()
    assert page.locator("#distributions figure[data-feature='petal_length'] .fill").count() == 10


def test_the_drift_card_shows_each_feature_against_its_reference(
    ui_server: Server, page: Page
) -> None:
    """600 rows with petal_length 3 cm longer: that feature alerts and comes first, each
    feature shows its live and reference bars."""
    iris = load_iris().data
    rows = [[a, b, c + 3.0, d] for a, b, c, d in iris[np.arange(600) % len(iris)]]
    answer = page.request.post(
        f"{ui_server.url}/v1/models/iris-drift:predict", data={"instances": rows}
    )
    assert answer.ok
    monitor = f"{ui_server.url}/v1/models/iris-drift/monitor"
    deadline = time.monotonic() + 20
    # The log is written in the background: open the page once the rows are in it.
    while page.request.get(monitor).json()["window"]["rows"] < 600:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    page.goto(f"{ui_server.url}/ui#/models/iris-drift")
    first = page.locator("#drift figure").first
    expect(first).to_have_attribute("data-feature", "petal_length", timeout=20_000)
    expect(first).to_have_attribute("data-status", "alert")
    expect(page.locator("#drift-status")).to_have_text("alert")
    expect(page.locator("#drift figure")).to_have_count(4)
    assert page.locator("#drift figure[data-feature='petal_length'] .fill.reference").count() > 1
