# shellcheck shell=bash
# Cached Python venvs for the tools the scripts install from PyPI (LocalStack, the API
# schema checks). A venv is rebuilt only when its requirements file changes.
#
#   source scripts/lib/venv.sh
#   venv_ensure <venv_dir> <requirements.txt> <label> <check command...>
#       creates <venv_dir> with python3.11 (else python3 >= 3.10), pip-installs the pinned
#       requirements, runs the check command with the venv's bin/ first on PATH, and records
#       the requirements' sha256; when the recorded sha256 matches, it does nothing.
#       Progress goes to stderr, pip's output to <venv_dir>-install.log.

_venv_python() {
  local py
  for py in python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      printf '%s\n' "$py"
      return 0
    fi
  done
  return 1
}

venv_ensure() {
  local venv="$1" requirements="$2" label="$3" marker want have py log t0
  shift 3
  marker="$venv/.stockflow-requirements.sha256"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  have="$(cat "$marker" 2>/dev/null || true)"
  if [ -x "$venv/bin/python" ] && [ "$have" = "$want" ]; then
    printf '[%s] venv ready (cached): %s\n' "$label" "$venv" >&2
    return 0
  fi
  py="$(_venv_python)" || { printf '[%s] ERROR: python3.11 (or python3 >= 3.10) not found\n' "$label" >&2; return 1; }
  mkdir -p "$(dirname "$venv")"
  log="$venv-install.log"
  t0=$(date +%s)
  printf '[%s] creating venv with %s (%s): %s\n' "$label" "$py" "$("$py" --version 2>&1)" "$venv" >&2
  rm -rf "$venv"
  if ! "$py" -m venv "$venv" >"$log" 2>&1; then
    printf '[%s] ERROR: venv creation failed; see %s\n' "$label" "$log" >&2; tail -n 20 "$log" >&2; return 1
  fi
  printf '[%s] pip install -r %s (log: %s) ...\n' "$label" "$requirements" "$log" >&2
  if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -r "$requirements" >>"$log" 2>&1; then
    printf '[%s] ERROR: pip install failed; last lines of %s:\n' "$label" "$log" >&2; tail -n 30 "$log" >&2
    return 1
  fi
  if ! PATH="$venv/bin:$PATH" "$@" >>"$log" 2>&1; then
    printf '[%s] ERROR: the installed tools do not run (%s); see %s\n' "$label" "$*" "$log" >&2; tail -n 20 "$log" >&2
    return 1
  fi
  printf '%s\n' "$want" >"$marker"
  printf '[%s] venv installed in %s s\n' "$label" "$(( $(date +%s) - t0 ))" >&2
}
