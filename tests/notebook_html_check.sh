#!/usr/bin/env bash
# Shows the notebooks as a reader without JavaScript sees them (GitHub, nbviewer, an HTML export):
# exports each to HTML with nbconvert and, when a headless Chromium is installed, takes a
# full-page screenshot of each export, for a human to look at. A plotly chart whose output has
# no image/png twin is blank there; stderr shows in red. A manual tool, not part of the tests
# (tests/notebook_check.py checks the same outputs by rule, and tests/notebooks.sh runs it).
#
#   bash tests/notebook_html_check.sh                      notebooks/*.ipynb into a temporary folder
#   bash tests/notebook_html_check.sh --out DIR [NB...]    the given notebooks into DIR
#
# nbconvert comes from tests/notebooks.sh's virtual environment (FER_NOTEBOOK_HOME, default
# ~/.cache/fer/notebooks), else /tmp/nbv, else a jupyter on PATH; to make one:
#   python3 -m venv /tmp/nbv && /tmp/nbv/bin/pip install nbconvert==7.17.2
# Chromium: the first of FER_CHROMIUM, chromium, chromium-browser, google-chrome,
# google-chrome-stable, or a Playwright download under ~/.cache/ms-playwright; on Debian,
# `apt-get install chromium`. Environment: FER_SCREENSHOT_WIDTH (CSS pixels, default 1100).
set -euo pipefail
cd "$(dirname "$0")/.."

out_dir=""
notebooks=()
while [ $# -gt 0 ]; do
  arg="$1"
  shift
  case "$arg" in
    --out)
      out_dir="${1:?--out needs a folder}"
      shift
      ;;
    -h | --help)
      awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
      exit 0
      ;;
    -*)
      echo "notebook_html_check.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
    *) notebooks+=("$arg") ;;
  esac
