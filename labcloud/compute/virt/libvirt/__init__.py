"""Real guests: nova's libvirt driver, in labcloud's size.

``driver.py`` (LibvirtDriver, the ComputeDriver methods) sits on ``domains.py`` (one host's
domains and their files), ``guest.py`` (a guest described and written as domain XML),
``disks.py`` (qcow2 overlays with qemu-img), ``imagecache.py`` (images cached per host),
``host.py`` (the connection, the daemons, the KVM-or-TCG probe) and ``image.py`` with
``tiny-image.sh`` (the tiny bootable guest built from Debian packages).
"""
