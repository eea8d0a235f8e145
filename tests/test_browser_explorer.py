"""Notebook 05's explorer, live: JupyterLab in a headless Chromium, driven by Playwright.

What runs: a JupyterLab server on 127.0.0.1 (random token, free port, a temporary root folder)
holding a copy of ``notebooks/05_token_attribution.ipynb`` with ``SMOKE = True`` injected by
papermill; Debian's Chromium (``/usr/bin/chromium``, installed with apt-get when it is missing
and the test runs as root; Playwright never downloads a browser) opens it, runs every cell from
the Run menu, waits for the :class:`rewardlab.shaping.views.AttributionExplorer`, chooses each other
method in turn and checks that the token heat-map changes every time.

The screenshot goes to the test's ``tmp_path`` and, when ``$REWARDLAB_SCREENSHOT_DIR`` is set,
there too (``05_explorer_in_jupyterlab.png``), e.g. to regenerate the committed figure:

    REWARDLAB_SCREENSHOT_DIR=figures/browser python -m pytest tests/test_browser_explorer.py -s

The server, its kernel and the browser inherit the environment, so the notebook builds its
models in the session's artifact cache (``tests/conftest.py``); executed-notebook metrics and
figures go to temporary folders, never into the repository. The test skips only where Chromium
cannot be installed; everything else it needs it installs or starts itself.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from rewardlab.reproduce import notebooks_dir

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-proxy-server"]
NOTEBOOK = "05_token_attribution.ipynb"
SCREENSHOT = "05_explorer_in_jupyterlab.png"

SERVER_START_S = 90  # JupyterLab answering /api/status
LAB_LOAD_S = 90  # the page, the notebook's cells and an idle kernel
RUN_ALL_S = 300  # every cell, building the smoke SFT policy and reward models in a fresh cache
METHOD_S = 60  # one click on a method until the heat-map shows it

# DOM of JupyterLab 4 and ipywidgets 8
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]'
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
EXPLORER = ".jp-OutputArea-output .widget-vbox:has(.widget-toggle-buttons)"
METHOD_BUTTONS = f"{EXPLORER} .widget-toggle-buttons button"
HEATMAP = f"{EXPLORER} > .widget-html .widget-html-content"
NOTEBOOK_PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
RUN_ALL = '.lm-Menu-item[data-command="runmenu:run-all"], .lm-Menu-item[data-command="notebook:run-all-cells"]'


# ------------------------------------------------------------------ what the test needs


def _install_chromium() -> str | None:
    """Install Debian's chromium with apt-get; None on success, else why it could not."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt-get holding the lock: wait, don't skip
    failures = []
    # a failed `update` (one unreachable mirror) may still leave usable package lists: install anyway
    for command in (["apt-get", *wait, "update"],
                    ["apt-get", *wait, "install", "-y", "--no-install-recommends", "chromium"]):
        shown = " ".join(c for c in command if c not in wait)
        try:
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            failures.append(f"`{shown}` did not finish in 600 s")
            continue
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            failures.append(f"`{shown}` exited with {done.returncode}: {' / '.join(tail)}")
    return None if CHROMIUM.exists() else "; ".join(failures) or f"apt-get install chromium left no {CHROMIUM}"


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's Chromium, installed when missing; the test skips where it cannot be."""
    reason = None if CHROMIUM.exists() else _install_chromium()
    if reason is None:
        try:
            version = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60)
            if version.returncode != 0:
                reason = (f"{CHROMIUM} is there but `{CHROMIUM} --version` exited with {version.returncode}: "
                          f"{(version.stderr or version.stdout).strip()[-300:] or '(no output)'}")
        except (OSError, subprocess.TimeoutExpired) as error:
            reason = f"{CHROMIUM} is there but does not run ({error})"
    if reason is not None:
        pytest.skip(f"Chromium could not be installed: {reason}; install Debian's chromium package to run this test")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def playwright_api():
    """Playwright's sync API (a dev dependency), pip-installed into this interpreter when missing."""
    try:
        from playwright import sync_api
    except ImportError:
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "playwright>=1.40"],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"pip install playwright failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        importlib.invalidate_caches()
        from playwright import sync_api
    return sync_api


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> bytes:
    """GET without any proxy."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    with opener.open(url, timeout=timeout) as response:
        return response.read()


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen, port: int, token: str) -> None:
    """Shut the server and its kernels down; kill whatever of its process tree is left."""
    import psutil

    try:
        tree = psutil.Process(process.pid).children(recursive=True)  # the kernels live in their own sessions
    except psutil.Error:
        tree = []
    if process.poll() is None:
        try:  # the server's own shutdown: kernels first, then itself
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            opener.open(urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown", method="POST",
                                               headers={"Authorization": f"token {token}"}), timeout=10)
        except (urllib.error.URLError, OSError):
            pass
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=10)
                    break
                except subprocess.TimeoutExpired:
                    continue
    try:
        os.killpg(process.pid, signal.SIGKILL)  # anything the server's group still holds
    except ProcessLookupError:
        pass
    _, alive = psutil.wait_procs(tree, timeout=10)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, isolated_artifacts):
    """A JupyterLab server on 127.0.0.1 with a smoke copy of notebook 05.

    Yields the notebook's url, ``api(path)`` (a GET of the REST API, decoded), the number of
    cells in the notebook, the folder the kernel writes run metrics to and the server's log file.
    """
    import papermill

    root = tmp_path_factory.mktemp("lab")
    work, home = root / "work", root / "jupyter"
    work.mkdir()
    papermill.execute_notebook(str(notebooks_dir() / NOTEBOOK), str(work / NOTEBOOK), prepare_only=True,
                               parameters={"PRESET": "tiny", "SMOKE": True}, kernel_name="python3",
                               progress_bar=False)
    settings = home / "config" / "lab" / "user-settings" / "@jupyterlab"
    for extension, plugin, values in [
        ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False,
                                                "doNotDisturbMode": True}),
        ("notebook-extension", "tracker", {"windowingMode": "none"}),  # every cell in the DOM
    ]:
        (settings / extension).mkdir(parents=True, exist_ok=True)
        (settings / extension / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))

    env = {**os.environ,  # REWARDLAB_ARTIFACTS among it: the session's cache
           "REWARDLAB_RUNS_DIR": str(root / "runs"), "REWARDLAB_FIGURES_DIR": str(root / "figures"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_DATA_DIR": str(home / "data"),
           "IPYTHONDIR": str(home / "ipython"), "TQDM_MININTERVAL": "5", "PYTHONUNBUFFERED": "1"}
    assert env.get("REWARDLAB_ARTIFACTS") == str(isolated_artifacts)
    token, port = secrets.token_hex(16), _free_port()
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--IdentityProvider.token={token}",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.root_dir={work}", "--LabApp.news_url=None",
               "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
               f"--LabApp.user_settings_dir={home / 'config' / 'lab' / 'user-settings'}",
               f"--LabApp.workspaces_dir={home / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log = root / "jupyterlab.log"
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode} before answering:\n{_tail(log)}")
            try:
                json.loads(_get(f"http://127.0.0.1:{port}/api/status?token={token}"))
                break
            except (urllib.error.URLError, OSError, ValueError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer on port {port} in {SERVER_START_S} s:\n{_tail(log)}")
                time.sleep(0.5)
        yield SimpleNamespace(
            url=f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}", log=log, runs=root / "runs",
            api=lambda path: json.loads(_get(f"http://127.0.0.1:{port}/api/{path}?token={token}")),
            n_cells=len(json.loads((work / NOTEBOOK).read_text())["cells"]))
    finally:
        _stop(process, port, token)


# ------------------------------------------------------------------ the page


def _page_report(page, log: Path, page_errors: list[str]) -> str:
    """What the page shows that could explain a failure: errors, dialogs, stderr, the server log."""
    parts = []
    try:
        errors = page.locator(ERROR_OUTPUT).all_text_contents()
        if errors:
            parts.append("error outputs:\n" + "\n---\n".join(e[-3000:] for e in errors))
        dialogs = page.locator(".jp-Dialog").all_text_contents()
        if dialogs:
            parts.append("dialogs:\n" + "\n---\n".join(dialogs))
        stderr = page.locator(STDERR_OUTPUT).all_text_contents()
        if stderr:
            parts.append("last stderr outputs:\n" + "\n---\n".join(s[-1000:] for s in stderr[-3:]))
        status = page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status", timeout=1000)
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()
        parts.append(f"kernel status {status!r}; input prompts {[p.strip() for p in prompts]}")
    except Exception as error:  # the report must not hide the failure it explains
        parts.append(f"(could not read the page: {error!r})")
    if page_errors:
        parts.append("page errors:\n" + "\n".join(page_errors[-5:]))
    parts.append(f"JupyterLab log ({log}):\n{_tail(log)}")
    return "\n\n".join(parts)


def _open_notebook(page, lab) -> None:
    """Load the notebook and wait for its kernel: every cell in the DOM, connected and idle.

    JupyterLab first shows a one-cell placeholder with an "idle" indicator and no kernel; Run All
    clicked then does nothing, hence the cell count and the server's view of the kernel.
    """
    page.goto(lab.url, wait_until="domcontentloaded", timeout=LAB_LOAD_S * 1000)
    page.wait_for_function("n => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length === n",
                           arg=lab.n_cells, timeout=LAB_LOAD_S * 1000, polling=250)
    deadline = time.monotonic() + LAB_LOAD_S
    while not any(k["execution_state"] == "idle" and k.get("connections", 0) >= 1 for k in lab.api("kernels")):
        assert time.monotonic() < deadline, f"no connected, idle kernel after {LAB_LOAD_S} s: {lab.api('kernels')}"
        page.wait_for_timeout(250)
    page.locator(f'{NOTEBOOK_PANEL} .jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(
        state="attached", timeout=LAB_LOAD_S * 1000)


def _run_all(page) -> None:
    """Run → Run All Cells; once more if no cell started (a click that came too early)."""
    started = ("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
               ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(2):
        page.locator(".lm-MenuBar-item", has_text=re.compile(r"^\s*Run\s*$")).click()
        page.locator(RUN_ALL).first.click()
        try:
            page.wait_for_function(started, timeout=20_000, polling=250)
            return
        except PlaywrightTimeout:
            if attempt:
                raise


def _choose(page, label: str) -> str:
    """Click one method; wait until the heat-map shows it; its HTML."""
    before = page.locator(HEATMAP).inner_html()
    page.locator(METHOD_BUTTONS).filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")).click()
    page.wait_for_function(
        "([selector, before]) => { const el = document.querySelector(selector);"
        " return el && el.innerHTML !== before && el.querySelector('span[title]'); }",
        arg=[HEATMAP, before], timeout=METHOD_S * 1000, polling=200)
    heading = page.locator(HEATMAP).locator("b").first.inner_text()
    assert heading.startswith("gold score") if label == "gold credit" else f"the {label} token" in heading, \
        f"chose {label!r}, the heat-map says {heading!r}"
    assert page.locator(f"{METHOD_BUTTONS}.mod-active").inner_text().strip() == label
    return page.locator(HEATMAP).inner_html()


def _run_all_and_use_explorer(page, lab) -> tuple[dict[str, str], dict[str, float]]:
    """Open the notebook, run all cells, choose every method: the heat-map HTML per method, timings."""
    seconds, clock = {}, time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name], clock = time.perf_counter() - clock, time.perf_counter()

    _open_notebook(page, lab)
    lap("open")
    _run_all(page)
    # the explorer shows up (or a cell fails and Run All stops there) ...
    page.wait_for_function(
        "([explorer, error]) => document.querySelector(error) || document.querySelector(explorer)",
        arg=[f"{HEATMAP} span[title]", ERROR_OUTPUT], timeout=RUN_ALL_S * 1000, polling=500)
    assert page.locator(ERROR_OUTPUT).count() == 0, "a cell raised"
    # ... and every cell has run: no [*] or [ ] prompts, the kernel idle
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))
               && document.querySelector('.jp-Notebook-ExecutionIndicator[data-status="idle"]')""",
        timeout=RUN_ALL_S * 1000, polling=500)
    assert page.locator(ERROR_OUTPUT).count() == 0, "a cell raised"
    lap("run all cells")

    labels = [label.strip() for label in page.locator(METHOD_BUTTONS).all_inner_texts()]
    assert {"shap", "lime", "attention", "gold credit"} <= set(labels), f"method buttons: {labels}"
    first = page.locator(f"{METHOD_BUTTONS}.mod-active").inner_text().strip()
    heatmaps = {first: page.locator(HEATMAP).inner_html()}
    for label in labels:
        if label != first:
            heatmaps[label] = _choose(page, label)
    # back to the first method: the explorer's cache shows the very same heat-map again
    assert _choose(page, first) == heatmaps[first], f"{first} showed another heat-map the second time"
    assert page.locator(ERROR_OUTPUT).count() == 0, "a cell raised"
    lap("choose methods")
    return heatmaps, seconds


