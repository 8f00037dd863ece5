#!/usr/bin/env bash
# Install dispatch as a systemd service on Debian/Ubuntu, from a checkout, as root:
#   sudo deploy/install.sh [--simulator]
# Run it again to upgrade: it reinstalls the package, units and files of its own, and never
# touches the operator's /etc/dispatch/dispatch.toml, /etc/default/dispatch or credentials.
#   --simulator  also install and start dispatch-simulator.service (staging hosts only)
#   --root DIR   (or DESTDIR=DIR) install the files under DIR and create the user and
#                directories there (systemd-sysusers/tmpfiles --root); no apt-get, no
#                virtual environment, no systemctl: tests/deploy/test_units.py uses it.
set -euo pipefail

readonly PREFIX=/opt/dispatch
readonly VENV=$PREFIX/venv
readonly REDIS_SNIPPET=/etc/redis/dispatch.conf
readonly REDIS_CONF=/etc/redis/redis.conf

source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly source_dir
root=${DESTDIR:-}
simulator=no
build_dir=""
trap cleanup EXIT

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

die() {
    echo "install.sh: $*" >&2
    exit 1
}

parse_args() {
    while (($#)); do
        case $1 in
            --simulator) simulator=yes ;;
            --root)
                (($# >= 2)) || die "--root needs a directory"
                root=$2
                shift
                ;;
            --root=*) root=${1#--root=} ;;
            -h | --help)
                usage
                exit 0
                ;;
            *) die "unknown argument: $1 (--help)" ;;
        esac
        shift
    done
    if [[ -n $root ]]; then
        [[ -d $root ]] || die "--root $root: not a directory"
        root=$(cd "$root" && pwd)
    fi
}

# The host itself, as opposed to a --root tree.
on_host() {
    [[ -z $root ]]
}

check_host() {
    ((EUID == 0)) || die "run as root (sudo $0)"
    [[ -d /run/systemd/system ]] || die "systemd is not running on this host"
    command -v apt-get > /dev/null || die "apt-get not found: Debian or Ubuntu only"
}

install_packages() {
    echo "== Debian packages: python3-venv redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv redis-server > /dev/null
}

# The package, not editable: the service runs what was installed, whatever becomes of the
# checkout. pip reinstalls a project given as a directory, so a second run upgrades. It
# builds in that directory (build/, *.egg-info): a copy, so root leaves nothing in the
# checkout.
install_venv() {
    echo "== $VENV: dispatch from $source_dir"
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    build_dir=$(mktemp -d)
    tar -C "$source_dir" --exclude='*.egg-info' --exclude=__pycache__ \
        -cf - pyproject.toml README.md src | tar -C "$build_dir" -xf -
    "$VENV/bin/python" -m pip install --quiet "$build_dir"
}

cleanup() {
    if [[ -n $build_dir ]]; then rm -rf "$build_dir"; fi
}

# The documentation the units point to (Documentation=file:///opt/dispatch/README.md) and
# the reference of every configuration key.
install_docs() {
    install -d -m 0755 "$root$PREFIX"
    install -m 0644 "$source_dir/README.md" "$root$PREFIX/README.md"
    install -m 0644 "$source_dir/config/dispatch.example.toml" \
        "$root$PREFIX/dispatch.example.toml"
}

# The user (with group redis) and /etc/dispatch, by systemd's own tools, which resolve
# names in the --root tree's /etc/passwd and /etc/group when given one.
install_user_and_dirs() {
    echo "== user dispatch, /etc/dispatch"
    install -D -m 0644 "$source_dir/deploy/sysusers.d/dispatch.conf" \
        "$root/etc/sysusers.d/dispatch.conf"
    install -D -m 0644 "$source_dir/deploy/tmpfiles.d/dispatch.conf" \
        "$root/etc/tmpfiles.d/dispatch.conf"
    systemd-sysusers ${root:+"--root=$root"} "$root/etc/sysusers.d/dispatch.conf"
    apply_tmpfiles
}

apply_tmpfiles() {
    systemd-tmpfiles --create ${root:+"--root=$root"} "$root/etc/tmpfiles.d/dispatch.conf"
}

# $1 installed as $2 with mode $3 unless $2 exists: the operator's file is theirs.
install_if_absent() {
    if [[ -e $2 ]]; then
        echo "   kept $2 (yours)"
    else
        install -m "$3" "$1" "$2"
        echo "   installed $2"
    fi
}

install_config() {
    echo "== configuration"
    install -d -m 0755 "$root/etc/default"
    install_if_absent "$source_dir/deploy/dispatch.toml" "$root/etc/dispatch/dispatch.toml" 0640
    # Read by systemd (root) alone; it may hold a secret.
    install_if_absent "$source_dir/deploy/default/dispatch" "$root/etc/default/dispatch" 0600
    apply_tmpfiles # the TOML's group: dispatch (tmpfiles.d's z line)
}

# The snippet goes last in Debian's redis.conf, so that its values win. Editing that file
# means apt asks about it on an upgrade of redis-server (keep yours: the include stays).
install_redis_config() {
    echo "== Redis: $REDIS_SNIPPET"
    install -D -m 0644 "$source_dir/deploy/redis/dispatch.conf" "$root$REDIS_SNIPPET"
    local conf=$root$REDIS_CONF
    if [[ ! -f $conf ]]; then
        on_host && die "$REDIS_CONF not found: is redis-server installed?"
        echo "   no $conf under $root: include line not added"
        return
    fi
    if ! grep -qxF "include $REDIS_SNIPPET" "$conf"; then
        printf '\n# dispatch (deploy/install.sh)\ninclude %s\n' "$REDIS_SNIPPET" >> "$conf"
        echo "   added 'include $REDIS_SNIPPET' to $REDIS_CONF"
    fi
    if on_host; then
        systemctl restart redis-server.service
    fi
}

install_units() {
    echo "== systemd units"
    local units=(dispatch.service)
    if [[ $simulator == yes ]]; then units+=(dispatch-simulator.service); fi
    local unit
    for unit in "${units[@]}"; do
        install -D -m 0644 "$source_dir/deploy/$unit" "$root/etc/systemd/system/$unit"
    done
    if on_host; then
        systemctl daemon-reload
        # An upgrade: what runs takes the new package and unit (the Redis restart above
        # restarted dispatch before its unit was reinstalled). try-restart leaves a
        # stopped dispatch stopped; the first install starts nothing.
        systemctl try-restart dispatch.service
        if [[ $simulator == yes ]]; then
            systemctl enable dispatch-simulator.service
            systemctl restart dispatch-simulator.service
        fi
    fi
}

next_steps() {
    cat << EOF

Installed. Next steps:
  1. The gateway's password, as a credential (type it, then Ctrl-D):
       sh -c 'umask 077; cat > /etc/dispatch/credentials/gateway.operator.password'
  2. The gateway's host, port and account: /etc/dispatch/dispatch.toml
     (every key: $PREFIX/dispatch.example.toml).
  3. systemctl enable --now dispatch
     systemctl status dispatch; journalctl -u dispatch -f
EOF
}

main() {
    parse_args "$@"
    umask 022 # the venv and files are read by the service's users, whatever root's umask
    if on_host; then
        check_host
        install_packages
        install_venv
    fi
    install_docs
    install_user_and_dirs
    install_config
    install_redis_config
    install_units
    next_steps
}

main "$@"
