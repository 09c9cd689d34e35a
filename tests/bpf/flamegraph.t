#!/usr/bin/env bash
# flamegraph: the SVG that --svg writes (probes/flamegraph.c).
#  1. folded stacks with XML-special characters -> well-formed XML (Python's
#     parser), the names intact after unescaping, frame widths proportional to
#     the counts; in headless Chromium a click on a frame zooms (its child
#     spans the full width, a sibling is hidden) - the page's own script
#     runs, witnessed by the DOM Chromium dumps.
#  2. oncpu --svg of a process spinning in oncpu_test_spin: Chromium renders
#     it (a screenshot with frames drawn, counted in the PNG's pixels) and the
#     SVG names the function.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/probe-lib.sh"
plan 11
FG=$BUILD/tests/bpf/fg-folded
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -x "$FG" ] || skip_rest "not built: run make test-bpf"
chrome() { timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
	--user-data-dir="$TMP/chrome" "$@" 2>>"$TMP/chrome.err"; }

printf '%s\n' "main;work;hot_<&>\"'fn 30" "main;work;cold 10" "main;idle 5" | "$FG" "$TMP/t.svg" 'title <&>'
is "$?" 0 "folded stacks -> SVG"
out=$(python3 - "$TMP/t.svg" <<'EOF'
import sys, xml.etree.ElementTree as E
ns = {'s': 'http://www.w3.org/2000/svg'}
r = E.parse(sys.argv[1]).getroot()
g = {x.find('s:title', ns).text.rsplit(' (', 1)[0]: x for x in r.iter('{http://www.w3.org/2000/svg}g') if x.get('class') == 'f'}
w = lambda n: float(g[n].find('s:rect', ns).get('width'))
print(len(g), 'hot_<&>"\'fn' in g, round(w('hot_<&>"\'fn') / w('all'), 3), round(w('work') / w('all'), 3))
EOF
)
is "$out" "6 True 0.667 0.889" "well-formed XML: 6 frames, the special characters intact, widths 30/45 and 40/45"
is "$(grep -c '<&>' "$TMP/t.svg")" 0 "no raw '<&>' in the file (escaped)"

[ -n "$CHROMIUM" ] || skip_rest "chromium not installed (scripts/deps.sh)"
# the SVG inline in a page whose script clicks "work", then records the layout
{
	echo '<!DOCTYPE html><html><body>'
	sed 1d "$TMP/t.svg"
	cat <<'EOF'
<pre id="out"></pre><script>
function frame(n) { var gs = document.querySelectorAll('g.f');
  for (var i = 0; i < gs.length; i++) if (gs[i].querySelector('title').textContent.indexOf(n + ' (') === 0) return gs[i]; }
frame('work').querySelector('rect').dispatchEvent(new MouseEvent('click', {bubbles: true}));
document.getElementById('out').textContent = 'ZOOM cold=' + Math.round(frame('cold').querySelector('rect').getAttribute('width')) +
  ' work=' + Math.round(frame('work').querySelector('rect').getAttribute('width')) +
  ' idle=' + (frame('idle').style.display || 'shown') + ' all=' + (frame('all').style.display || 'shown');
</script></body></html>
EOF
} > "$TMP/zoom.html"
dom=$(chrome --virtual-time-budget=3000 --dump-dom "file://$TMP/zoom.html")
z=$(printf '%s' "$dom" | grep -o 'ZOOM cold=[0-9][^<]*')
diag "after the click: ${z:-nothing (script did not run)}"
is "$z" "ZOOM cold=295 work=1180 idle=none all=shown" "click on 'work': it spans 1180 px, cold 10/40 of it, the sibling idle hidden, the root kept"

# a real profile, rendered
need_bpf
IH=$BUILD/tests/bpf/incident-helper
"$IH" spin 1.5 "$TMP/go" > "$TMP/spin.out" &
h=$!
wait_for "$TMP/spin.out" ready 5
"${PROBE[@]}" oncpu --pid "$h" --duration 2.5 --svg "$TMP/on.svg" > /dev/null 2> "$TMP/on.err" &
p=$!
wait_for "$TMP/on.err" tracing 10
touch "$TMP/go"
wait $h; wait $p
is "$?" 0 "oncpu --svg exits 0" || diag "$(cat "$TMP/on.err")"
ok "the SVG is well-formed XML" python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$TMP/on.svg"
like "$(grep -o '<title>oncpu_test_spin ([0-9]* samples' "$TMP/on.svg")" 'oncpu_test_spin \([0-9]+ samples' "the SVG names the hot function with its samples"
chrome --window-size=1200,300 --screenshot="$TMP/on.png" "file://$TMP/on.svg" > /dev/null
read -r w h warm < <(python3 "$(dirname "$0")/png-warm.py" "$TMP/on.png" 2>/dev/null)
is "${w:-0}x${h:-0}" "1200x300" "Chromium rendered the SVG to a 1200x300 screenshot"
cmp_ok "${warm:-0}" -gt 20000 "frames drawn: ${warm:-0} warm-coloured pixels (>= 5 bars of 1180x15)"
dom=$(chrome --dump-dom "file://$TMP/on.svg")
like "$dom" 'oncpu_test_spin' "Chromium's parsed DOM has the frame oncpu_test_spin"
like "$(head -c 4096 "$TMP/on.svg" | grep -c 'href\|xlink\|http://[^w]')" '^0$' "self-contained: no external reference"
done_testing
