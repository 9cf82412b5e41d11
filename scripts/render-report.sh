#!/usr/bin/env bash
# Renders a run's report.html to a PNG with headless Chromium, to look at the layout.
#
#   scripts/render-report.sh runs/NAME            # screenshots runs/NAME/report.html -> runs/NAME/report.png
#   scripts/render-report.sh --sample DIR         # first writes the made-up sample report into DIR
#                                                 # (from the CohortSimulationTests fixture), then screenshots it;
#                                                 # VARIANT=crowded or VARIANT=minimal picks the stress fixtures
#
# Needs chromium or chromium-headless-shell (Debian: apt-get install chromium-headless-shell).
# WIDTH and HEIGHT set the window (default 1200 x 3600); the page is cut at HEIGHT.
set -euo pipefail
cd "$(dirname "$0")/.."

sample=0
if [[ "${1:-}" == "--sample" ]]; then sample=1; shift; fi
dir="${1:?usage: scripts/render-report.sh [--sample] DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if [[ $sample == 1 ]]; then
  COHORT_REPORT_SAMPLE_DIR="$dir" COHORT_REPORT_SAMPLE_VARIANT="${VARIANT:-}" flock /tmp/cohort-swift-build.lock \
    swift test -c release --filter 'CohortSimulationTests.ReportWriterTests/testWriteSampleReportForRendering' >/dev/null
fi
[[ -f "$dir/report.html" ]] || { echo "no report.html in $dir" >&2; exit 1; }

browser=""
for b in chromium chromium-browser chromium-headless-shell google-chrome; do
  if command -v "$b" >/dev/null; then browser="$b"; break; fi
done
[[ -n "$browser" ]] || { echo "no chromium found (apt-get install chromium-headless-shell)" >&2; exit 1; }

flags=(--headless --disable-gpu --no-sandbox --hide-scrollbars --force-device-scale-factor=1)
[[ "$browser" == chromium-headless-shell ]] && flags=(--disable-gpu --no-sandbox --hide-scrollbars --force-device-scale-factor=1)
"$browser" "${flags[@]}" --window-size="${WIDTH:-1200},${HEIGHT:-3600}" \
  --screenshot="$dir/report.png" "file://$dir/report.html" 2>/dev/null
echo "$dir/report.png"
