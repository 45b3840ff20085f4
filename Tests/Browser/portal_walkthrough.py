"""The portal in a real browser: Debian's chromium, driven by selenium (no driver download), with
axe-core checking every page it visits. Run by scripts/portal-browser against a live NeoSC.

    portal_walkthrough.py BASE_URL ADMIN_EMAIL ADMIN_PASSWORD [SCREENSHOT_DIR]

Walks through what a person does: signs in with a wrong and then the right password, reads the
dashboard, launches a workspace in each launch mode and stops one, watches a desktop NeoSC streams (noVNC
drawing it from a real Xvfb display) until an administrator ends its session, sees a workspace named like an
attack shown as text, signs out and presses Back; then, under an `mfa_required` policy, a new
account enrols a second factor while signing in; last, an account whose password an administrator
reset is led from its sign-in to choosing its own, and finds the page to change it. Every page is checked with axe (no serious or
critical violation); with SCREENSHOT_DIR, each page is photographed at 1280 and 390 px wide.
"""

import base64
import hashlib
import hmac
import http.server
import json
import struct
import time
import os
import sys
import threading
import urllib.request

from axe_selenium_python import Axe
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, ADMIN_EMAIL, ADMIN_PASSWORD = sys.argv[1], sys.argv[2], sys.argv[3]
SHOTS = sys.argv[4] if len(sys.argv) > 4 else None
USER_EMAIL, USER_PASSWORD = "walker@example.com", "walk through password 1"
XSS_NAME = "<img src=x onerror=alert(1)>"
# A real desktop (Xvfb with x11vnc) that scripts/portal-browser started: its RFB port.
STREAM_DESKTOP_PORT = os.environ["NEOSC_STREAM_DESKTOP_PORT"]
ENROL_EMAIL, ENROL_PASSWORD = "enid@example.com", "enrol while signing in 1"
RESET_EMAIL = "rose@example.com"
failures = []


