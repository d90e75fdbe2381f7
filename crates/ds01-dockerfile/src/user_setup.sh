# ds01 user setup: makes the host user an account of this image.
#
# Runs as root under POSIX sh, in a Dockerfile RUN (inputs from build args) or in a setup
# container (inputs from its environment). Inputs come only from the environment, never from
# text pasted into this script:
#   DS01_USER_ID    numeric UID of the host user
#   DS01_GROUP_ID   numeric primary GID of the host user
#   DS01_USERNAME   container account name (as ds01_username::Username allows)
#   DS01_SUDO       1 to grant the account passwordless sudo; anything else grants none
# Safe to run again on an image where the user already exists.
set -eu

fail() {
  printf 'DS01: error: %s\n' "$*" >&2
  exit 1
}

uid=${DS01_USER_ID-}
gid=${DS01_GROUP_ID-}
user=${DS01_USERNAME-}

# --- inputs ---------------------------------------------------------------------------------
# Checked before anything is touched, so an image can never claim a user it does not have.

check_id() { # NAME VALUE
  case $2 in
    '') fail "$1 is not set; pass it as a build argument (--build-arg $1=<number>) or in the environment" ;;
    *[!0-9]*) fail "$1 must be a number, got '$2'" ;;
    0*) fail "$1 must be a positive number without leading zeros, got '$2' (0 would be root)" ;;
  esac
  # At most 10 digits keeps the comparison inside the shell's integer range.
  if [ ${#2} -gt 10 ] || [ "$2" -gt 4294967294 ]; then
    fail "$1 is too large: $2"
  fi
}
check_id DS01_USER_ID "$uid"
check_id DS01_GROUP_ID "$gid"

case $user in
  '') fail "DS01_USERNAME is not set; pass it as a build argument (--build-arg DS01_USERNAME=<name>) or in the environment" ;;
  -* | *- | *[!A-Za-z0-9_-]*) fail "DS01_USERNAME '$user' is not a valid account name (letters, digits, '_' and '-', not starting or ending with '-')" ;;
esac
case $user in
  *[!0-9]*) ;;
  *) fail "DS01_USERNAME '$user' is all digits, which tools would read as a UID" ;;
esac
if [ ${#user} -gt 32 ]; then
  fail "DS01_USERNAME '$user' is longer than 32 characters"
fi

# --- tools ----------------------------------------------------------------------------------

need() {
  command -v "$1" >/dev/null 2>&1 ||
    fail "'$1' is not installed in this image, so ds01 cannot set up the user; use a base image that has it (Debian/Ubuntu package 'passwd')"
}
need useradd
need groupadd

# --- lookups --------------------------------------------------------------------------------
# Plain sh over /etc/passwd and /etc/group: images are files-only, and this needs no getent/awk.

field_by() { # FILE KEY-FIELD KEY WANT-FIELD: WANT-FIELD of the first line whose KEY-FIELD is KEY
  while IFS=: read -r f1 f2 f3 f4 f5 f6 f7 || [ -n "$f1" ]; do
    pick "$2"
    if [ "$picked" = "$3" ]; then
      pick "$4"
      printf '%s\n' "$picked"
      return 0
    fi
  done <"$1"
  return 0
}
pick() { # N: sets $picked to field N of the line field_by is reading
  case $1 in
    1) picked=$f1 ;;
    3) picked=$f3 ;;
    4) picked=$f4 ;;
    6) picked=$f6 ;;
  esac
}

group_at_gid=$(field_by /etc/group 3 "$gid" 1)
gid_of_group=$(field_by /etc/group 1 "$user" 3)
account_at_uid=$(field_by /etc/passwd 3 "$uid" 1)
uid_of_account=$(field_by /etc/passwd 1 "$user" 3)

if [ -n "$gid_of_group" ] && [ "$gid_of_group" != "$gid" ]; then
  fail "the image already has a group named '$user' with GID $gid_of_group, not $gid; ds01 will not take it over"
fi
if [ -n "$uid_of_account" ] && [ "$uid_of_account" != "$uid" ]; then
  fail "the image already has an account named '$user' with UID $uid_of_account, not $uid; ds01 will not take it over"
