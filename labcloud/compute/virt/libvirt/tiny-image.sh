#!/bin/sh
# Build the tiny guest's initramfs from Debian packages only: busybox (or busybox-static)
# for every program, the virtio (and ACPI power button) modules of the installed Debian kernel.
# Usage: tiny-image.sh KERNEL_VERSION OUT.cpio   (image.py calls it and caches the result;
# editing this file changes the cache key, so the image is rebuilt)
set -eu
kver=$1
out=$2
modules=/lib/modules/$kver
busybox=/bin/busybox
[ -x "$busybox" ] || { echo "busybox is not installed" >&2; exit 1; }
[ -d "$modules" ] || { echo "no modules for kernel $kver in $modules" >&2; exit 1; }

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp" \
    "$root/etc/acpi/PWRF" "$root/www" "$root/lib/modules" "$root/usr/share/udhcpc"
cp "$busybox" "$root/bin/busybox"
# Debian's busybox is linked with libc (busybox-static is not): bring the libraries along
for lib in $(ldd "$busybox" 2>/dev/null | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done

# each module after the modules it needs (modules.dep lists those last-needed first)
: > "$root/lib/modules/load"
for want in virtio_pci virtio_net virtio_blk virtio_console button evdev; do
    line=$(grep -E "/$want\.ko(\.xz|\.zst)?:" "$modules/modules.dep") || {
        echo "module $want not found for $kver" >&2; exit 1; }
    deps=$(echo "${line#*:}" | tr ' ' '\n' | sed '/^$/d' | tac)
    for path in $deps "${line%%:*}"; do
        name=$(basename "$path")
        grep -qx "$name" "$root/lib/modules/load" && continue
        case $path in
        *.xz) xz -dc "$modules/$path" > "$root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
        *.zst) zstd -qdc "$modules/$path" > "$root/lib/modules/${name%.zst}"; name=${name%.zst} ;;
        *) cp "$modules/$path" "$root/lib/modules/$name" ;;
        esac
        echo "$name" >> "$root/lib/modules/load"
    done
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /lib/modules/load); do insmod /lib/modules/$m 2>/dev/null; done
name=$(sed -n 's/.*labcloud.hostname=\([^ ]*\).*/\1/p' /proc/cmdline)
hostname "${name:-labcloud-guest}"
echo "labcloud-guest: $(hostname) booted kernel $(uname -r)"
ip link set lo up
ip link set eth0 up 2>/dev/null &&
    udhcpc -i eth0 -q -n -t 10 -T 1 -s /usr/share/udhcpc/default.script >/dev/null 2>&1
echo "labcloud-guest: address $(cat /run/address 2>/dev/null || echo none) on eth0"
echo "hello from labcloud guest $(hostname)" > /www/index.html
httpd -p 80 -h /www
mkdir -p /var/log && acpid -c /etc/acpi
echo "labcloud-guest: http $(wget -q -O - http://127.0.0.1/)"
echo "labcloud-guest: disks $(ls /sys/block | grep vd | tr '\n' ' ')"
echo "labcloud-guest: ready"
exec /bin/busybox init
INIT
chmod +x "$root/init"

cat > "$root/usr/share/udhcpc/default.script" <<'DHCP'
#!/bin/sh
# udhcpc's hook: configure the lease it got (bound/renew), nothing else
case $1 in
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "${router:-}" ] && ip route add default via "${router%% *}" dev "$interface"
    echo "$ip/${mask:-24}" > /run/address ;;
esac
DHCP
chmod +x "$root/usr/share/udhcpc/default.script"

# the ACPI power button (a soft reboot or stop from nova) powers the guest off at once
printf '#!/bin/sh\necho "labcloud-guest: power button: powering off"\npoweroff -f\n' \
    > "$root/etc/acpi/PWRF/00000080"
chmod +x "$root/etc/acpi/PWRF/00000080"
printf '::ctrlaltdel:/bin/reboot -f\n::shutdown:/bin/echo "labcloud-guest: shutting down"\n' \
    > "$root/etc/inittab"

(cd "$root" && find . | cpio -o -H newc --quiet) > "$out.tmp"
mv "$out.tmp" "$out"