done
[ "${#notebooks[@]}" -gt 0 ] || notebooks=(notebooks/*.ipynb)
if [ -n "$out_dir" ]; then
  mkdir -p "$out_dir"
else
  out_dir="$(mktemp -d "${TMPDIR:-/tmp}/fer-notebook-html.XXXXXX")"
fi
out_dir="$(cd "$out_dir" && pwd)"

jupyter=""
for candidate in "${FER_NOTEBOOK_HOME:-$HOME/.cache/fer/notebooks}/venv/bin/jupyter" \
  /tmp/nbv/bin/jupyter "$(command -v jupyter || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" nbconvert --version >/dev/null 2>&1; then
    jupyter="$candidate"
    break
  fi
done
if [ -z "$jupyter" ]; then
  echo "notebook_html_check.sh: no nbconvert found; run tests/notebooks.sh once (it sets one up)" >&2
  echo "  or: python3 -m venv /tmp/nbv && /tmp/nbv/bin/pip install nbconvert==7.17.2" >&2
  exit 1
fi

chrome="${FER_CHROMIUM:-}"
if [ -z "$chrome" ]; then
  for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null; then
      chrome="$(command -v "$name")"
      break
    fi
  done
fi
if [ -z "$chrome" ]; then
  for candidate in "$HOME"/.cache/ms-playwright/chromium*/chrome-linux*/chrome; do
    if [ -x "$candidate" ]; then
      chrome="$candidate"
      break
    fi
  done
fi
if [ -z "$chrome" ]; then
  echo "notebook_html_check.sh: NO SCREENSHOTS: no Chromium or Chrome found (apt-get install chromium," \
    "or set FER_CHROMIUM); exporting HTML only"
fi

# Full-page screenshots need the DevTools protocol (--screenshot alone takes only the window):
# over --remote-debugging-pipe, Chromium reads NUL-terminated JSON commands on fd 3 and writes
# its answers on fd 4, which the standard library can talk to without a WebSocket client.
# The flags keep Chromium off the network (this machine's is closed, and its attempts at every
# start are slow to fail) and out of any profile but a throwaway one.
screenshot='
import base64, fcntl, json, os, shutil, signal, subprocess, sys, tempfile, time
chrome, html, png, width = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
to_chrome_r, to_chrome_w = os.pipe()
from_chrome_r, from_chrome_w = os.pipe()
def child_fds():
    # Out of the way first (either end may itself be fd 3 or 4), then onto 3 and 4.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w)]
    os.dup2(high[0], 3)
    os.dup2(high[1], 4)
profile = tempfile.mkdtemp(prefix="fer-chromium-")
proc = subprocess.Popen(
    [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
     "--disable-background-networking", "--disable-component-update", "--disable-sync",
     "--hide-scrollbars", "--mute-audio", "--user-data-dir=" + profile,
     "--remote-debugging-pipe", "about:blank"],
    # subprocess closes every other descriptor after preexec_fn, so 3 and 4 are kept by number.
    preexec_fn=child_fds, pass_fds=(3, 4),
    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_chrome_r)
os.close(from_chrome_w)
writer, reader = os.fdopen(to_chrome_w, "wb"), os.fdopen(from_chrome_r, "rb")
pending, next_id, events = b"", [0], []
def receive():
    global pending
    while b"\0" not in pending:
        chunk = reader.read1(1 << 20)
        if not chunk:
            sys.exit("chromium closed the DevTools pipe")
        pending += chunk
    message, pending = pending.split(b"\0", 1)
    return json.loads(message)
def call(method, session=None, **params):
    next_id[0] += 1
    message = {"id": next_id[0], "method": method, "params": params}
    if session:
        message["sessionId"] = session
    writer.write(json.dumps(message).encode() + b"\0")
    writer.flush()
    while True:
        answer = receive()
        if answer.get("id") == next_id[0]:
            if "error" in answer:
                sys.exit("%s: %s" % (method, answer["error"]))
            return answer.get("result", {})
        events.append(answer)
try:
    target = call("Target.createTarget", url="about:blank")["targetId"]
    session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    call("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
         deviceScaleFactor=1, mobile=False)
    call("Page.navigate", session, url="file://" + os.path.abspath(html))
    deadline = time.time() + 60
    # Loaded, and the images decoded, so that the page height is final.
    while time.time() < deadline:
        state = call("Runtime.evaluate", session, returnByValue=True, awaitPromise=True,
                     expression="document.readyState === \"complete\" && "
                                "Array.from(document.images).every(i => i.complete)")
        if state.get("result", {}).get("value"):
            break
        time.sleep(0.2)
    height = call("Runtime.evaluate", session, returnByValue=True,
                  expression="Math.ceil(document.documentElement.scrollHeight)")["result"]["value"]
    call("Emulation.setDeviceMetricsOverride", session, width=width, height=int(height),
         deviceScaleFactor=1, mobile=False)
    shot = call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("%dx%d" % (width, height))
    try:
        call("Browser.close")  # Chromium may close the pipe before it answers
    except SystemExit:
        pass
finally:
    # Chromium and its helper processes, in the session it was started in.
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    shutil.rmtree(profile, ignore_errors=True)
'

exported=0
shots=0
failed=0
for nb in "${notebooks[@]}"; do
  name="$(basename "$nb" .ipynb)"
  # --embed-images: images referenced by markdown cells, if any, travel inside the HTML too.
  if ! "$jupyter" nbconvert --to html --embed-images --output-dir "$out_dir" "$nb" \
    >"$out_dir/$name.export.log" 2>&1; then
    failed=$((failed + 1))
    echo "$nb: HTML export FAILED; last lines of $out_dir/$name.export.log:"
    tail -n 20 "$out_dir/$name.export.log" | sed 's/^/    /'
    continue
  fi
  rm -f "$out_dir/$name.export.log"
  exported=$((exported + 1))
  if [ -z "$chrome" ]; then
    echo "$nb: $out_dir/$name.html"
    continue
  fi
  if size="$(python3 -c "$screenshot" "$chrome" "$out_dir/$name.html" "$out_dir/$name.png" \
    "${FER_SCREENSHOT_WIDTH:-1100}" 2>&1)"; then
    shots=$((shots + 1))
    echo "$nb: $out_dir/$name.html, screenshot $out_dir/$name.png ($size)"
  else
    failed=$((failed + 1))
    echo "$nb: $out_dir/$name.html, screenshot FAILED: $size"
  fi
done
echo "notebook_html_check: $exported exported, $shots screenshots, $failed failed; in $out_dir"
[ -n "$chrome" ] || echo "notebook_html_check: no screenshots were taken: no Chromium found (see above)"
[ "$failed" = 0 ]
