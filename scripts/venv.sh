# Sourced: `venv_for TOOL_DIR VENV_DIR` makes VENV_DIR a Python virtual environment holding
# exactly the packages TOOL_DIR/requirements.txt pins (a lock: every package at its version).
venv_for() {
  local tool="$1" venv="$2"
  if ! diff -q <("$venv/bin/pip" freeze 2>/dev/null | sort -f) <(grep -v '^#' "$tool/requirements.txt" | sort -f) >/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r "$tool/requirements.txt"
  fi
}
