# ds01 Python setup: a Python that can make virtual environments, and the user's venv.
#
# Runs as root under POSIX sh in a Dockerfile RUN, in one of two modes:
#   interpreter   make sure `python3 -m venv` works: use the image's python3 when it can,
#                 else install python3 and its venv module with the distribution's package
#                 manager. Touches nothing of the user's, so the layer is shared by all users.
#   venv          create the virtual environment (with access to the image's own packages,
#                 e.g. a preinstalled torch), put it first on PATH for login shells, and give
#                 it to the user of DS01_USER_ID/DS01_GROUP_ID when those are set. When the
#                 build context carried ca-certificates.crt (the admin's), the venv's pip
#                 trusts it.
# The image's own Python is never changed: packages go into the venv, never with
# --break-system-packages into the system's site-packages (PEP 668).
set -eu

venv=/opt/ds01/venv
probe=/tmp/ds01-venv-probe
# Certificates the admin's builds trust (a TLS-intercepting proxy's CA), when ds01d has any.
ca=/usr/local/lib/ds01/python/ca-certificates.crt

fail() {
  printf 'DS01: error: %s\n' "$*" >&2
  exit 1
}

can_make_venv() {
  command -v python3 >/dev/null 2>&1 || return 1
  rm -rf "$probe"
  if python3 -m venv "$probe" >/dev/null 2>&1 && [ -x "$probe/bin/pip" ]; then
    rm -rf "$probe"
    return 0
  fi
  rm -rf "$probe"
  return 1
}

install_python() {
  if command -v apt-get >/dev/null 2>&1; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv
    rm -rf /var/lib/apt/lists/*
  elif command -v dnf >/dev/null 2>&1; then
    dnf install -y python3 && dnf clean all
  elif command -v microdnf >/dev/null 2>&1; then
    microdnf install -y python3 && microdnf clean all
  elif command -v yum >/dev/null 2>&1; then
    yum install -y python3 && yum clean all
  elif command -v apk >/dev/null 2>&1; then
    apk add --no-cache python3
  elif command -v zypper >/dev/null 2>&1; then
    zypper --non-interactive install python3
  else
    fail "the image has no python3 that can create a virtual environment, and none of the package managers ds01 knows (apt-get, dnf, microdnf, yum, apk, zypper) to install one; use a base image with python3 and its venv module"
  fi
}

case ${1-} in
  interpreter)
    if can_make_venv; then
      echo "DS01: using the image's $(python3 --version 2>&1) ($(command -v python3))"
    else
      echo "DS01: the image has no python3 with a working venv module; installing one"
      install_python || fail "installing python3 and its venv module with the image's package manager failed (see the lines above)"
      can_make_venv || fail "python3 was installed but 'python3 -m venv' still fails; use a base image with python3 and its venv module"
      echo "DS01: installed $(python3 --version 2>&1)"
    fi
    ;;
  venv)
    if [ ! -x "$venv/bin/python" ]; then
      mkdir -p "${venv%/*}"
      python3 -m venv --system-site-packages "$venv" || fail "'python3 -m venv $venv' failed"
    fi
    if [ -s "$ca" ]; then
      # pip in the venv (at build time and later, as the user) trusts the admin's CAs.
      printf '[global]\ncert = %s\n' "$ca" >"$venv/pip.conf"
      chmod 0644 "$ca"
    fi
    mkdir -p /etc/profile.d
    # /etc/profile resets PATH for login shells; this puts the venv back in front.
    cat >/etc/profile.d/ds01-venv.sh <<'PROFILE'
case ":$PATH:" in
  *":/opt/ds01/venv/bin:"*) ;;
  *) PATH="/opt/ds01/venv/bin:$PATH" ;;
esac
VIRTUAL_ENV=/opt/ds01/venv
export PATH VIRTUAL_ENV
PROFILE
    if [ -n "${DS01_USER_ID-}" ] && [ -n "${DS01_GROUP_ID-}" ]; then
      chown -R "$DS01_USER_ID:$DS01_GROUP_ID" "$venv"
      echo "DS01: virtual environment $venv belongs to $DS01_USER_ID:$DS01_GROUP_ID"
    else
      echo "DS01: virtual environment $venv (no user baked in: it belongs to root)"
    fi
    ;;
  *) fail "usage: python-setup.sh interpreter|venv" ;;
esac