fi
if [ -n "$account_at_uid" ] && [ "$account_at_uid" != "$user" ] && [ "$uid" -lt 1000 ]; then
  fail "UID $uid belongs to the system account '$account_at_uid' in this image; ds01 will not rename a system account"
fi

# Every tool a rename needs is checked now, before the first change.
if [ -n "$group_at_gid" ] && [ "$group_at_gid" != "$user" ] && [ "$gid" -ge 1000 ]; then
  need groupmod
fi
if [ -n "$account_at_uid" ]; then
  need usermod
fi

home=/home/$user
shell=/bin/sh
if [ -x /bin/bash ]; then shell=/bin/bash; fi

echo "DS01: setting up user $user (UID=$uid, GID=$gid)"

# --- group ----------------------------------------------------------------------------------

if [ -z "$group_at_gid" ]; then
  groupadd -g "$gid" "$user"
elif [ "$group_at_gid" != "$user" ]; then
  if [ "$gid" -lt 1000 ]; then
    # A shared system group such as 'users' (100): join it as it is.
    echo "DS01: using the existing group '$group_at_gid' (GID $gid)"
  else
    echo "DS01: renaming group '$group_at_gid' (GID $gid) to '$user'"
    groupmod -n "$user" "$group_at_gid"
  fi
fi

# --- account --------------------------------------------------------------------------------
# --no-log-init: shadow 4.8 writes lastlog/faillog records at offset UID x record size, which
# for LDAP UIDs (1722830498) makes a file of hundreds of GB in the layer.

if [ -z "$account_at_uid" ]; then
  useradd --no-log-init -u "$uid" -g "$gid" -m -d "$home" -s "$shell" "$user"
elif [ "$account_at_uid" != "$user" ]; then
  echo "DS01: renaming account '$account_at_uid' (UID $uid) to '$user', home $home"
  usermod -l "$user" -d "$home" -m "$account_at_uid"
fi
# The account may predate this run (renamed, or set up before): make it match.
current_gid=$(field_by /etc/passwd 1 "$user" 4)
current_home=$(field_by /etc/passwd 1 "$user" 6)
if [ "$current_gid" != "$gid" ] || [ "$current_home" != "$home" ]; then
  usermod -g "$gid" -d "$home" "$user"
fi

for log in /var/log/lastlog /var/log/faillog; do
  if [ -e "$log" ]; then : >"$log"; fi
done

# --- home -----------------------------------------------------------------------------------

mkdir -p "$home/.local/bin"
bashrc=$home/.bashrc
: >>"$bashrc"
if [ -s "$bashrc" ] && [ -n "$(tail -c 1 "$bashrc")" ]; then
  echo >>"$bashrc" # end the last line, or the first added line would join it
fi

has_line() { # FILE LINE
  while IFS= read -r existing || [ -n "$existing" ]; do
    if [ "$existing" = "$2" ]; then return 0; fi
  done <"$1"
  return 1
}
add_line() { # FILE LINE: append unless already there, so a second run changes nothing
  if ! has_line "$1" "$2"; then printf '%s\n' "$2" >>"$1"; fi
}
add_line "$bashrc" 'export PATH="$HOME/.local/bin:$PATH"'
add_line "$bashrc" "export HOME=$home"
add_line "$bashrc" "export PS1='[\\h] \\u@ds01:\\w\\\$ '"

chown -R "$uid:$gid" "$home"

# --- sudo -----------------------------------------------------------------------------------
# sudo skips files in /etc/sudoers.d whose names contain '.', and usernames never do. The rule
# is written only when the policy of the image's owner allows sudo (DS01_SUDO=1); otherwise
# any rule the base image brought for this name is taken out, so no grant lies in wait for a
# later policy or another runtime.

rule=/etc/sudoers.d/$user
if [ "${DS01_SUDO-}" = 1 ] && command -v sudo >/dev/null 2>&1; then
  mkdir -p /etc/sudoers.d
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$user" >"$rule.tmp"
  chmod 0440 "$rule.tmp"
  if command -v visudo >/dev/null 2>&1 && ! visudo -cqf "$rule.tmp" >/dev/null 2>&1; then
    rm -f "$rule.tmp"
    fail "the sudo rule for '$user' did not pass visudo's check"
  fi
  mv "$rule.tmp" "$rule"
else
  rm -f "$rule" "$rule.tmp"
fi

echo "DS01: user setup complete"