def api(method, path, token=None, body=None):
    request = urllib.request.Request(BASE + path, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


class Desktop(http.server.BaseHTTPRequestHandler):
    """A stand-in for a workspace host: one page, on a loopback port of its own (another origin)."""

    def do_GET(self):
        body = b"<!doctype html><title>Desktop</title><h1 id='desktop'>Desktop here</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


def start_desktop():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Desktop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


DESKTOP_SERVER, DESKTOP = start_desktop()


def setup_accounts():
    status, signed_in = api("POST", "/api/auth/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert status == 200, (status, signed_in)
    admin = signed_in["access_token"]
    status, registered = api("POST", "/api/auth/register", body={"email": USER_EMAIL, "password": USER_PASSWORD, "name": "Walker"})
    assert status == 201, (status, registered)
    status, _ = api("PATCH", "/api/users/" + registered["user"]["id"], admin, {"role": "neosc"})
    assert status == 200, status
    for workspace in (
        {"id": "ws-xss", "name": XSS_NAME, "type": "web", "url": "/health", "description": "\"><script>alert(2)</script>",
         "allowed_roles": ["neosc"]},
        {"id": "ws-tab", "name": "Status page", "type": "web", "url": "/health", "launch_mode": "new_tab",
         "allowed_roles": ["neosc"]},
        {"id": "ws-streamed", "name": "Streamed desktop", "type": "linux", "url": "/workspaces/streamed",
         "stream_upstream": f"vnc://127.0.0.1:{STREAM_DESKTOP_PORT}", "allowed_roles": ["neosc"]},
        {"id": "ws-framed", "name": "Framed desktop", "type": "linux", "url": DESKTOP + "/desktop", "launch_mode": "iframe",
         "allowed_roles": ["neosc"]},
    ):
        status, created = api("POST", "/api/workspaces", admin, workspace)
        assert status == 201, (status, created)


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def without_known_false_positives(violation):
    """The axe-core that axe-selenium-python bundles (its last release, 2.1.6) predates the
    `one-time-code` autocomplete token (WHATWG HTML, 2018; what makes browsers and password
    managers offer an authenticator's code) and calls it invalid. Only that token is let through:
    any other autocomplete problem on the same page still fails."""
    if violation.get("id") != "autocomplete-valid":
        return violation
    nodes = [node for node in violation["nodes"] if 'autocomplete="one-time-code"' not in node.get("html", "")]
    return {**violation, "nodes": nodes}


def accessible(driver, name):
    axe = Axe(driver)
    axe.inject()
    # The viewer's frame holds the workspace (another origin, not NeoSC's page): axe checks the
    # page around it, not inside it (a frame without axe would only time out).
    results = axe.run(options=json.dumps({"iframes": False}))
    serious = [v for v in map(without_known_false_positives, results["violations"])
               if v["nodes"] and v.get("impact") in ("serious", "critical")]
    for violation in serious:
        print(f"axe on {name}: {violation['id']} ({violation['impact']}): {violation['help']}", file=sys.stderr)
        for node in violation["nodes"][:3]:
            print("   ", node.get("target"), file=sys.stderr)
    check(not serious, f"{name}: {len(serious)} serious or critical accessibility violations")


def photograph(driver, name):
    if not SHOTS:
        return
    for width, height in ((1280, 900), (390, 844)):
        driver.set_window_size(width, height)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(os.path.join(SHOTS, f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


def no_alert(driver, name):
    try:
        driver.switch_to.alert
        check(False, f"{name}: a script from a name ran (an alert is open)")
    except NoAlertPresentException:
        pass


def visit(driver, name):
    accessible(driver, name)
    photograph(driver, name)


def visitor_demo(driver, wait):
    """A visitor (no account, another browser's cookies) gets a 10-second demo and watches it end.

    Ten seconds leave the page room to render before the end on a loaded machine; the running
    page is recognised by its countdown, not by a heading the ended page shares."""
    cookies = driver.get_cookies()
    driver.delete_all_cookies()
    driver.get(BASE + "/demo")
    visit(driver, "demo")
    driver.find_element(By.CSS_SELECTOR, "form[action='/demo'] button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Your demo"))
    check("over" not in driver.find_element(By.TAG_NAME, "h1").text, "the demo page opens on a running demo")
    check("Ends in" in driver.find_element(By.CSS_SELECTOR, ".remaining").text, "the countdown runs")
    accessible(driver, "demo-session")
    if SHOTS:
        driver.save_screenshot(os.path.join(SHOTS, "demo-session-1280.png"))
    WebDriverWait(driver, 40, ignored_exceptions=(WebDriverException,)).until(
        EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Your demo is over"))
    photograph(driver, "demo-over")
    driver.get(BASE + "/workspaces")
    check(driver.current_url.endswith("/sign-in"), "once the demo is over its access is gone")
    driver.delete_all_cookies()
    for cookie in cookies:
        driver.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/"})


def administrator(driver, wait):
    """An administrator creates a workspace with a bad field, then right, and switches a policy."""
    cookies = driver.get_cookies()
    driver.delete_all_cookies()
    driver.get(BASE + "/sign-in")
    driver.find_element(By.ID, "email").send_keys(ADMIN_EMAIL)
    driver.find_element(By.ID, "password").send_keys(ADMIN_PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Dashboard"))
    driver.get(BASE + "/admin/workspaces")
    driver.find_element(By.ID, "f-id").send_keys("ws-made-here")
    driver.find_element(By.ID, "f-type").send_keys("web")
    driver.find_element(By.ID, "f-url").send_keys("ftp://files.example.com/")
    driver.find_element(By.CSS_SELECTOR, "form[action='/admin/workspaces'] button[type=submit]").click()
    problems = wait.until(EC.presence_of_all_elements_located((By.CSS_SELECTOR, ".field-error")))
    marked = {element.get_attribute("id") for element in problems}
    check({"f-name-error", "f-url-error"} <= marked, f"each bad field is marked beside itself: {marked}")
    check(driver.find_element(By.ID, "f-url").get_attribute("aria-invalid") == "true", "and flagged for assistive technology")
    visit(driver, "admin-workspaces-errors")
    driver.find_element(By.ID, "f-name").send_keys("Made here")
    url = driver.find_element(By.ID, "f-url")
    url.clear()
    url.send_keys("https://files.example.com/")
    driver.find_element(By.CSS_SELECTOR, "form[action='/admin/workspaces'] button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "The workspace was created."))
    check("Made here" in driver.page_source, "the new workspace is listed")
    driver.get(BASE + "/admin/policies")
    visit(driver, "admin-policies")
    driver.find_element(By.CSS_SELECTOR, "form[action='/admin/policies/pol-session-recording/toggle'] button").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "The policy was switched."))
    row = driver.find_element(By.XPATH, "//tr[.//code[text()='pol-session-recording']]")
    check("On" in row.text, "the policy shows as on")
    driver.get(BASE + "/admin/users")
    check(USER_EMAIL in driver.page_source, "the users page lists the accounts")
    visit(driver, "admin-users")
    driver.get(BASE + "/admin/organizations")
    driver.find_element(By.ID, "o-name").send_keys("Walkers")
    driver.find_element(By.ID, "o-domain").send_keys("walkers.example")
    driver.find_element(By.CSS_SELECTOR, "form[action='/admin/organizations'] button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "The organisation was created."))
    visit(driver, "admin-organizations")
    driver.get(BASE + "/admin/demos")
    check(len(driver.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 1, "the demos page lists the visitor's demo")
    visit(driver, "admin-demos")
    driver.delete_all_cookies()
    for cookie in cookies:
        driver.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/"})


def streamed_desktop(driver, wait):
    """A workspace whose desktop NeoSC streams: the viewer draws it with noVNC (the canvas holds
    a real picture, not a blank), and when an administrator ends the session elsewhere the stream
    is cut and the viewer says the session has ended."""
    driver.get(BASE + "/workspaces")
    driver.find_element(By.CSS_SELECTOR, "form[action='/workspaces/ws-streamed/launch'] button").click()
    screen = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#stream-screen[data-connected]")))
    session = screen.get_attribute("data-session")
    colours = 0
    deadline = time.time() + 15
    while time.time() < deadline and colours < 2:
        # Distinct colours among the canvas's pixels (sampled): a blank or black screen has one.
        colours = driver.execute_script("""
            const canvas = document.querySelector('#stream-screen canvas');
            // Drawn and shown: a canvas laid out at no size holds pixels nobody sees.
            if (!canvas || canvas.width < 2 || canvas.getBoundingClientRect().width < 100) { return 0; }
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            const seen = new Set();
            for (let i = 0; i < data.length; i += 4 * 97) { seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]); }
            return seen.size;""")
        time.sleep(0.2)
    check(colours >= 2, f"the streamed desktop is drawn (distinct colours sampled: {colours})")
    accessible(driver, "viewer-stream")
    if SHOTS:
        driver.save_screenshot(os.path.join(SHOTS, "viewer-stream-1280.png"))
    status, signed_in = api("POST", "/api/auth/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert status == 200, (status, signed_in)
    ended_at = time.time()
    status, _ = api("POST", f"/api/sessions/{session}/disconnect", signed_in["access_token"])
    check(status == 200, f"an administrator ends the session: {status}")
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "This session has ended"))
    check(time.time() - ended_at < 15, "the viewer says so within seconds")
    check(not driver.find_elements(By.CSS_SELECTOR, "#stream-screen"), "and the desktop is gone")
    visit(driver, "viewer-stream-ended")


def totp(secret):
    """The authenticator's current code for a base32 key (RFC 6238: HMAC-SHA-1, 30 s, six digits)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def enrolment(driver, wait):
    """An `mfa_required` policy over `user`: a new account is led to enrol a second factor when it
    signs in, and is signed in MFA-verified once the authenticator's code confirms it."""
    status, signed_in = api("POST", "/api/auth/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert status == 200, (status, signed_in)
    admin = signed_in["access_token"]
    policy = {"id": "pol-walk-mfa", "name": "MFA for users", "kind": "mfa_required", "scope": {"roles": ["user"]}}
    status, created = api("POST", "/api/policies", admin, policy)
    assert status == 201, (status, created)
    status, refused = api("POST", "/api/auth/register", body={"email": ENROL_EMAIL, "password": ENROL_PASSWORD, "name": "Enid"})
    check(status == 403 and refused.get("remedy") == "enroll_mfa" and refused.get("mfa_token", "").startswith("neosc_mfa_"),
          f"a registration the policy refuses says how to enrol: {status} {refused}")
    try:
        driver.get(BASE + "/sign-in")
        driver.find_element(By.ID, "email").send_keys(ENROL_EMAIL)
        driver.find_element(By.ID, "password").send_keys(ENROL_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Set up a second factor"))
        check(driver.current_url.endswith("/sign-in/enroll"), "a right password leads to enrolling a second factor")
        visit(driver, "enroll")
        driver.find_element(By.CSS_SELECTOR, "form[action='/sign-in/enroll'] button.primary").click()
        key = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".secret-key code")))
        secret = key.text.replace(" ", "")
        check(len(driver.find_elements(By.CSS_SELECTOR, ".codes li")) == 10, "ten recovery codes are shown")
        visit(driver, "enroll-key")
        driver.find_element(By.ID, "code").send_keys("000000" if totp(secret) != "000000" else "111111")
        driver.find_element(By.CSS_SELECTOR, "form[action='/sign-in/enroll/confirm'] button").click()
        problem = wait.until(EC.presence_of_element_located((By.ID, "enroll-problem")))
        check("current code" in problem.text, f"a wrong code says so: {problem.text}")
        driver.find_element(By.ID, "code").send_keys(totp(secret))
        driver.find_element(By.CSS_SELECTOR, "form[action='/sign-in/enroll/confirm'] button").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Dashboard"))
        check("MFA on" in driver.page_source, "signed in with the second factor it has just enrolled")
        driver.find_element(By.CSS_SELECTOR, "form[action='/sign-out'] button").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Sign in"))
    finally:
        api("DELETE", "/api/policies/pol-walk-mfa", admin)


def chosen_password(driver, wait):
    """An account whose password an administrator reset signs in, is led to choose its own, and is
    signed in with it; then it finds the page to change it again."""
    status, signed_in = api("POST", "/api/auth/login", body={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    admin = signed_in["access_token"]
    status, registered = api("POST", "/api/auth/register", body={"email": RESET_EMAIL, "password": "before the reset 1", "name": "Rose"})
    assert status == 201, (status, registered)
    status, reset = api("POST", "/api/users/" + registered["user"]["id"] + "/password-reset", admin)
    assert status == 200, (status, reset)
    driver.delete_all_cookies()
    driver.get(BASE + "/sign-in")
    driver.find_element(By.ID, "email").send_keys(RESET_EMAIL)
    driver.find_element(By.ID, "password").send_keys(reset["temporary_password"])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Choose a new password"))
    check(driver.find_element(By.ID, "email").get_attribute("value") == RESET_EMAIL, "the e-mail is kept for the change")
    visit(driver, "password-required")
    driver.find_element(By.ID, "current_password").send_keys(reset["temporary_password"])
    driver.find_element(By.ID, "new_password").send_keys("my own after the reset")
    driver.find_element(By.ID, "repeated_password").send_keys("my own after the reset")
    driver.find_element(By.CSS_SELECTOR, "form[action='/sign-in/password'] button.primary").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Dashboard"))
    driver.find_element(By.CSS_SELECTOR, "a[href='/account/password']").click()
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Change your password"))
    visit(driver, "password")


def main():
    setup_accounts()
    driver = browser()
    # While a page is replaced, Chromium can answer a lookup on the old one with an inspector
    # error ("Node with given id does not belong to the document") rather than a stale element:
    # a wait asks again, and still fails when its condition never holds.
    wait = WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,))
    try:
        driver.get(BASE + "/")
        check(driver.current_url.endswith("/sign-in"), "signed out, / leads to the sign-in page")
        visit(driver, "sign-in")

        driver.find_element(By.ID, "email").send_keys(USER_EMAIL)
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        problem = wait.until(EC.presence_of_element_located((By.ID, "sign-in-problem")))
        check("Invalid credentials" in problem.text, "a wrong password says so")
        check(driver.find_element(By.ID, "email").get_attribute("value") == USER_EMAIL, "the e-mail is kept")
        check(driver.find_element(By.ID, "password").get_attribute("value") == "", "the password is not")
        visit(driver, "sign-in-error")

        driver.find_element(By.ID, "password").send_keys(USER_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Dashboard"))
        check(USER_EMAIL in driver.page_source, "the dashboard names who is signed in")
        charts = driver.find_elements(By.CSS_SELECTOR, "svg.chart")
        check(len(charts) == 2 and all(chart.size["width"] > 200 for chart in charts), "the dashboard shows its two charts")
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.signins")) == 31, "a bar per hour and per day")
        visit(driver, "dashboard")

        driver.get(BASE + "/workspaces")
        names = [element.text for element in driver.find_elements(By.CSS_SELECTOR, ".cards h2")]
        check(XSS_NAME in names, f"a workspace named like markup is shown as its text: {names}")
        check(not driver.find_elements(By.CSS_SELECTOR, ".cards img"), "no element made from a name")
        no_alert(driver, "workspaces")
        visit(driver, "workspaces")

        # iframe, on a path of NeoSC itself (the default catalogue): nothing to frame, said plainly.
        driver.find_element(By.CSS_SELECTOR, "form[action='/workspaces/ws-linux-desktop/launch'] button").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "Nothing to show here yet"))
        check(not driver.find_elements(By.CSS_SELECTOR, "iframe"), "no frame for a path on NeoSC itself")
        driver.find_element(By.CSS_SELECTOR, ".viewer-bar button.danger").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "The session has ended."))

        # iframe, on a desktop host: the viewer frames it (and the frame loads), then Stop.
        driver.get(BASE + "/workspaces")
        driver.find_element(By.CSS_SELECTOR, "form[action='/workspaces/ws-framed/launch'] button").click()
        frame = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "iframe.workspace-frame")))
        check(frame.get_attribute("src") == DESKTOP + "/desktop", "the viewer frames the workspace")
        driver.switch_to.frame(frame)
        check(wait.until(EC.presence_of_element_located((By.ID, "desktop"))).text == "Desktop here",
              "the workspace's page loads inside the viewer (frame-src allows its origin)")
        driver.switch_to.default_content()
        visit(driver, "viewer")
        # Signed out in another tab (the session cookie gone): the next heartbeat (every 30 s)
        # is refused, and the viewer leaves the desktop for the sign-in page.
        viewer_url = driver.current_url
        session_cookie = driver.get_cookie("neosc_session")
        driver.delete_cookie("neosc_session")
        WebDriverWait(driver, 45, ignored_exceptions=(WebDriverException,)).until(lambda d: d.current_url.endswith("/sign-in"))
        driver.add_cookie({key: session_cookie[key] for key in ("name", "value", "path", "httpOnly", "sameSite") if key in session_cookie})
        driver.get(viewer_url)
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "iframe.workspace-frame")))
        driver.find_element(By.CSS_SELECTOR, ".viewer-bar button.danger").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".flash"), "The session has ended."))
        check("It was disconnected." in driver.page_source, "the list says why it ended")

        # new_tab: a new tab opens the workspace's address.
        driver.get(BASE + "/workspaces")
        before = set(driver.window_handles)
        driver.find_element(By.CSS_SELECTOR, "form[action='/workspaces/ws-tab/launch'] button").click()
        wait.until(lambda d: len(d.window_handles) > len(before))
        main_window = driver.current_window_handle
        driver.switch_to.window((set(driver.window_handles) - before).pop())
        wait.until(lambda d: d.current_url.endswith("/health"))
        check('"status"' in driver.page_source, "the new tab reached the workspace")
        driver.close()
        driver.switch_to.window(main_window)

        driver.get(BASE + "/sessions")
        check(len(driver.find_elements(By.CSS_SELECTOR, "tbody tr")) == 3, "the three sessions are listed")
        visit(driver, "sessions")

        driver.get(BASE + "/audit?action=launch_workspace")
        rows = driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        check(len(rows) == 3 and all("launch_workspace" in row.text for row in rows), "the audit page filters by action")
        visit(driver, "audit")

        streamed_desktop(driver, wait)

        driver.get(BASE + "/no-such-page")
        check("Page not found" in driver.page_source, "an unknown page is a page")
        visit(driver, "not-found")

        visitor_demo(driver, wait)
        administrator(driver, wait)

        # Sign out, then Back: nothing private comes back.
        driver.get(BASE + "/sessions")
        driver.find_element(By.CSS_SELECTOR, "form[action='/sign-out'] button").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Sign in"))
        driver.back()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Sign in"))
        check(USER_EMAIL not in driver.page_source, "after signing out, Back shows no private page")

        enrolment(driver, wait)
        chosen_password(driver, wait)
    except Exception:
        # What the browser showed when a step could not go on.
        print("at", driver.current_url, file=sys.stderr)
        print(driver.find_element(By.TAG_NAME, "main").text[:1500] if driver.find_elements(By.TAG_NAME, "main") else driver.page_source[:1500], file=sys.stderr)
        raise
    finally:
        driver.quit()
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("portal walkthrough: every check passed")


if __name__ == "__main__":
    main()
