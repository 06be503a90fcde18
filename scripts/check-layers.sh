#!/bin/bash
# The library's one-way dependency rule: a file in libcontrol/<layer>/ may
# include only its own layer and the layers below it, in this order.
# Prints every include that breaks the rule; exit 1 if there is one.
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(base control wal slru cluster pages catalogs plan reset salvage)
status=0
for i in "${!layers[@]}"; do
  for f in libcontrol/"${layers[$i]}"/*; do
    while IFS= read -r inc; do
      target=${inc%%/*}
      allowed=0
      for j in $(seq 0 "$i"); do [[ ${layers[$j]} == "$target" ]] && allowed=1; done
      if [[ $allowed == 0 ]]; then
        echo "$f includes libcontrol/$inc: ${layers[$i]} must not depend on $target"
        status=1
      fi
    done < <(grep -oP '#include "libcontrol/\K[^"]+' "$f" || true)
  done
done
for f in libcontrol/*; do
  [[ -d $f || $f == libcontrol/CMakeLists.txt ]] && continue
  echo "$f is outside every layer"; status=1
done
exit $status