def _screenshot(page, path: Path) -> None:
    """The Explore section in view: its heading at the top, the file browser folded away."""
    sidebar = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if sidebar.count():
        sidebar.first.click()
    page.locator(".jp-MarkdownCell h2", has_text="Explore").evaluate("h => h.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)  # let the scroll and the fold settle
    page.screenshot(path=str(path))


def _repo_outputs() -> dict[str, float]:
    """Notebook 05's figures and runs in the repository, with their modification times."""
    from rewardlab.core.artifacts import repo_root

    root = repo_root()
    patterns = ["figures/05_*", "papermill_runs/05_*", "papermill_runs/figures/05_*"]
    return {str(p): p.stat().st_mtime for pattern in patterns for p in root.glob(pattern)}


def test_explorer_in_jupyterlab(chromium_path, playwright_api, lab, tmp_path):
    start, before = time.perf_counter(), _repo_outputs()
    page_errors: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            try:
                heatmaps, seconds = _run_all_and_use_explorer(page, lab)
                shot = tmp_path / SCREENSHOT
                _screenshot(page, shot)
            except Exception as error:  # a screenshot and what the page shows, whatever went wrong
                failure = tmp_path / "failure.png"
                try:
                    page.screenshot(path=str(failure))
                except playwright_api.Error:
                    failure = "(no screenshot)"
                raise AssertionError(f"{type(error).__name__}: {error}\n\nscreenshot: {failure}\n\n"
                                     f"{_page_report(page, lab.log, page_errors)}") from error
        finally:
            browser.close()

    assert len(set(heatmaps.values())) == len(heatmaps), "two methods showed the same heat-map"
    metrics = json.loads((lab.runs / "05_token_attribution.metrics.json").read_text())  # the last cell ran here
    assert metrics["smoke"] is True, "the browser ran the notebook without SMOKE = True"
    assert _repo_outputs() == before, "the notebook wrote figures or runs into the repository"
    saved = [shot]
    if os.environ.get("REWARDLAB_SCREENSHOT_DIR"):
        target = Path(os.environ["REWARDLAB_SCREENSHOT_DIR"])
        target.mkdir(parents=True, exist_ok=True)
        saved.append(Path(shutil.copy2(shot, target / SCREENSHOT)))
    phases = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    print(f"\nexplorer used in JupyterLab in {time.perf_counter() - start:.0f} s ({phases}; "
          f"methods {', '.join(heatmaps)}); screenshot: {', '.join(map(str, saved))}")
