#!/bin/bash
# The shape the code keeps: no file in libcontrol/ or tools/ over 400 lines,
# and each tool's main() under 80 lines, so a tool reads like pg_resetwal's
# main and the thinking stays in the library. Prints each breach; exit 1 if any.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r f; do
  lines=$(wc -l < "$f")
  if (( lines > 400 )); then echo "$f: $lines lines (at most 400)"; status=1; fi
done < <(git ls-files 'libcontrol/*.h' 'libcontrol/*.cc' 'tools/*.h' 'tools/*.cc')
for f in tools/*.cc; do
  # main's body: from the line opening "int main(" to the first line that is "}".
  lines=$(awk '/^int main\(/ {in_main = 1} in_main {n++} in_main && /^}/ {print n; exit}' "$f")
  if [[ -n $lines ]] && (( lines >= 80 )); then echo "$f: main is $lines lines (under 80)"; status=1; fi
done
exit $status
