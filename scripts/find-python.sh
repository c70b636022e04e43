#!/usr/bin/env sh
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 runs on 3.8-3.10 only): PATH first, then pyenv.
is_310() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' >/dev/null 2>&1; }
for candidate in "$PYTHON310" python3.10 python3 python; do
  [ -n "$candidate" ] || continue
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if is_310 "$path"; then echo "$path"; exit 0; fi
done
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
for path in $(ls -d "$root"/versions/3.10.*/bin/python 2>/dev/null | sort -V -r); do
  if is_310 "$path"; then echo "$path"; exit 0; fi
done
echo "No Python 3.10 found: install Python 3.10 (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv') or set PYTHON310=/path/to/python3.10." >&2
exit 1
